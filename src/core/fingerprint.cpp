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

void
RowEncoder::TooLong() {
	throw std::length_error("value too long for the row encoding");
}

Hash128
RowEncoder::Finish() const {
	const XXH128_hash_t h = XXH3_128bits(buf_.data(), len_);
	return Hash128{h.low64, h.high64};
}

} // namespace upkeep::core
