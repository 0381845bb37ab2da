/*
 * src/core/partition_shape.cpp
 *
 * The summary of a partition set that lets a run skip a set with nothing to
 * do (see partition_shape.hpp).  Every test errs on the side of "look
 * closer": a set that is not one gap-free run of partitions never counts as
 * covered, so the full check decides.
 */
#define UPKEEP_CORE_TU
#include "upkeep/core/partition_shape.hpp"

#include <algorithm>
#include <sstream>

namespace upkeep::core {

PartitionShape
SummarizeShape(int kind, bool has_default, std::vector<KeyRange> ranges) {
	PartitionShape s;
	s.kind = kind;
	s.has_default = has_default;
	s.count = static_cast<int>(ranges.size());
	if (ranges.empty())
		return s;
	std::sort(ranges.begin(), ranges.end(), [](const KeyRange &a, const KeyRange &b) { return a.lower < b.lower; });
	s.contiguous = true;
	s.from = ranges.front().lower;
	s.to = ranges.front().upper;
	s.min_upper = ranges.front().upper;
	for (size_t i = 1; i < ranges.size(); i++) {
		if (ranges[i].lower != s.to)
			s.contiguous = false;
		s.to = std::max(s.to, ranges[i].upper);
		s.min_upper = std::min(s.min_upper, ranges[i].upper);
	}
	return s;
}

bool
CoversWithoutGap(const PartitionShape &s, int64_t need_from, int64_t need_to) {
	if (need_from >= need_to)
		return true;
	return s.count > 0 && s.contiguous && s.from <= need_from && need_to <= s.to;
}

bool
NothingExpires(const PartitionShape &s, int64_t cutoff) {
	return s.count == 0 || s.min_upper > cutoff;
}

std::string
EncodeShape(const PartitionShape &s) {
	std::ostringstream out;
	out << "v1 " << s.kind << ' ' << (s.has_default ? 1 : 0) << ' ' << s.count << ' ' << (s.contiguous ? 1 : 0) << ' '
	    << s.from << ' ' << s.to << ' ' << s.min_upper;
	return out.str();
}

std::optional<PartitionShape>
DecodeShape(const std::string &text) {
	std::istringstream in(text);
	std::string version;
	PartitionShape s;
	int has_default = 0, contiguous = 0;
	if (!(in >> version) || version != "v1")
		return std::nullopt;
	if (!(in >> s.kind >> has_default >> s.count >> contiguous >> s.from >> s.to >> s.min_upper))
		return std::nullopt;
	std::string rest;
	if (in >> rest || s.count < 0 || (has_default != 0 && has_default != 1) || (contiguous != 0 && contiguous != 1))
		return std::nullopt;
	s.has_default = has_default == 1;
	s.contiguous = contiguous == 1;
	return s;
}

} // namespace upkeep::core
