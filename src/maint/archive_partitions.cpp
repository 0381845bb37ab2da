/*
 * src/maint/archive_partitions.cpp
 *
 * Archival of a partitioned table, whole partitions.
 *
 * Partitioned source: whole expired partitions move (DETACH, ADD COLUMN
 * archived_at with a default -- metadata only --, ATTACH to the archive),
 * keeping their relfilenode: no row is copied.  Partitions pg_upkeep made
 * carry a CHECK equal to their bounds, so ATTACH does not scan them either.
 */
#include <algorithm>
#include <limits>

#include "upkeep/core/naming.hpp"
#include "upkeep/maint/archive.hpp"
#include "upkeep/maint/archive_move.hpp"
#include "upkeep/maint/expired_batches.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/run_log.hpp"
#include "upkeep/maint/table_run.hpp"
#include "upkeep/maint/verify.hpp"
#include "upkeep/pg/batch_digest.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/report.hpp"
#include "upkeep/pg/row_hash.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
}

namespace upkeep::maint {

namespace {

/*
 * Before a partition moves, make sure it carries a validated CHECK equal to
 * its bounds, so that ATTACH to the archive needs no scan.  Partitions made
 * by pg_upkeep for a set that archives have it from birth; others (made
 * before the policy, or by hand) get it here, in two batches: ADD ... NOT
 * VALID (a brief lock, no scan), then VALIDATE, which scans under SHARE
 * UPDATE EXCLUSIVE, so the application keeps reading and writing.  The move
 * itself -- which holds ACCESS EXCLUSIVE on the source -- then stays as
 * short for a million rows as for ten.
 */
void
ProveBounds(TableRun &run, const PartitionedTable &src, const pg::ChildPartition &c) {
	const std::string name = BoundsConstraintName(c.name);
	pg::SpiResult r = pg::SpiExec("SELECT k.convalidated FROM pg_catalog.pg_constraint k WHERE k.conrelid "
	                              "OPERATOR(pg_catalog.=) $1 AND k.conname OPERATOR(pg_catalog.=) $2 AND k.contype "
	                              "OPERATOR(pg_catalog.=) 'c'",
	                              {pg::SpiValue::Oid_(c.oid), pg::SpiValue::Name(name)}, pg::SpiMode::ReadOnly);
	if (!r.rows.empty() && r.BoolAt(0, 0))
		return;
	const std::string con = pg::QuoteIdent(name);
	/* the partition by OID, under the lock the statement takes, by the name it has now */
	auto locked_name = [&](int mode) {
		pg::LockRelationById(c.oid, mode);
		return pg::GetRelation(c.oid).qualified;
	};
	if (r.rows.empty())
		run.Batch(
		    [&]() -> int64_t {
			    pg::SpiExec("ALTER TABLE " + locked_name(pg::kAccessExclusiveLock) + " ADD CONSTRAINT " + con +
			                    " CHECK (" +
			                    BoundsCheck(src,
			                                c.lower.value == std::numeric_limits<int64_t>::min()
			                                    ? std::string()
			                                    : pg::KeyLiteral(src.kind, c.lower.value),
			                                pg::KeyLiteral(src.kind, c.upper.value)) +
			                    ") NOT VALID",
			                {}, pg::SpiMode::Write);
			    return 0;
		    },
		    true, BatchLock::None);
	run.Batch(
	    [&]() -> int64_t {
		    pg::SpiExec("ALTER TABLE " + locked_name(pg::kShareUpdateExclusiveLock) + " VALIDATE CONSTRAINT " + con, {},
		                pg::SpiMode::Write);
		    return 0;
	    },
	    true, BatchLock::None);
}

} // namespace

/* Whole partitions: DETACH from the source, add archived_at (metadata only), ATTACH to the archive. */
void
ArchivePartitions(TableRun &run, ArchivePlan &plan, const Cutoff &cutoff, int64_t run_id,
                  const PartitionedTable *source_key) {
	const PartitionedTable src = source_key ? *source_key : RequireMonthlyPartitionable(plan.source);
	if (plan.archive.relkind != RELKIND_PARTITIONED_TABLE)
		pg::Throw(ERRCODE_WRONG_OBJECT_TYPE,
		          "archive " + plan.archive.qualified + " of partitioned " + plan.source.qualified +
		              " is not partitioned",
		          "Whole partitions move by DETACH/ATTACH; the archive must be range-partitioned on \"" +
		              src.key.column + "\".");
	const PartitionedTable arc = RequireMonthlyPartitionable(plan.archive);
	if (arc.key.column != src.key.column || arc.kind != src.kind)
		pg::Throw(ERRCODE_INVALID_OBJECT_DEFINITION,
		          "archive " + plan.archive.qualified + " is not partitioned like " + plan.source.qualified);
	const std::vector<pg::ChildPartition> expired =
	    ExpiredPartitionsOf(pg::ListRangePartitions(src.rel.oid), cutoff.key);
	run.SetLabel(std::string(core::Describe(core::Action::Archive).label) + " " + std::to_string(expired.size()) +
	             " partition" + (expired.size() == 1 ? "" : "s") + " (>" + run.GetPolicy().retain + ") to " +
	             plan.archive.qualified);
	const std::string tz = PolicyTimeZone(run.GetPolicy());
	for (const auto &want : expired) {
		if (!run.DryRun())
			ProveBounds(run, src, want);
		run.Batch(
		    [&]() -> int64_t {
			    if (run.DryRun())
				    return std::max<int64_t>(static_cast<int64_t>(pg::RelTuples(want.oid).value_or(0)), 0);
			    /*
			     * Count and hash the partition's rows first, under SHARE on it
			     * alone: readers go on, writers wait, and nothing can change the
			     * rows until this transaction ends -- the manifest records exactly
			     * what moves, as verifiable as a batch of rows.  The source's
			     * parent is not locked yet, so the scan holds up nobody's queries
			     * on the set.
			     */
			    pg::LockRelationById(want.oid, pg::kShareLock);
			    if (!pg::LookupRelation(want.oid))
				    return 0;
			    const pg::RelInfo part_now = pg::GetRelation(want.oid);
			    core::Fingerprint content;
			    pg::WithFingerprintSettings([&] {
				    for (auto &[k, fp] : HashArchiveRows(part_now, plan.columns, false))
					    content.Merge(fp);
			    });
			    /*
			     * DETACH locks the source and the partition (and the source's
			     * DEFAULT), ATTACH the archive and its DEFAULT: all of them at once
			     * or none, then both sides by the names they have now.
			     */
			    std::vector<pg::RelLock> also{{plan.archive.oid, pg::kShareUpdateExclusiveLock}};
			    const Oid arc_def = pg::DefaultPartitionOf(plan.archive.oid);
			    if (arc_def != InvalidOid)
				    also.push_back({arc_def, pg::kAccessExclusiveLock});
			    const PartitionChange change =
			        LockForPartitionChange(src.rel.oid, pg::kAccessExclusiveLock, {want}, also);
			    if (change.parts.empty())
				    return 0; /* detached, re-bounded or dropped by someone else meanwhile */
			    const pg::ChildPartition &c = change.parts.front();
			    RefreshArchive(plan);
			    const int64_t rows = static_cast<int64_t>(content.Rows());
			    /* a partition FROM (MINVALUE) keeps that bound, and its own name */
			    const bool open_below = c.lower.value == std::numeric_limits<int64_t>::min();
			    const std::string lo = open_below ? "MINVALUE" : pg::KeyLiteral(src.kind, c.lower.value);
			    const std::string hi = pg::KeyLiteral(src.kind, c.upper.value);
			    pg::SpiExec("ALTER TABLE " + change.parent.qualified + " DETACH PARTITION " + c.qualified, {},
			                pg::SpiMode::Write);
			    pg::FaultPoint("partition-between-detach-attach");
			    if (!HasColumn(c.oid, "archived_at"))
				    pg::SpiExec("ALTER TABLE " + c.qualified +
				                    " ADD COLUMN archived_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()",
				                {}, pg::SpiMode::Write);
			    /* name it after the archive, so the source's month name is free again */
			    const std::string new_name =
			        open_below
			            ? std::string()
			            : core::FitIdentifier(plan.archive.name,
			                                  core::MonthSuffix(pg::MonthContaining(src.kind, c.lower.value, tz)),
			                                  [](std::string_view s, size_t limit) {
				                                  return pg::ClipToEncoding(std::string(s), limit);
			                                  });
			    std::string moved = c.qualified;
			    if (!open_below && pg::RelationByName(plan.archive.nspoid, new_name) == InvalidOid) {
				    pg::SpiExec("ALTER TABLE " + c.qualified + " RENAME TO " + pg::QuoteIdent(new_name), {},
				                pg::SpiMode::Write);
				    const pg::RelInfo renamed = pg::GetRelation(c.oid);
				    moved = renamed.qualified;
				    if (plan.archive.nspoid != renamed.nspoid)
					    pg::SpiExec("ALTER TABLE " + moved + " SET SCHEMA " + pg::QuoteIdent(plan.archive.nspname), {},
					                pg::SpiMode::Write);
				    moved = pg::QuoteQualified(plan.archive.nspname, new_name);
			    }
			    pg::SpiExec("ALTER TABLE " + plan.archive.qualified + " ATTACH PARTITION " + moved +
			                    " FOR VALUES FROM (" + lo + ") TO (" + hi + ")",
			                {}, pg::SpiMode::Write);
			    RecordManifest(run_id, plan, "partition", rows, std::nullopt, std::nullopt, src.key.column,
			                   open_below ? std::nullopt : std::optional<std::string>(lo), hi,
			                   std::optional<core::Hash128>(content.Sum()), moved);
			    return rows;
		    },
		    true, BatchLock::None);
	}
}

} // namespace upkeep::maint
