/*
 * src/maint/steady_state.cpp
 *
 * Skipping partition sets with nothing to do, from a stored summary checked
 * against a token of the set's partitions (see steady_state.hpp).
 */
#include <limits>

#include "upkeep/core/partition_shape.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/steady_state.hpp"
#include "upkeep/maint/table_run.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/report.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "storage/lmgr.h"
}

namespace upkeep::maint {

namespace {

/*
 * The token of each parent's partitions: which tables, and the pg_inherits
 * rows attaching them.  NULL while a detach is pending (the partition
 * descriptor hides that partition): such a set always gets a full run, which
 * finalizes the detach.
 */
std::string
TokenSelect(const std::string &which_parents) {
	return "SELECT i.inhparent AS parent, CASE WHEN pg_catalog.bool_or(i.inhdetachpending) THEN NULL ELSE "
	       "pg_catalog.md5(pg_catalog.string_agg(i.inhrelid::pg_catalog.text "
	       "OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) i.xmin::pg_catalog.text, ',' ORDER BY i.inhrelid)) "
	       "END AS token FROM pg_catalog.pg_inherits i " +
	       which_parents + " GROUP BY i.inhparent";
}

} // namespace

bool
KeepsShape(const Policy &p, const pg::RelInfo &rel) {
	return rel.relkind == RELKIND_PARTITIONED_TABLE && core::Describe(p.action).keeps_set_summary;
}

std::string
PartitionTokensSql(const std::string &only_param) {
	/* one pass for every set a run may skip: grouping beats a lookup per policy */
	return TokenSelect("JOIN upkeep.policy q ON q.relid::pg_catalog.oid OPERATOR(pg_catalog.=) i.inhparent "
	                   "AND q.action OPERATOR(pg_catalog.=) ANY ('{drop,detach}') "
	                   "AND (" +
	                   only_param +
	                   " OPERATOR(pg_catalog.=) 0 OR q.relid::pg_catalog.oid "
	                   "OPERATOR(pg_catalog.=) " +
	                   only_param + ")");
}

bool
SteadyStateOutcomes(const Policy &p, const RunOptions &opt, const pg::RelInfo &rel, std::vector<Outcome> *out) {
	if (!KeepsShape(p, rel) || p.partitions_token.empty() || p.partitions_token != p.stored_token)
		return false;
	const std::optional<core::PartitionShape> shape = core::DecodeShape(p.stored_shape);
	if (!shape || shape->kind < static_cast<int>(pg::KeyKind::Date) ||
	    shape->kind > static_cast<int>(pg::KeyKind::TimestampTz))
		return false;
	const double t0 = pg::NowMs();
	const auto kind = static_cast<pg::KeyKind>(shape->kind);
	const std::string tz = PolicyTimeZone(p);
	const Cutoff cutoff = PolicyCutoff(p, kind, tz);
	if (!core::NothingExpires(*shape, cutoff.key))
		return false;
	if (opt.premake) {
		/* RunPremake wants every month from this one to `premake` months ahead */
		const core::YearMonth now = pg::MonthContaining(kind, PolicyNowKey(p, kind, tz), tz);
		if (!core::CoversWithoutGap(*shape, pg::MonthStart(kind, now, tz).value,
		                            pg::MonthStart(kind, core::AddMonths(now, p.premake + 1), tz).value))
			return false;
	}

	/* what the full run reports for a set with nothing to do */
	const core::Status status = opt.dry_run ? core::Status::DryRun : core::Status::Ok;
	const double ms = pg::NowMs() - t0;
	if (opt.premake)
		out->push_back(Outcome{rel.oid, rel.qualified, PremakeLabel(0, p.premake), status, "", 0, 0, ms});
	out->push_back(Outcome{rel.oid, rel.qualified, ExpiryLabel(p, 0, DetachesConcurrently(p, opt, shape->has_default)),
	                       status, "cutoff " + cutoff.text, 0, 0, ms, p.action, core::Grain::Partitions});
	return true;
}

void
RememberShape(const Policy &p, const pg::RelInfo &rel) {
	if (!KeepsShape(p, rel))
		return;
	/* the lock every change of the set takes: the token and the bounds below describe the same set */
	if (!pg::PgCall([&] { return ConditionalLockRelationOid(rel.oid, ShareUpdateExclusiveLock); }))
		return;
	pg::SpiResult tok =
	    pg::SpiExec("SELECT token FROM (" + TokenSelect("WHERE i.inhparent OPERATOR(pg_catalog.=) $1") + ") t",
	                {pg::SpiValue::Oid_(rel.oid)}, pg::SpiMode::ReadOnly);
	if (tok.rows.empty() || tok.IsNull(0, 0))
		return;
	const std::string token = tok.At(0, 0);
	const PartitionedTable t = RequireMonthlyPartitionable(rel);
	std::vector<core::KeyRange> ranges;
	bool has_default = false;
	for (const auto &c : pg::ListRangePartitions(rel.oid)) {
		if (c.is_default)
			has_default = true;
		else
			ranges.push_back(core::KeyRange{c.lower.value, c.upper.value});
	}
	const std::string shape =
	    core::EncodeShape(core::SummarizeShape(static_cast<int>(t.kind), has_default, std::move(ranges)));
	if (token != p.stored_token || shape != p.stored_shape)
		pg::AsExtensionOwner([&] {
			pg::SpiExec("INSERT INTO upkeep.policy_state AS s (relid, partitions_token, partitions_shape) "
			            "VALUES ($1, $2, $3) ON CONFLICT (relid) DO UPDATE SET "
			            "partitions_token = EXCLUDED.partitions_token, partitions_shape = EXCLUDED.partitions_shape",
			            {pg::SpiValue::Oid_(rel.oid), pg::SpiValue::Text(token), pg::SpiValue::Text(shape)},
			            pg::SpiMode::Write);
		});
}

} // namespace upkeep::maint
