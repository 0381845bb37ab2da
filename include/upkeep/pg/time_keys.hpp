/*
 * upkeep/pg/time_keys.hpp
 *
 * Time-typed keys (date, timestamp, timestamptz) as pg_upkeep handles them:
 * classification, month boundaries (timestamptz ones computed with
 * PostgreSQL's own time-zone machinery in an explicit zone), and SQL literals
 * that read back identically under any session TimeZone or DateStyle.
 */
#pragma once

#include <cstdint>
#include <string>

#include "upkeep/core/calendar.hpp"

extern "C" {
#include "postgres.h"
}

namespace upkeep::pg {

enum class KeyKind { Date, Timestamp, TimestampTz };

/* Kind of a date/timestamp/timestamptz type (domains over them included); false for anything else. */
bool ClassifyKeyType(Oid type, KeyKind *kind);
const char *KeyKindName(KeyKind kind);

/* A value in the key's unit (see catalog.hpp RangeBound) with its literal. */
struct KeyValue {
	int64_t value;
	std::string literal; /* quoted SQL literal with a cast, e.g. '2024-01-01'::date */
};

/* First instant of `ym` for this kind of key; timestamptz in zone `tz`. */
KeyValue MonthStart(KeyKind kind, core::YearMonth ym, const std::string &tz);

/* The month (in zone `tz` for timestamptz) containing a key value. */
core::YearMonth MonthContaining(KeyKind kind, int64_t value, const std::string &tz);

/* The literal for a value of this kind (value in the key's unit). */
std::string KeyLiteral(KeyKind kind, int64_t value);

/* "now" for retention: upkeep.debug_now when set (tests), else the transaction start. */
int64_t NowInstant();
/* Wall-clock timestamp in zone `tz` of an instant, and back (PostgreSQL's timezone(zone, ...)). */
int64_t InstantToLocal(const std::string &tz, int64_t instant);
int64_t LocalToInstant(const std::string &tz, int64_t local);
/* An interval's three parts, as PostgreSQL stores them. */
struct IntervalParts {
	int32_t months;
	int32_t days;
	int64_t usec;
};
/* Parses interval text (22007/22015 on bad input). */
IntervalParts ParseInterval(const std::string &interval);

/* local - interval, with the interval given as text (calendar-aware: months and days as PostgreSQL counts them). */
int64_t LocalMinusInterval(int64_t local, const std::string &interval);

} // namespace upkeep::pg
