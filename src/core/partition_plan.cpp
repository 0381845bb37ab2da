/*
 * src/core/partition_plan.cpp
 *
 * See upkeep/core/partition_plan.hpp.
 */
#include "upkeep/core/partition_plan.hpp"

namespace upkeep::core {

std::vector<size_t>
ExpiredPartitions(const std::vector<int64_t> &uppers, int64_t cutoff) {
	std::vector<size_t> expired;
	for (size_t i = 0; i + 1 < uppers.size(); i++) /* never the newest one */
		if (uppers[i] <= cutoff)
			expired.push_back(i);
	return expired;
}

MonthWindow
PremakeWindow(YearMonth now, int premake, YearMonth cutoff_month, const std::vector<PartitionMonths> &retained) {
	MonthWindow w{now, AddMonths(now, premake)};
	for (const PartitionMonths &p : retained) {
		if (p.first && *p.first < w.first)
			w.first = *p.first < cutoff_month ? cutoff_month : *p.first;
		if (p.last && w.last < *p.last)
			w.last = *p.last;
	}
	return w;
}

} // namespace upkeep::core
