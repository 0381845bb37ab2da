/*
 * test/unit/partition_plan_test.cpp
 *
 * Expiry never takes the newest partition and takes a partition only when
 * all of it is before the cutoff; premake's window runs from the oldest
 * retained month (not before the cutoff's) or now to the newest partition
 * or now + premake.
 */
#include <gtest/gtest.h>

#include <climits>
#include <vector>

#include "upkeep/core/partition_plan.hpp"

using namespace upkeep::core;

TEST(ExpiredPartitions, WhollyBeforeTheCutoffOnly) {
	/* upper bounds 10, 20, 30, 40: cutoff 20 takes the first two (upper <= cutoff) */
	EXPECT_EQ(ExpiredPartitions({10, 20, 30, 40}, 20), (std::vector<size_t>{0, 1}));
	EXPECT_EQ(ExpiredPartitions({10, 20, 30, 40}, 19), (std::vector<size_t>{0}));
	EXPECT_EQ(ExpiredPartitions({10, 20, 30, 40}, 9), (std::vector<size_t>{}));
}

TEST(ExpiredPartitions, NeverTheNewest) {
	EXPECT_EQ(ExpiredPartitions({10, 20, 30}, 1000), (std::vector<size_t>{0, 1}));
	EXPECT_EQ(ExpiredPartitions({10}, 1000), (std::vector<size_t>{}));
	EXPECT_EQ(ExpiredPartitions({}, 1000), (std::vector<size_t>{}));
}

TEST(ExpiredPartitions, UnboundedAbove) {
	/* a partition open to the future (MAXVALUE) never expires; the one before it can */
	EXPECT_EQ(ExpiredPartitions({10, LLONG_MAX}, 1000), (std::vector<size_t>{0}));
}

TEST(PremakeWindow, NowToPremakeWithNothingRetained) {
	const MonthWindow w = PremakeWindow({2026, 11}, 3, {2026, 8}, {});
	EXPECT_EQ(w.first, (YearMonth{2026, 11}));
	EXPECT_EQ(w.last, (YearMonth{2027, 2}));
}

TEST(PremakeWindow, FromTheOldestRetainedButNotBeforeTheCutoff) {
	std::vector<PartitionMonths> kept = {{YearMonth{2026, 9}, YearMonth{2026, 9}}};
	EXPECT_EQ(PremakeWindow({2026, 11}, 1, {2026, 8}, kept).first, (YearMonth{2026, 9}));
	kept = {{YearMonth{2025, 1}, YearMonth{2026, 9}}}; /* a wide partition reaching back past the cutoff */
	EXPECT_EQ(PremakeWindow({2026, 11}, 1, {2026, 8}, kept).first, (YearMonth{2026, 8}));
	kept = {{std::nullopt, YearMonth{2026, 9}}}; /* unbounded below: no earlier start */
	EXPECT_EQ(PremakeWindow({2026, 11}, 1, {2026, 8}, kept).first, (YearMonth{2026, 11}));
}

TEST(PremakeWindow, ToTheNewestPartitionWhenLater) {
	std::vector<PartitionMonths> kept = {{YearMonth{2026, 11}, YearMonth{2027, 6}}};
	EXPECT_EQ(PremakeWindow({2026, 11}, 3, {2026, 8}, kept).last, (YearMonth{2027, 6}));
	kept = {{YearMonth{2026, 11}, std::nullopt}}; /* unbounded above */
	EXPECT_EQ(PremakeWindow({2026, 11}, 3, {2026, 8}, kept).last, (YearMonth{2027, 2}));
	EXPECT_EQ(PremakeWindow({2026, 11}, 0, {2026, 8}, {}).last, (YearMonth{2026, 11}));
	EXPECT_EQ(PremakeWindow({2026, 12}, 1, {2026, 8}, {}).last, (YearMonth{2027, 1}));
}
