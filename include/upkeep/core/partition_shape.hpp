/*
 * upkeep/core/partition_shape.hpp
 *
 * What a partition set looks like to premake and partition retention, in a
 * few numbers: the key range its non-default partitions cover without a gap,
 * and the lowest upper bound among them.  From these two facts alone a run
 * can tell, without reading a single partition bound, that premake has no
 * month to create and retention no partition to expire -- the steady state
 * of a well-kept set, which is what almost every run of a scheduler sees.
 *
 * Keys are in the partition key's unit (days for date, microseconds for
 * timestamp/timestamptz); MINVALUE and MAXVALUE are INT64_MIN and INT64_MAX.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "upkeep/core/no_postgres.hpp"

namespace upkeep::core {

/* One non-default partition: [lower, upper). */
struct KeyRange {
	int64_t lower = 0;
	int64_t upper = 0;
};

struct PartitionShape {
	int kind = 0; /* the key's kind, as the pg layer numbers it */
	bool has_default = false;
	int count = 0;           /* non-default partitions */
	bool contiguous = false; /* they cover [from, to) with no gap (false when there are none) */
	int64_t from = 0, to = 0;
	int64_t min_upper = 0; /* the lowest upper bound among them */
};

PartitionShape SummarizeShape(int kind, bool has_default, std::vector<KeyRange> ranges);

/* Premake has nothing to create: the set covers every key in [need_from, need_to) without a gap. */
bool CoversWithoutGap(const PartitionShape &s, int64_t need_from, int64_t need_to);
/* Retention has nothing to expire: no partition ends at or before the cutoff. */
bool NothingExpires(const PartitionShape &s, int64_t cutoff);

/* A stored form, "v1 kind default count contiguous from to min_upper", and back (nullopt when malformed). */
std::string EncodeShape(const PartitionShape &s);
std::optional<PartitionShape> DecodeShape(const std::string &text);

} // namespace upkeep::core
