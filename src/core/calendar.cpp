/*
 * src/core/calendar.cpp
 *
 * Proleptic Gregorian calendar math.  days_from_civil / civil_from_days follow
 * Howard Hinnant's public-domain derivations ("chrono-Compatible Low-Level Date
 * Algorithms"): exact for every representable year, no tables, no loops.
 */
#define UPKEEP_CORE_TU 1
#include "upkeep/core/calendar.hpp"

#include <cstdio>
#include <stdexcept>

namespace upkeep::core {

namespace {
/* Floor division, correct for negative numerators. */
int64_t
FloorDiv(int64_t a, int64_t b) {
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		--q;
	return q;
}
} // namespace

bool
IsLeapYear(int64_t year) {
	return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int
DaysInMonth(int64_t year, int month) {
	static const int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (month < 1 || month > 12)
		throw std::out_of_range("month out of range");
	return (month == 2 && IsLeapYear(year)) ? 29 : kDays[month - 1];
}

int64_t
DaysFromCivil(CivilDate date) {
	if (date.month < 1 || date.month > 12 || date.day < 1 || date.day > DaysInMonth(date.year, date.month))
		throw std::out_of_range("invalid civil date");
	const int64_t y = date.year - (date.month <= 2 ? 1 : 0);
	const int64_t era = FloorDiv(y, 400);
	const int64_t yoe = y - era * 400;                         /* [0, 399] */
	const int64_t mp = (date.month + 9) % 12;                  /* March = 0 */
	const int64_t doy = (153 * mp + 2) / 5 + date.day - 1;     /* [0, 365] */
	const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
	return era * 146097 + doe - 719468;
}

CivilDate
CivilFromDays(int64_t days) {
	const int64_t z = days + 719468;
	const int64_t era = FloorDiv(z, 146097);
	const int64_t doe = z - era * 146097;                                      /* [0, 146096] */
	const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
	const int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
	const int day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
	const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
	const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
	return CivilDate{year, month, day};
}

YearMonth
MonthOf(CivilDate date) {
	return YearMonth{date.year, date.month};
}

CivilDate
FirstDay(YearMonth ym) {
	return CivilDate{ym.year, ym.month, 1};
}

YearMonth
AddMonths(YearMonth ym, int64_t months) {
	const int64_t index = ym.year * 12 + (ym.month - 1) + months;
	return YearMonth{FloorDiv(index, 12), static_cast<int>(index - FloorDiv(index, 12) * 12) + 1};
}

int64_t
MonthsBetween(YearMonth from, YearMonth to) {
	return (to.year * 12 + (to.month - 1)) - (from.year * 12 + (from.month - 1));
}

bool
IsPartitionableMonth(YearMonth ym) {
	return ym.year >= kMinPartitionYear && ym.year <= kMaxPartitionYear && ym.month >= 1 && ym.month <= 12;
}

std::string
IsoDate(CivilDate date) {
	/* 10000-01-01 is the upper bound of 9999-12; PostgreSQL reads five-digit ISO years */
	if (date.year < 1 || date.year > 99999)
		throw std::out_of_range("year outside 1..99999 has no ISO literal here");
	char buf[16];
	std::snprintf(buf, sizeof(buf), "%04lld-%02d-%02d", static_cast<long long>(date.year), date.month, date.day);
	return buf;
}

} // namespace upkeep::core

namespace upkeep::core {

CivilDate
FromPgDate(int64_t pg_days) {
	return CivilFromDays(pg_days + kPgEpochDays);
}

int64_t
ToPgDate(CivilDate date) {
	return DaysFromCivil(date) - kPgEpochDays;
}

std::string
IsoTimestamp(int64_t pg_usec) {
	const int64_t days = FloorDiv(pg_usec, kUsecPerDay);
	int64_t rem = pg_usec - days * kUsecPerDay;
	const CivilDate date = FromPgDate(days);
	const int64_t usec = rem % 1000000;
	rem /= 1000000;
	char buf[48];
	std::snprintf(buf, sizeof(buf), "%s %02lld:%02lld:%02lld", IsoDate(date).c_str(),
	              static_cast<long long>(rem / 3600), static_cast<long long>((rem / 60) % 60),
	              static_cast<long long>(rem % 60));
	std::string out = buf;
	if (usec != 0) {
		std::snprintf(buf, sizeof(buf), ".%06lld", static_cast<long long>(usec));
		out += buf;
	}
	return out;
}

std::string
IsoUtcTimestamp(int64_t pg_usec) {
	return IsoTimestamp(pg_usec) + "+00";
}

} // namespace upkeep::core
