/*
 * src/core/fingerprint.cpp
 *
 * See upkeep/core/fingerprint.hpp.  Integers in the encoding are written
 * little-endian explicitly, so fingerprints agree across architectures.
 */
#define UPKEEP_CORE_TU 1
#include "upkeep/core/fingerprint.hpp"

#include <cstring>
#include <stdexcept>

#include <xxhash.h>

namespace upkeep::core {

namespace {

int
HexDigit(char c) {
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

} // namespace

std::string
Hash128::Hex() const {
	static const char kDigits[] = "0123456789abcdef";
	std::string out(32, '0');
	for (int i = 0; i < 16; i++) {
		out[15 - i] = kDigits[(hi >> (4 * i)) & 0xf];
		out[31 - i] = kDigits[(lo >> (4 * i)) & 0xf];
	}
	return out;
}

Hash128
Hash128::FromHex(const std::string &hex) {
	if (hex.size() != 32)
		throw std::invalid_argument("a 128-bit hash has 32 hex digits");
	Hash128 h;
	for (int i = 0; i < 32; i++) {
		int d = HexDigit(hex[i]);
		if (d < 0)
			throw std::invalid_argument("not a hex digit in hash");
		if (i < 16)
			h.hi = (h.hi << 4) | static_cast<uint64_t>(d);
		else
			h.lo = (h.lo << 4) | static_cast<uint64_t>(d);
	}
	return h;
}

std::string
Hash128::Decimal() const {
	/* repeated division of the 128-bit value by 10 (two 64-bit words; the divisor is small) */
	uint64_t hi = this->hi, lo = this->lo;
	std::string out;
	do {
		const unsigned __int128 v = (static_cast<unsigned __int128>(hi) << 64) | lo;
		const unsigned __int128 q = v / 10;
		out.push_back(static_cast<char>('0' + static_cast<int>(v - q * 10)));
		hi = static_cast<uint64_t>(q >> 64);
		lo = static_cast<uint64_t>(q);
	} while (hi != 0 || lo != 0);
	return std::string(out.rbegin(), out.rend());
}

Hash128
Hash128::FromDecimalModulo(const std::string &digits) {
	if (digits.empty())
		throw std::invalid_argument("empty decimal number");
	unsigned __int128 v = 0; /* arithmetic modulo 2^128: wrapping is the point */
	for (char c : digits) {
		if (c < '0' || c > '9')
			throw std::invalid_argument("not a non-negative decimal integer: " + digits);
		v = v * 10 + static_cast<unsigned>(c - '0');
	}
	return Hash128{static_cast<uint64_t>(v), static_cast<uint64_t>(v >> 64)};
}

void
RowEncoder::TooLong() {
	throw std::length_error("value too long for the row encoding");
}

Hash128
RowEncoder::Finish() const {
	const XXH128_hash_t h = XXH3_128bits(buf_.data(), len_);
	return Hash128{h.low64, h.high64};
}

namespace {

uint64_t
LoadLittleEndian(const unsigned char *p) {
	uint64_t v = 0;
	for (int k = 7; k >= 0; k--)
		v = (v << 8) | p[k];
	return v;
}

} // namespace

void
Fingerprint::ToState(unsigned char *out) const {
	StoreLittleEndian(out, sum_.lo, 8);
	StoreLittleEndian(out + 8, sum_.hi, 8);
	StoreLittleEndian(out + 16, rows_, 8);
}

Fingerprint
Fingerprint::FromState(const unsigned char *in) {
	Fingerprint f;
	f.sum_.lo = LoadLittleEndian(in);
	f.sum_.hi = LoadLittleEndian(in + 8);
	f.rows_ = LoadLittleEndian(in + 16);
	return f;
}

} // namespace upkeep::core
