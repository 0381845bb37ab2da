/*
 * upkeep/core/fingerprint.hpp
 *
 * Order-independent content hashes of sets of rows.
 *
 * Each row is written in a canonical encoding -- for every column, in
 * order: its 1-based position, a tag (NULL, binary or text form) and the
 * length-prefixed bytes of its value -- and hashed with XXH3-128.  Row
 * hashes are combined by addition modulo 2^128, so the result does not
 * depend on row order, a duplicated row counts twice, and a swap of values
 * between rows or columns changes it (the position is part of each value's
 * encoding and each row is hashed as a whole).  Never XOR: XOR cancels
 * duplicate rows.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "upkeep/core/no_postgres.hpp"

namespace upkeep::core {

struct Hash128 {
	uint64_t lo = 0;
	uint64_t hi = 0;

	bool
	operator==(const Hash128 &o) const {
		return lo == o.lo && hi == o.hi;
	}
	bool
	operator!=(const Hash128 &o) const {
		return !(*this == o);
	}
	/* Addition modulo 2^128. */
	Hash128 &
	operator+=(const Hash128 &o) {
		const uint64_t old = lo;
		lo += o.lo;
		hi += o.hi + (lo < old ? 1 : 0);
		return *this;
	}
	/* 32 lowercase hex digits, most significant first. */
	std::string Hex() const;
	/* Parses Hex(); throws std::invalid_argument. */
	static Hash128 FromHex(const std::string &hex);
	/* The value as an unsigned decimal number (a numeric that sums exactly). */
	std::string Decimal() const;
	/*
	 * A non-negative decimal integer modulo 2^128: a sum of Decimal() values
	 * maps back to the sum of the hashes.  Throws std::invalid_argument.
	 */
	static Hash128 FromDecimalModulo(const std::string &digits);
};

/* Builds the canonical encoding of one row, then hashes it. Reusable across rows. */
/*
 * The low `n` (at most 8) bytes of `v`, least significant first, whatever the
 * machine: one store where the machine is little-endian.  Fingerprints agree
 * across architectures.
 */
inline void
StoreLittleEndian(void *out, uint64_t v, size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	std::memcpy(out, &v, n);
#else
	unsigned char *p = static_cast<unsigned char *>(out);
	for (size_t k = 0; k < n; k++)
		p[k] = static_cast<unsigned char>((v >> (8 * k)) & 0xff);
#endif
}

class RowEncoder {
  public:
	enum Tag : uint8_t { kNull = 0, kBinary = 1, kText = 2 };

	RowEncoder() : buf_(256) {}
	void
	Begin() {
		len_ = 0;
	}
	void
	AddNull(uint32_t position) {
		char *p = Reserve(5);
		PutU32(p, position);
		p[4] = static_cast<char>(kNull);
		len_ += 5;
	}
	/* Inline: called once per column of every row of a table scan. */
	void
	AddValue(uint32_t position, Tag tag, const void *data, size_t len) {
		if (len > 0xffffffffu)
			TooLong();
		char *p = Reserve(9 + len);
		PutU32(p, position);
		p[4] = static_cast<char>(tag);
		PutU32(p + 5, static_cast<uint32_t>(len));
		if (len > 0)
			std::memcpy(p + 9, data, len);
		len_ += 9 + len;
	}
	Hash128 Finish() const;
	/* The encoding so far (tests). */
	std::string
	Bytes() const {
		return std::string(buf_.data(), len_);
	}

  private:
	static void
	PutU32(char *p, uint32_t v) {
		StoreLittleEndian(p, v, 4);
	}
	char *
	Reserve(size_t n) {
		if (__builtin_expect(len_ + n > buf_.size(), 0))
			buf_.resize(std::max(buf_.size() * 2, len_ + n));
		return buf_.data() + len_;
	}
	[[noreturn]] static void TooLong();
	std::vector<char> buf_;
	size_t len_ = 0;
};

/* Sum of row hashes and row count. */
class Fingerprint {
  public:
	void
	Add(const Hash128 &row) {
		sum_ += row;
		rows_++;
	}
	void
	Merge(const Fingerprint &o) {
		sum_ += o.sum_;
		rows_ += o.rows_;
	}
	uint64_t
	Rows() const {
		return rows_;
	}
	const Hash128 &
	Sum() const {
		return sum_;
	}
	std::string
	Hex() const {
		return sum_.Hex();
	}

	/*
	 * The state of the fingerprint aggregate as bytes: the sum's low and high
	 * words and the row count, each 8 bytes little-endian, whatever the
	 * machine -- states travel between nodes (Citus) and parallel workers.
	 */
	static constexpr size_t kStateBytes = 24;
	void ToState(unsigned char *out) const;
	/* Parses ToState's bytes. */
	static Fingerprint FromState(const unsigned char *in);

  private:
	Hash128 sum_;
	uint64_t rows_ = 0;
};

} // namespace upkeep::core
