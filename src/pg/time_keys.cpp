/*
 * src/pg/time_keys.cpp
 *
 * See upkeep/pg/time_keys.hpp.
 */
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/time_keys.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "datatype/timestamp.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/lsyscache.h"
#include "utils/timestamp.h"
}

namespace upkeep::pg {

bool
ClassifyKeyType(Oid type, KeyKind *kind) {
	Oid base = PgCall([&] { return getBaseType(type); });
	switch (base) {
	case DATEOID:
		*kind = KeyKind::Date;
		return true;
	case TIMESTAMPOID:
		*kind = KeyKind::Timestamp;
		return true;
	case TIMESTAMPTZOID:
		*kind = KeyKind::TimestampTz;
		return true;
	default:
		return false;
	}
}

const char *
KeyKindName(KeyKind kind) {
	switch (kind) {
	case KeyKind::Date:
		return "date";
	case KeyKind::Timestamp:
		return "timestamp";
	case KeyKind::TimestampTz:
		return "timestamptz";
	}
	return "?";
}

namespace {

/* Local wall-clock timestamp -> instant, in zone `tz` (timezone(tz, ts)).  C-style. */
int64
LocalToInstantC(const char *tz, int64 local_usec) {
	Datum r = DirectFunctionCall2(timestamp_zone, CStringGetTextDatum(tz), TimestampGetDatum(local_usec));
	return DatumGetTimestampTz(r);
}

/* Instant -> local wall-clock timestamp in zone `tz` (timezone(tz, tstz)).  C-style. */
int64
InstantToLocalC(const char *tz, int64 instant) {
	Datum r = DirectFunctionCall2(timestamptz_zone, CStringGetTextDatum(tz), TimestampTzGetDatum(instant));
	return DatumGetTimestamp(r);
}

} // namespace

std::string
KeyLiteral(KeyKind kind, int64_t value) {
	switch (kind) {
	case KeyKind::Date:
		return "'" + core::IsoDate(core::FromPgDate(value)) + "'::pg_catalog.date";
	case KeyKind::Timestamp:
		return "'" + core::IsoTimestamp(value) + "'::pg_catalog.timestamp";
	case KeyKind::TimestampTz:
		return "'" + core::IsoUtcTimestamp(value) + "'::pg_catalog.timestamptz";
	}
	return {};
}

KeyValue
MonthStart(KeyKind kind, core::YearMonth ym, const std::string &tz) {
	const int64_t days = core::ToPgDate(core::FirstDay(ym));
	int64_t value = 0;
	switch (kind) {
	case KeyKind::Date:
		value = days;
		break;
	case KeyKind::Timestamp:
		value = days * core::kUsecPerDay;
		break;
	case KeyKind::TimestampTz:
		value = PgCall([&] { return LocalToInstantC(tz.c_str(), days * core::kUsecPerDay); });
		break;
	}
	return KeyValue{value, KeyLiteral(kind, value)};
}

core::YearMonth
MonthContaining(KeyKind kind, int64_t value, const std::string &tz) {
	int64_t days = 0;
	switch (kind) {
	case KeyKind::Date:
		days = value;
		break;
	case KeyKind::Timestamp:
		days = value / core::kUsecPerDay - ((value % core::kUsecPerDay) < 0 ? 1 : 0);
		break;
	case KeyKind::TimestampTz: {
		int64_t local = PgCall([&] { return InstantToLocalC(tz.c_str(), value); });
		days = local / core::kUsecPerDay - ((local % core::kUsecPerDay) < 0 ? 1 : 0);
		break;
	}
	}
	return core::MonthOf(core::FromPgDate(days));
}

int64_t
NowInstant() {
	const char *debug_now = g_debug_now;
	if (debug_now != nullptr && debug_now[0] != '\0')
		return PgCall([&] {
			return DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(debug_now),
			                                               ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		});
	return PgCall([] { return (int64)GetCurrentTransactionStartTimestamp(); });
}

int64_t
InstantToLocal(const std::string &tz, int64_t instant) {
	return PgCall([&] { return InstantToLocalC(tz.c_str(), instant); });
}

int64_t
LocalToInstant(const std::string &tz, int64_t local) {
	return PgCall([&] { return LocalToInstantC(tz.c_str(), local); });
}

IntervalParts
ParseInterval(const std::string &interval) {
	return PgCall([&] {
		Interval *iv = DatumGetIntervalP(DirectFunctionCall3(interval_in, CStringGetDatum(interval.c_str()),
		                                                     ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
		IntervalParts parts{iv->month, iv->day, iv->time};
		pfree(iv);
		return parts;
	});
}

int64_t
LocalMinusInterval(int64_t local, const std::string &interval) {
	return PgCall([&] {
		Datum iv = DirectFunctionCall3(interval_in, CStringGetDatum(interval.c_str()), ObjectIdGetDatum(InvalidOid),
		                               Int32GetDatum(-1));
		return DatumGetTimestamp(DirectFunctionCall2(timestamp_mi_interval, TimestampGetDatum(local), iv));
	});
}

} // namespace upkeep::pg
