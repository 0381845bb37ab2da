/*
 * test/unit/batch_plan_test.cpp
 *
 * Batch planning: method choice, the time-budgeted row count, the time-slice
 * walk (including more tied rows than a batch), and block ranges.
 */
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "upkeep/core/batch_plan.hpp"

using namespace upkeep::core;

TEST(BatchPlan, MethodChoice) {
	std::string why;
	TableFacts plain;
	EXPECT_EQ(ChooseBatchMethod(plain, std::nullopt, &why), BatchMethod::CtidRange);
	TableFacts indexed;
	indexed.has_time_index = true;
	EXPECT_EQ(ChooseBatchMethod(indexed, std::nullopt, &why), BatchMethod::TimeSlice);
	TableFacts parted;
	parted.is_partitioned = true;
	parted.has_integer_pk = true;
	EXPECT_EQ(ChooseBatchMethod(parted, std::nullopt, &why), BatchMethod::PkRange);
	parted.has_integer_pk = false;
	EXPECT_EQ(ChooseBatchMethod(parted, std::nullopt, &why), BatchMethod::TimeSlice);
	/* distributed tables never use ctid */
	TableFacts dist;
	dist.is_distributed = true;
	EXPECT_EQ(ChooseBatchMethod(dist, std::nullopt, &why), BatchMethod::TimeSlice); /* shard-local scans per slice */
	EXPECT_NE(why.find("distributed"), std::string::npos);
	TableFacts neither; /* a plain table is never without a method (ctid) */
	EXPECT_EQ(ChooseBatchMethod(neither, std::nullopt, &why), BatchMethod::CtidRange);
	dist.has_integer_pk = true;
	EXPECT_EQ(ChooseBatchMethod(dist, BatchMethod::CtidRange, &why), BatchMethod::PkRange);
	/* a forced method is used where it is usable */
	EXPECT_EQ(ChooseBatchMethod(indexed, BatchMethod::CtidRange, &why), BatchMethod::CtidRange);
	EXPECT_EQ(ChooseBatchMethod(plain, BatchMethod::PkRange, &why), BatchMethod::CtidRange);
	EXPECT_EQ(ParseBatchMethod("auto"), std::nullopt);
	EXPECT_EQ(ParseBatchMethod("pk"), BatchMethod::PkRange);
	EXPECT_THROW(ParseBatchMethod("fast"), std::invalid_argument);
	EXPECT_STREQ(BatchMethodName(BatchMethod::TimeSlice), "time");
}

TEST(BatchPlan, RowBudgetShrinksWhenSlowAndRecovers) {
	RowBudget b(10000, 60.0);
	EXPECT_EQ(b.Rows(), 10000);
	b.Observe(10000, 200.0); /* 50 rows/ms: aim at 80% of 60 ms */
	EXPECT_EQ(b.Rows(), 2400);
	b.Observe(2400, 10.0); /* quick: doubles */
	EXPECT_EQ(b.Rows(), 4800);
	for (int i = 0; i < 10; i++)
		b.Observe(b.Rows(), 1.0);
	EXPECT_EQ(b.Rows(), 10000); /* never above batch_size */
	b.Observe(0, 0.0);
	EXPECT_EQ(b.Rows(), 10000);
}

TEST(BatchPlan, TimeSliceWalk) {
	TimeSliceCursor c(100); /* expired: key < 100 */
	EXPECT_FALSE(c.Lo().has_value());
	auto s = c.Next(10); /* the (n+1)-th expired row has key 10 */
	EXPECT_EQ(s.kind, TimeSliceCursor::StepKind::Range);
	EXPECT_FALSE(s.lo.has_value());
	EXPECT_EQ(s.hi, 10);
	EXPECT_EQ(*c.Lo(), 10);
	EXPECT_TRUE(c.LoInclusive());
	s = c.Next(40);
	EXPECT_EQ(s.kind, TimeSliceCursor::StepKind::Range);
	EXPECT_EQ(*s.lo, 10);
	EXPECT_TRUE(s.lo_inclusive);
	EXPECT_EQ(s.hi, 40);
	s = c.Next(std::nullopt); /* n or fewer left: up to the cutoff, then done */
	EXPECT_EQ(s.kind, TimeSliceCursor::StepKind::Range);
	EXPECT_EQ(*s.lo, 40);
	EXPECT_EQ(s.hi, 100);
	EXPECT_TRUE(c.Done());
	EXPECT_EQ(c.Next(5).kind, TimeSliceCursor::StepKind::Done);
}

TEST(BatchPlan, TimeSliceTies) {
	TimeSliceCursor c(100);
	c.Next(50);          /* [.., 50) */
	auto s = c.Next(50); /* more than n rows share key 50 */
	EXPECT_EQ(s.kind, TimeSliceCursor::StepKind::Equal);
	EXPECT_EQ(s.value, 50);
	EXPECT_EQ(c.Next(50).kind, TimeSliceCursor::StepKind::Equal); /* still there */
	c.EqualExhausted();
	EXPECT_FALSE(c.LoInclusive());
	s = c.Next(70);
	EXPECT_EQ(s.kind, TimeSliceCursor::StepKind::Range);
	EXPECT_EQ(*s.lo, 50);
	EXPECT_FALSE(s.lo_inclusive);
	/* a boundary at or past the cutoff ends the walk */
	s = c.Next(100);
	EXPECT_EQ(s.hi, 100);
	EXPECT_TRUE(c.Done());
}

TEST(BatchPlan, BlockStepperBoundsRowsPerRange) {
	BlockStepper st(1000, 100.0); /* 100 rows per block */
	auto r = st.Next(500);
	EXPECT_EQ(r.first, 0u);
	EXPECT_EQ(r.second, 5u);
	st.Observe(500);
	/* a denser region: the next ranges shrink so they hold the budget */
	r = st.Next(500);
	st.Observe(1000); /* 200 per block observed */
	r = st.Next(500);
	EXPECT_EQ(r.second - r.first, 2u);
	/* a probe found the next expired row far ahead */
	st.JumpTo(900);
	r = st.Next(500);
	EXPECT_EQ(r.first, 900u);
	st.JumpTo(10); /* never backwards */
	EXPECT_GE(st.Position(), r.second);
	while (!st.Done())
		r = st.Next(100000);
	EXPECT_EQ(r.second, 1000u);
	BlockStepper empty(0, 10.0);
	EXPECT_TRUE(empty.Done());
}

TEST(BatchPlan, SliceEstimator) {
	SliceEstimator e;
	EXPECT_FALSE(e.Ready());  /* no exact slice seen yet */
	e.Observe(250, 250, 250); /* one row per unit */
	ASSERT_TRUE(e.Ready());
	EXPECT_EQ(e.Width(250), 250);
	/* a falling density is believed halfway */
	e.Observe(250, 125, 250);
	EXPECT_EQ(e.Width(250), 333);
	/* a rising one at once */
	e.Observe(100, 200, 250);
	EXPECT_EQ(e.Width(250), 125);
	/* an overshoot by more than half the budget asks for an exact boundary, then estimates resume */
	e.Observe(125, 400, 250);
	EXPECT_FALSE(e.Ready());
	e.Observe(125, 250, 250);
	EXPECT_TRUE(e.Ready());
	/* an empty slice (a gap, or the end of the rows) asks for an exact boundary, not a wider guess */
	e.Observe(125, 0, 250);
	EXPECT_FALSE(e.Ready());
	/* below one unit: no estimate */
	SliceEstimator dense;
	dense.Observe(1, 1000, 1000);
	EXPECT_EQ(dense.Width(10), 0);
}
