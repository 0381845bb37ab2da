/*
 * src/maint/policy.cpp
 *
 * set_policy / drop_policy and policy loading.  Everything a policy says is
 * checked when it is set (column, type, retain, action for the table's kind,
 * premake, batch size, zone, archive target), with the SQLSTATE a DBA would
 * expect, and again, cheaply, when it runs.
 */
#include "upkeep/maint/archive.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/policy.hpp"
#include "upkeep/maint/steady_state.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/row_hash.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "access/transam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_namespace.h"
#include "catalog/pg_type.h"
}

namespace upkeep::maint {

namespace {

/* upkeep.policy.action, which its CHECK constraint keeps to the four words. */
core::Action
ParseStoredAction(const std::string &word) {
	const std::optional<core::Action> a = core::ParseAction(word);
	if (!a)
		pg::Throw(ERRCODE_DATA_CORRUPTED, "upkeep.policy holds an unknown action \"" + word + "\"");
	return *a;
}

std::string
NormalizeInterval(const std::string &text) {
	return pg::SpiExec("SELECT $1::pg_catalog.interval::pg_catalog.text", {pg::SpiValue::Text(text)},
	                   pg::SpiMode::ReadOnly)
	    .At(0, 0);
}

std::optional<Policy>
ReadPolicy(Oid relid) {
	auto policies = LoadPolicies(relid);
	if (policies.empty())
		return std::nullopt;
	return policies.front();
}

} // namespace

pg::KeyKind
TimeColumnKind(Oid relid, const std::string &column, Oid *base_type) {
	for (const auto &c : pg::GetColumns(relid)) {
		if (c.name != column)
			continue;
		pg::KeyKind kind;
		if (!pg::ClassifyKeyType(c.type, &kind))
			pg::Throw(ERRCODE_DATATYPE_MISMATCH,
			          "column \"" + column + "\" has type " + c.type_sql + ", not date, timestamp or timestamptz",
			          "The time column of a policy says how old a row is.");
		if (base_type)
			*base_type = kind == pg::KeyKind::Date        ? DATEOID
			             : kind == pg::KeyKind::Timestamp ? TIMESTAMPOID
			                                              : TIMESTAMPTZOID;
		return kind;
	}
	pg::Throw(ERRCODE_UNDEFINED_COLUMN,
	          "column \"" + column + "\" does not exist in table " + pg::GetRelation(relid).qualified);
}

std::string
ValidateAge(const char *what, const std::string &text, int max_years) {
	const pg::IntervalParts iv = pg::ParseInterval(text);
	const std::string shown = NormalizeInterval(text);
	if (iv.months < 0 || iv.days < 0 || iv.usec < 0) {
		const bool any_positive = iv.months > 0 || iv.days > 0 || iv.usec > 0;
		pg::Throw(ERRCODE_INVALID_PARAMETER_VALUE,
		          std::string(what) +
		              (any_positive ? " must not mix positive and negative parts, not \""
		                            : " must be a positive interval, not \"") +
		              shown + "\"",
		          any_positive
		              ? "Months, days and time are added separately: with a negative part, now minus the "
		                "interval can land after now on some dates (2023-03-01 minus '1 mon -29 days' is 2023-03-02)."
		              : "");
	}
	if (iv.months == 0 && iv.days == 0 && iv.usec == 0)
		pg::Throw(ERRCODE_INVALID_PARAMETER_VALUE,
		          std::string(what) + " must be a positive interval, not \"" + shown + "\"");
	/* in months, days counted as 30 and time as 30-day months: a bound, not a calendar */
	const double months = iv.months + iv.days / 30.0 + static_cast<double>(iv.usec) / (30.0 * 86400.0 * 1e6);
	if (months > 12.0 * max_years)
		pg::Throw(ERRCODE_INVALID_PARAMETER_VALUE, std::string(what) + " must be at most " + std::to_string(max_years) +
		                                               " years, not \"" + shown + "\"");
	return shown;
}

std::string
PolicyTimeZone(const Policy &p) {
	return p.timezone.empty() ? std::string(pg::g_partition_timezone) : p.timezone;
}

void
SetPolicy(const PolicyArgs &a) {
	/* the table: ours to manage, the caller's to act on, checked before any lock */
	const pg::RelInfo rel = pg::GetRelation(a.relid);
	RequireOwner(rel);
	RequireManageableTable(rel);
	const bool partitioned = rel.relkind == RELKIND_PARTITIONED_TABLE;
	const std::optional<Policy> old = ReadPolicy(a.relid);

	Policy p = old.value_or(Policy{});
	p.relid = a.relid;

	/* time column: given, kept, or the range partition key */
	std::optional<PartitionedTable> ptable;
	if (partitioned) {
		pg::PartitionKey key = pg::GetPartitionKey(rel.oid);
		if (key.strategy == 'r' && key.natts == 1 && !key.is_expression)
			ptable = RequireMonthlyPartitionable(rel);
	}
	if (a.time_column)
		p.time_column = *a.time_column;
	else if (!old) {
		if (!ptable)
			pg::Throw(ERRCODE_NULL_VALUE_NOT_ALLOWED, "time_column is required for table " + rel.qualified,
			          "Only a table range-partitioned on a date/timestamp/timestamptz column has a default time column "
			          "(its partition key).");
		p.time_column = ptable->key.column;
	}
	(void)TimeColumnKind(rel.oid, p.time_column, nullptr);

	if (a.retain)
		p.retain = ValidateAge("retain", *a.retain, kMaxRetainYears);
	else if (!old)
		pg::Throw(ERRCODE_NULL_VALUE_NOT_ALLOWED, "retain is required when creating a policy",
		          "Say how long rows are kept, e.g. retain => '30 days'.");

	if (a.action) {
		const std::optional<core::Action> parsed = core::ParseAction(*a.action);
		if (!parsed)
			pg::Throw(ERRCODE_INVALID_PARAMETER_VALUE, "unknown action \"" + *a.action + "\"",
			          "Valid actions: delete, archive, drop, detach.");
		p.action = *parsed;
	} else if (!old)
		p.action = partitioned ? core::Action::Drop : core::Action::Delete;
	const std::string action = core::ActionName(p.action);
	if (core::Describe(p.action).partitions_only) {
		if (!partitioned)
			pg::Throw(ERRCODE_WRONG_OBJECT_TYPE,
			          "action \"" + action + "\" needs a partitioned table, and " + rel.qualified +
			              " is not partitioned",
			          "Use delete or archive for a plain table.");
		if (!ptable)
			pg::Throw(ERRCODE_FEATURE_NOT_SUPPORTED,
			          "action \"" + action + "\" needs RANGE partitioning on one column");
		if (ptable->key.column != p.time_column)
			pg::Throw(ERRCODE_INVALID_PARAMETER_VALUE,
			          "action \"" + action + "\" needs the time column to be the partition key \"" +
			              ptable->key.column + "\", not \"" + p.time_column + "\"",
			          "Whole partitions can only expire by their own bounds.");
	}

	const bool archives = p.action == core::Action::Archive;
	if (a.archive_to)
		p.archive_to = *a.archive_to;
	if (!archives && a.archive_to && *a.archive_to != InvalidOid)
		pg::Throw(ERRCODE_INVALID_PARAMETER_VALUE, "archive_to is only meaningful with action \"archive\"");
	if (!archives)
		p.archive_to = InvalidOid;
	if (archives && p.archive_to != InvalidOid)
		ValidateArchiveTarget(rel, p.archive_to);

	const bool detaches = p.action == core::Action::Detach;
	if (a.detach_schema)
		p.detach_schema = *a.detach_schema;
	if (!detaches && a.detach_schema && !a.detach_schema->empty())
		pg::Throw(ERRCODE_INVALID_PARAMETER_VALUE, "detach_schema is only meaningful with action \"detach\"");
	if (!detaches)
		p.detach_schema.clear();
	if (!p.detach_schema.empty()) {
		pg::SpiResult s = pg::SpiExec(
		    "SELECT n.oid, pg_catalog.has_schema_privilege($2, n.oid, 'CREATE') FROM pg_catalog.pg_namespace n "
		    "WHERE n.nspname OPERATOR(pg_catalog.=) $1",
		    {pg::SpiValue::Name(p.detach_schema), pg::SpiValue::Oid_(rel.owner)}, pg::SpiMode::ReadOnly);
		if (s.rows.empty())
			pg::Throw(ERRCODE_UNDEFINED_SCHEMA, "schema \"" + p.detach_schema + "\" does not exist");
		if (!s.BoolAt(0, 1))
			pg::Throw(ERRCODE_INSUFFICIENT_PRIVILEGE,
			          "the owner of " + rel.qualified + " cannot create in schema \"" + p.detach_schema + "\"");
	}

	if (a.premake)
		p.premake = *a.premake;
	if (p.premake < 0 || p.premake > 120)
		pg::Throw(ERRCODE_INVALID_PARAMETER_VALUE,
		          "premake must be between 0 and 120 months, not " + std::to_string(p.premake));
	if (a.batch_size)
		p.batch_size = *a.batch_size;
	if (p.batch_size <= 0)
		pg::Throw(ERRCODE_INVALID_PARAMETER_VALUE, "batch_size must be positive, not " + std::to_string(p.batch_size));
	if (a.run_every)
		p.run_every = ValidateAge("run_every", *a.run_every, kMaxRunEveryYears);
	else if (!old)
		p.run_every = "01:00:00";
	if (a.timezone)
		p.timezone = *a.timezone;
	if (!p.timezone.empty()) {
		const std::string problem = pg::PgCall([&] { return pg::TimeZoneProblem(p.timezone.c_str()); });
		if (!problem.empty())
			pg::Throw(ERRCODE_INVALID_PARAMETER_VALUE, "time zone \"" + p.timezone + "\" is not a time zone name",
			          problem);
	}
	if (a.enabled)
		p.enabled = *a.enabled;

	const Oid caller = pg::CurrentUser();
	pg::AsExtensionOwner([&] {
		pg::SpiExec(
		    "INSERT INTO upkeep.policy AS p (relid, time_column, retain, action, archive_to, detach_schema, premake, "
		    "batch_size, run_every, timezone, enabled, created_by) "
		    "VALUES ($1, $2, $3::pg_catalog.interval, $4, $5, $6, $7, $8, $9::pg_catalog.interval, $10, $11, $12) "
		    "ON CONFLICT (relid) DO UPDATE SET time_column = EXCLUDED.time_column, retain = EXCLUDED.retain, "
		    "action = EXCLUDED.action, archive_to = EXCLUDED.archive_to, detach_schema = EXCLUDED.detach_schema, "
		    "premake = EXCLUDED.premake, batch_size = EXCLUDED.batch_size, run_every = EXCLUDED.run_every, "
		    "timezone = EXCLUDED.timezone, enabled = EXCLUDED.enabled, updated_at = pg_catalog.now()",
		    {pg::SpiValue::RegClass(p.relid), pg::SpiValue::Name(p.time_column), pg::SpiValue::Text(p.retain),
		     pg::SpiValue::Text(core::ActionName(p.action)),
		     p.archive_to ? pg::SpiValue::RegClass(p.archive_to) : pg::SpiValue::Null(REGCLASSOID),
		     p.detach_schema.empty() ? pg::SpiValue::Null(NAMEOID) : pg::SpiValue::Name(p.detach_schema),
		     pg::SpiValue::Int4(p.premake), pg::SpiValue::Int4(p.batch_size), pg::SpiValue::Text(p.run_every),
		     p.timezone.empty() ? pg::SpiValue::Null(TEXTOID) : pg::SpiValue::Text(p.timezone),
		     pg::SpiValue::Bool(p.enabled), pg::SpiValue{REGROLEOID, false, static_cast<int64_t>(caller), {}}});
		/* A changed policy is due at once: the worker applies it on its next wake, not an hour later. */
		pg::SpiExec("UPDATE upkeep.policy_state SET next_due = NULL WHERE relid OPERATOR(pg_catalog.=) $1",
		            {pg::SpiValue::Oid_(p.relid)}, pg::SpiMode::Write);
	});
}

bool
DropPolicy(Oid relid) {
	const pg::RelInfo rel = pg::GetRelation(relid);
	RequireOwner(rel);
	return pg::AsExtensionOwner([&] {
		uint64_t n = pg::SpiExec("DELETE FROM upkeep.policy WHERE relid OPERATOR(pg_catalog.=) $1",
		                         {pg::SpiValue::RegClass(relid)}, pg::SpiMode::Write)
		                 .processed;
		pg::SpiExec("DELETE FROM upkeep.policy_state WHERE relid OPERATOR(pg_catalog.=) $1",
		            {pg::SpiValue::Oid_(relid)}, pg::SpiMode::Write);
		return n > 0;
	});
}

std::string
PolicyVersion(Oid relid) {
	pg::SpiResult r = pg::AsExtensionOwner([&] {
		return pg::SpiExec("SELECT p.xmin::pg_catalog.text FROM upkeep.policy p WHERE p.relid::pg_catalog.oid "
		                   "OPERATOR(pg_catalog.=) $1",
		                   {pg::SpiValue::Oid_(relid)}, pg::SpiMode::ReadOnly);
	});
	return r.rows.empty() ? std::string() : r.At(0, 0);
}

std::vector<Policy>
LoadPolicies(Oid only) {
	/*
	 * Read as the extension owner (row-level security on upkeep.policy is for
	 * browsing, not for runs), with output settings pinned so intervals read
	 * the same whatever the session's IntervalStyle.
	 */
	pg::SpiResult r = pg::WithFingerprintSettings([&] {
		return pg::AsExtensionOwner([&] {
			return pg::SpiExec(
			    "SELECT p.relid::pg_catalog.oid, p.time_column, p.retain::pg_catalog.text, p.action, "
			    "p.archive_to::pg_catalog.oid, p.detach_schema, p.premake, p.batch_size, p.run_every::pg_catalog.text, "
			    "p.timezone, p.enabled, p.created_by::pg_catalog.oid, "
			    "t.token, s.partitions_token, s.partitions_shape, p.xmin::pg_catalog.text "
			    "FROM upkeep.policy p JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) p.relid "
			    "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
			    "LEFT JOIN upkeep.policy_state s ON s.relid OPERATOR(pg_catalog.=) c.oid "
			    "LEFT JOIN (" +
			        PartitionTokensSql("$1") +
			        ") t ON t.parent OPERATOR(pg_catalog.=) c.oid "
			        "WHERE ($1 OPERATOR(pg_catalog.=) 0 AND p.enabled) OR p.relid::pg_catalog.oid "
			        "OPERATOR(pg_catalog.=) $1 "
			        "ORDER BY n.nspname, c.relname",
			    {pg::SpiValue::Oid_(only)}, pg::SpiMode::ReadOnly);
		});
	});
	std::vector<Policy> out;
	for (size_t i = 0; i < r.rows.size(); i++) {
		Policy p;
		p.relid = r.OidAt(i, 0);
		p.time_column = r.At(i, 1);
		p.retain = r.At(i, 2);
		p.action = ParseStoredAction(r.At(i, 3));
		p.archive_to = r.IsNull(i, 4) ? InvalidOid : r.OidAt(i, 4);
		p.detach_schema = r.IsNull(i, 5) ? std::string() : r.At(i, 5);
		p.premake = static_cast<int>(r.Int(i, 6));
		p.batch_size = static_cast<int>(r.Int(i, 7));
		p.run_every = r.At(i, 8);
		p.timezone = r.IsNull(i, 9) ? std::string() : r.At(i, 9);
		p.enabled = r.BoolAt(i, 10);
		p.created_by = r.OidAt(i, 11);
		p.partitions_token = r.IsNull(i, 12) ? std::string() : r.At(i, 12);
		p.stored_token = r.IsNull(i, 13) ? std::string() : r.At(i, 13);
		p.stored_shape = r.IsNull(i, 14) ? std::string() : r.At(i, 14);
		p.version = r.At(i, 15);
		out.push_back(std::move(p));
	}
	return out;
}

Cutoff
PolicyCutoff(const Policy &p, pg::KeyKind kind, const std::string &tz) {
	Cutoff c{};
	c.local = pg::LocalMinusInterval(pg::InstantToLocal(tz, pg::NowInstant()), p.retain);
	c.instant = pg::LocalToInstant(tz, c.local);
	c.kind = kind;
	switch (kind) {
	case pg::KeyKind::Date:
		c.key = c.local / core::kUsecPerDay - ((c.local % core::kUsecPerDay) < 0 ? 1 : 0);
		c.key_type = DATEOID;
		break;
	case pg::KeyKind::Timestamp:
		c.key = c.local;
		c.key_type = TIMESTAMPOID;
		break;
	case pg::KeyKind::TimestampTz:
		c.key = c.instant;
		c.key_type = TIMESTAMPTZOID;
		break;
	}
	c.text = pg::KeyLiteral(kind, c.key);
	/*
	 * Whatever the calendar does with the interval, rows at or after now are
	 * never expired: a policy stored before its interval was validated (or a
	 * zone jump) cannot make a run delete current rows.
	 */
	if (p.retain != "0" && c.instant >= pg::NowInstant())
		pg::Throw(ERRCODE_INVALID_PARAMETER_VALUE,
		          "the cutoff of " + pg::GetRelation(p.relid).qualified + " (" + c.text +
		              ") is not before now; nothing was removed",
		          "retain \"" + p.retain + "\" ends after now on this date.", "Set a retain with no negative part.");
	return c;
}

int64_t
PolicyNowKey(const Policy &p, pg::KeyKind kind, const std::string &tz) {
	Policy zero = p;
	zero.retain = "0";
	return PolicyCutoff(zero, kind, tz).key;
}

} // namespace upkeep::maint
