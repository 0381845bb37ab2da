/*
 * upkeep/core/partition_plan.hpp
 *
 * Which partitions of a monthly set expire, and which months premake keeps
 * covered: the two rules every run, the status view and archive_table share,
 * as pure functions over bounds and months (the pg layer turns partition
 * bounds into months in the policy's zone first).
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "upkeep/core/calendar.hpp"
#include "upkeep/core/no_postgres.hpp"

namespace upkeep::core {

/*
 * The expired partitions of a set: indexes into `uppers`, the exclusive
 * upper bounds of its range partitions (no DEFAULT) in bound order.  A
 * partition expires when all of it is before the cutoff (upper <= cutoff);
 * the newest one never does, so rows keep a partition to go to.
 */
std::vector<size_t> ExpiredPartitions(const std::vector<int64_t> &uppers, int64_t cutoff);

/* The months a retained partition spans: its lower bound's and its last instant's (nullopt: unbounded). */
struct PartitionMonths {
	std::optional<YearMonth> first;
	std::optional<YearMonth> last;
};

struct MonthWindow {
	YearMonth first;
	YearMonth last; /* inclusive */
};

/*
 * The months premake makes sure exist: from the oldest retained partition
 * (but not before the cutoff's month), or now, to the newest partition or
 * now + premake, whichever is later.  `retained`: the set's range partitions
 * not wholly before the cutoff.
 */
MonthWindow PremakeWindow(YearMonth now, int premake, YearMonth cutoff_month,
                          const std::vector<PartitionMonths> &retained);

/* Premake never makes more than this many months in one go. */
constexpr int64_t kMaxPremakeMonths = 1200;

} // namespace upkeep::core
