/*
 * src/core/naming.cpp
 *
 * Identifier fitting for partition and archive names (see naming.hpp).
 */
#define UPKEEP_CORE_TU 1
#include "upkeep/core/naming.hpp"

#include <cstdio>
#include <stdexcept>

#include <xxhash.h>

namespace upkeep::core {

size_t
Utf8Clip(std::string_view s, size_t limit) {
	if (s.size() <= limit)
		return s.size();
	size_t len = limit;
	/* Back off continuation bytes (10xxxxxx) so the cut lands before a lead byte. */
	while (len > 0 && (static_cast<unsigned char>(s[len]) & 0xC0) == 0x80)
		--len;
	return len;
}

std::string
MonthSuffix(YearMonth ym) {
	if (!IsPartitionableMonth(ym))
		throw std::out_of_range("month outside 0001-01 .. 9999-12");
	char buf[16];
	std::snprintf(buf, sizeof(buf), "_%04lld_%02d", static_cast<long long>(ym.year), ym.month);
	return buf;
}

std::string
NameTag(std::string_view name) {
	const XXH64_hash_t h = XXH3_64bits(name.data(), name.size());
	char buf[17];
	std::snprintf(buf, sizeof(buf), "%08llx", static_cast<unsigned long long>(h & 0xffffffffULL));
	return buf;
}

std::string
FitIdentifier(std::string_view base, std::string_view suffix, const ClipFn &clip) {
	if (suffix.size() + 10 > kMaxIdentifierBytes)
		throw std::invalid_argument("identifier suffix too long");
	if (base.size() + suffix.size() <= kMaxIdentifierBytes)
		return std::string(base) + std::string(suffix);
	const std::string tag = "_" + NameTag(base);
	const size_t room = kMaxIdentifierBytes - suffix.size() - tag.size();
	const size_t cut = clip(base, room);
	if (cut > room)
		throw std::logic_error("clip function returned a length over its limit");
	return std::string(base.substr(0, cut)) + tag + std::string(suffix);
}

std::string
PartitionName(std::string_view parent, YearMonth ym, const ClipFn &clip) {
	return FitIdentifier(parent, MonthSuffix(ym), clip);
}

} // namespace upkeep::core
