/*
 * upkeep/core/calendar.hpp
 *
 * Civil-calendar arithmetic (proleptic Gregorian) for month partitions.  Pure
 * integer math on dates: no time zones here.  Zone-dependent instants are
 * computed by the pg layer with PostgreSQL's own time-zone machinery.
 */
#pragma once

#include <cstdint>
#include <string>

#include "upkeep/core/no_postgres.hpp"

namespace upkeep::core {

struct CivilDate {
	int64_t year;
	int month; /* 1..12 */
	int day;   /* 1..31 */
};

struct YearMonth {
	int64_t year;
	int month; /* 1..12 */

	bool
	operator==(const YearMonth &o) const {
		return year == o.year && month == o.month;
	}
	bool
	operator!=(const YearMonth &o) const {
		return !(*this == o);
	}
	bool
	operator<(const YearMonth &o) const {
		return year < o.year || (year == o.year && month < o.month);
	}
	bool
	operator<=(const YearMonth &o) const {
		return !(o < *this);
	}
};

bool IsLeapYear(int64_t year);
int DaysInMonth(int64_t year, int month);

/* Days since 1970-01-01 for a civil date, and back (H. Hinnant's algorithms). */
int64_t DaysFromCivil(CivilDate date);
CivilDate CivilFromDays(int64_t days);

/* The month containing `date`, its first day, and month arithmetic. */
YearMonth MonthOf(CivilDate date);
CivilDate FirstDay(YearMonth ym);
YearMonth AddMonths(YearMonth ym, int64_t months);
/* Number of months from `from` to `to` (negative when `to` is earlier). */
int64_t MonthsBetween(YearMonth from, YearMonth to);

/* Month names use four-digit years: 0001-01 .. 9999-12 can be partitioned. */
constexpr int64_t kMinPartitionYear = 1;
constexpr int64_t kMaxPartitionYear = 9999;
bool IsPartitionableMonth(YearMonth ym);

/* "YYYY-MM-DD", the ISO literal PostgreSQL reads under any DateStyle. */
std::string IsoDate(CivilDate date);

} // namespace upkeep::core

namespace upkeep::core {

/* PostgreSQL counts dates and timestamps from 2000-01-01. */
constexpr int64_t kPgEpochDays = 10957; /* days from 1970-01-01 to 2000-01-01 */
constexpr int64_t kUsecPerDay = 86400LL * 1000000LL;

/* PostgreSQL date (days since 2000-01-01) <-> civil date. */
CivilDate FromPgDate(int64_t pg_days);
int64_t ToPgDate(CivilDate date);

/* "YYYY-MM-DD HH:MM:SS[.ffffff]" for a timestamp in microseconds since 2000-01-01. */
std::string IsoTimestamp(int64_t pg_usec);
/* Same instant written in UTC with an explicit "+00" offset: unambiguous under any TimeZone/DateStyle. */
std::string IsoUtcTimestamp(int64_t pg_usec);

} // namespace upkeep::core
