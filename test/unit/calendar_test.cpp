/*
 * test/unit/calendar_test.cpp
 *
 * Civil-calendar arithmetic of the core: leap years, month lengths, the
 * day-number round trip across the whole partitionable range, month
 * arithmetic, and the literals PostgreSQL reads back.
 */
#include <gtest/gtest.h>

#include <stdexcept>

#include "upkeep/core/calendar.hpp"

using namespace upkeep::core;

TEST(Calendar, LeapYears) {
	EXPECT_TRUE(IsLeapYear(2000));
	EXPECT_TRUE(IsLeapYear(2024));
	EXPECT_TRUE(IsLeapYear(1600));
	EXPECT_FALSE(IsLeapYear(1900));
	EXPECT_FALSE(IsLeapYear(2100));
	EXPECT_FALSE(IsLeapYear(2023));
}

TEST(Calendar, DaysInMonth) {
	const int normal[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	for (int m = 1; m <= 12; m++) {
		EXPECT_EQ(DaysInMonth(2023, m), normal[m - 1]) << "month " << m;
		EXPECT_EQ(DaysInMonth(2024, m), m == 2 ? 29 : normal[m - 1]) << "month " << m;
	}
	EXPECT_EQ(DaysInMonth(1900, 2), 28);
	EXPECT_EQ(DaysInMonth(2000, 2), 29);
	EXPECT_THROW(DaysInMonth(2024, 0), std::out_of_range);
	EXPECT_THROW(DaysInMonth(2024, 13), std::out_of_range);
}

TEST(Calendar, KnownDayNumbers) {
	EXPECT_EQ(DaysFromCivil({1970, 1, 1}), 0);
	EXPECT_EQ(DaysFromCivil({2000, 1, 1}), 10957);
	EXPECT_EQ(DaysFromCivil({1969, 12, 31}), -1);
	EXPECT_EQ(DaysFromCivil({2024, 2, 29}) + 1, DaysFromCivil({2024, 3, 1}));
	EXPECT_EQ(DaysFromCivil({2023, 3, 1}) - DaysFromCivil({2023, 2, 28}), 1);
	/* PostgreSQL's epoch */
	EXPECT_EQ(ToPgDate({2000, 1, 1}), 0);
	EXPECT_EQ(ToPgDate({1999, 12, 31}), -1);
	CivilDate d = FromPgDate(0);
	EXPECT_EQ(d.year, 2000);
	EXPECT_EQ(d.month, 1);
	EXPECT_EQ(d.day, 1);
}

TEST(Calendar, RoundTripEveryDayOfTheRange) {
	const int64_t first = DaysFromCivil({1, 1, 1});
	const int64_t last = DaysFromCivil({9999, 12, 31});
	int64_t expected_next = first;
	CivilDate prev = CivilFromDays(first);
	EXPECT_EQ(prev.year, 1);
	for (int64_t z = first; z <= last; z++) {
		CivilDate c = CivilFromDays(z);
		ASSERT_EQ(DaysFromCivil(c), z);
		ASSERT_GE(c.day, 1);
		ASSERT_LE(c.day, DaysInMonth(c.year, c.month));
		if (z > first) {
			/* consecutive days: next day of the month, or the first of the next month */
			if (c.day != 1) {
				ASSERT_EQ(c.day, prev.day + 1);
				ASSERT_EQ(c.month, prev.month);
			} else {
				ASSERT_EQ(prev.day, DaysInMonth(prev.year, prev.month));
			}
		}
		prev = c;
		expected_next = z + 1;
	}
	EXPECT_EQ(expected_next, last + 1);
	EXPECT_THROW(DaysFromCivil({2023, 2, 29}), std::out_of_range);
	EXPECT_THROW(DaysFromCivil({2023, 4, 31}), std::out_of_range);
}

TEST(Calendar, MonthArithmetic) {
	EXPECT_EQ(MonthOf({2024, 2, 29}), (YearMonth{2024, 2}));
	CivilDate f = FirstDay({2024, 2});
	EXPECT_EQ(f.day, 1);
	EXPECT_EQ(AddMonths({2024, 12}, 1), (YearMonth{2025, 1}));
	EXPECT_EQ(AddMonths({2024, 1}, -1), (YearMonth{2023, 12}));
	EXPECT_EQ(AddMonths({2024, 3}, -15), (YearMonth{2022, 12}));
	EXPECT_EQ(AddMonths({2024, 6}, 1200), (YearMonth{2124, 6}));
	EXPECT_EQ(AddMonths({2024, 6}, -1200), (YearMonth{1924, 6}));
	EXPECT_EQ(AddMonths({1, 1}, -1), (YearMonth{0, 12}));
	EXPECT_EQ(MonthsBetween({2024, 1}, {2024, 12}), 11);
	EXPECT_EQ(MonthsBetween({2024, 12}, {2024, 1}), -11);
	EXPECT_EQ(MonthsBetween({2023, 11}, {2024, 2}), 3);
	for (int k = -30; k <= 30; k++)
		EXPECT_EQ(MonthsBetween({2024, 5}, AddMonths({2024, 5}, k)), k);
	EXPECT_TRUE((YearMonth{2024, 1}) < (YearMonth{2024, 2}));
	EXPECT_TRUE((YearMonth{2023, 12}) < (YearMonth{2024, 1}));
	EXPECT_TRUE((YearMonth{2024, 1}) <= (YearMonth{2024, 1}));
}

TEST(Calendar, PartitionableMonths) {
	EXPECT_TRUE(IsPartitionableMonth({1, 1}));
	EXPECT_TRUE(IsPartitionableMonth({9999, 12}));
	EXPECT_FALSE(IsPartitionableMonth({0, 12}));
	EXPECT_FALSE(IsPartitionableMonth({10000, 1}));
	EXPECT_FALSE(IsPartitionableMonth({2024, 13}));
}

TEST(Calendar, IsoLiterals) {
	EXPECT_EQ(IsoDate({2024, 2, 9}), "2024-02-09");
	EXPECT_EQ(IsoDate({1, 1, 1}), "0001-01-01");
	EXPECT_THROW(IsoDate({0, 1, 1}), std::out_of_range);
	/* the upper bound of 9999-12 (PostgreSQL reads five-digit years in ISO form) */
	EXPECT_EQ(IsoDate({10000, 1, 1}), "10000-01-01");
	const int64_t usec_day = kUsecPerDay;
	EXPECT_EQ(IsoUtcTimestamp(ToPgDate({10000, 1, 1}) * usec_day), "10000-01-01 00:00:00+00");
	EXPECT_EQ(IsoTimestamp(0), "2000-01-01 00:00:00");
	EXPECT_EQ(IsoTimestamp(usec_day + 3661LL * 1000000), "2000-01-02 01:01:01");
	EXPECT_EQ(IsoTimestamp(1500000), "2000-01-01 00:00:01.500000");
	/* before the PostgreSQL epoch: floor division, not truncation */
	EXPECT_EQ(IsoTimestamp(-1), "1999-12-31 23:59:59.999999");
	EXPECT_EQ(IsoTimestamp(-usec_day), "1999-12-31 00:00:00");
	EXPECT_EQ(IsoUtcTimestamp(0), "2000-01-01 00:00:00+00");
	/* 2024-03-31 22:00 UTC (a Berlin month boundary) */
	const int64_t v = ToPgDate({2024, 3, 31}) * usec_day + 22LL * 3600 * 1000000;
	EXPECT_EQ(IsoUtcTimestamp(v), "2024-03-31 22:00:00+00");
}
