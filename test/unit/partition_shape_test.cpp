/*
 * test/unit/partition_shape_test.cpp
 *
 * The steady-state summary of a partition set: gap detection, coverage,
 * expiry, MINVALUE/MAXVALUE partitions, and the stored form.
 */
#include <gtest/gtest.h>

#include <limits>

#include "upkeep/core/partition_shape.hpp"

using namespace upkeep::core;

namespace {
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
} // namespace

TEST(PartitionShape, ContiguousSetInAnyOrder) {
	PartitionShape s = SummarizeShape(2, false, {{30, 40}, {10, 20}, {20, 30}});
	EXPECT_TRUE(s.contiguous);
	EXPECT_EQ(s.count, 3);
	EXPECT_EQ(s.from, 10);
	EXPECT_EQ(s.to, 40);
	EXPECT_EQ(s.min_upper, 20);
	EXPECT_TRUE(CoversWithoutGap(s, 10, 40));
	EXPECT_TRUE(CoversWithoutGap(s, 20, 30));
	EXPECT_FALSE(CoversWithoutGap(s, 5, 30));  /* before the first partition */
	EXPECT_FALSE(CoversWithoutGap(s, 30, 41)); /* past the last one: premake has work */
}

TEST(PartitionShape, AGapIsNeverCovered) {
	PartitionShape s = SummarizeShape(2, false, {{10, 20}, {30, 40}});
	EXPECT_FALSE(s.contiguous);
	/* even a range that lies inside one partition: the full check decides */
	EXPECT_FALSE(CoversWithoutGap(s, 30, 40));
	EXPECT_FALSE(CoversWithoutGap(s, 10, 40));
}

TEST(PartitionShape, EmptySetNeedsEverything) {
	PartitionShape s = SummarizeShape(0, true, {});
	EXPECT_FALSE(s.contiguous);
	EXPECT_FALSE(CoversWithoutGap(s, 0, 1));
	EXPECT_TRUE(CoversWithoutGap(s, 5, 5)); /* nothing asked */
	EXPECT_TRUE(NothingExpires(s, 100));
}

TEST(PartitionShape, ExpiryIsAtOrBeforeTheCutoff) {
	PartitionShape s = SummarizeShape(1, false, {{10, 20}, {20, 30}});
	EXPECT_TRUE(NothingExpires(s, 19));
	EXPECT_FALSE(NothingExpires(s, 20)); /* upper bound exactly at the cutoff: expired */
	EXPECT_FALSE(NothingExpires(s, 25));
}

TEST(PartitionShape, OpenEndedPartitions) {
	PartitionShape s = SummarizeShape(2, false, {{kMin, 10}, {10, 20}, {20, kMax}});
	EXPECT_TRUE(s.contiguous);
	EXPECT_EQ(s.from, kMin);
	EXPECT_EQ(s.to, kMax);
	EXPECT_TRUE(CoversWithoutGap(s, -1000, 1000000));
	EXPECT_FALSE(NothingExpires(s, 10)); /* the MINVALUE partition ends at 10 */
}

TEST(PartitionShape, StoredFormRoundTrips) {
	PartitionShape s = SummarizeShape(2, true, {{kMin, 10}, {10, 20}});
	auto back = DecodeShape(EncodeShape(s));
	ASSERT_TRUE(back.has_value());
	EXPECT_EQ(back->kind, 2);
	EXPECT_TRUE(back->has_default);
	EXPECT_EQ(back->count, 2);
	EXPECT_TRUE(back->contiguous);
	EXPECT_EQ(back->from, kMin);
	EXPECT_EQ(back->to, 20);
	EXPECT_EQ(back->min_upper, 10);
	EXPECT_FALSE(DecodeShape("").has_value());
	EXPECT_FALSE(DecodeShape("v2 0 0 0 0 0 0 0").has_value());
	EXPECT_FALSE(DecodeShape("v1 0 0 1 1 0 10").has_value());      /* a field short */
	EXPECT_FALSE(DecodeShape("v1 0 0 1 1 0 10 10 9").has_value()); /* one too many */
	EXPECT_FALSE(DecodeShape("v1 0 2 1 1 0 10 10").has_value());   /* not a flag */
}
