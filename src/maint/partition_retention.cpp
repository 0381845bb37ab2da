/*
 * src/maint/partition_retention.cpp
 *
 * Partitioned policies: whole expired partitions are dropped or detached
 * (O(1) per partition, no row-by-row DELETE), and future months are kept
 * ready (premake).
 *
 * A partition is expired when its real upper bound, read from the catalog,
 * is at or before the cutoff: the partition that straddles the cutoff stays
 * with all its rows.  The DEFAULT partition is never expired, and neither is
 * the newest partition of the set (as pg_partman: a set never loses its last
 * child).  Each partition goes in its own batch, under upkeep.lock_timeout.
 */
#include <algorithm>

#include "upkeep/core/naming.hpp"
#include "upkeep/core/partition_plan.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/pending_detach.hpp"
#include "upkeep/maint/table_run.hpp"
#include "upkeep/pg/citus.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/report.hpp"
#include "upkeep/pg/spi.hpp"
#include "upkeep/pg/subtransaction.hpp"

extern "C" {
#include "storage/lmgr.h"
}

namespace upkeep::maint {

namespace {

/*
 * Rows in a partition about to be dropped or detached, as the planner
 * estimates them: the statistics' rows per page scaled to the pages the
 * partition has now (a partition analyzed while empty and filled since is
 * not "0 rows"); an exact count when it has no usable statistics (never
 * analyzed, or analyzed while empty).  Estimated, not counted, because a
 * count would scan data that is about to go.
 */
int64_t
PartitionRows(const pg::ChildPartition &c) {
	/*
	 * A distributed partition's rows are in its shards, the coordinator has
	 * neither them nor their statistics: counted there (Citus runs the count
	 * on every shard at once).
	 */
	if (pg::RowsOnShards(pg::CitusTableKind(c.oid)))
		return *pg::SpiQueryInts("SELECT pg_catalog.count(*) FROM " + c.qualified).at(0).at(0);
	const auto r = pg::SpiQueryInts(
	    "SELECT c.reltuples::pg_catalog.int8, c.relpages::pg_catalog.int8, (pg_catalog.pg_relation_size(c.oid) "
	    "OPERATOR(pg_catalog./) pg_catalog.current_setting('block_size')::pg_catalog.int8) "
	    "FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
	    {pg::SpiValue::Oid_(c.oid)});
	if (r.empty() || !r[0][0] || !r[0][1] || !r[0][2])
		return 0;
	const int64_t reltuples = *r[0][0], relpages = *r[0][1], blocks = *r[0][2];
	if (blocks == 0)
		return 0;
	if (reltuples >= 0 && relpages > 0)
		return static_cast<int64_t>(
		    static_cast<double>(reltuples) / static_cast<double>(relpages) * static_cast<double>(blocks) + 0.5);
	return *pg::SpiQueryInts("SELECT pg_catalog.count(*) FROM " + c.qualified).at(0).at(0);
}

std::string
Plural(int64_t n, const char *word) {
	const std::string w = word;
	const bool es = w.size() >= 2 && (w.compare(w.size() - 2, 2, "ch") == 0 || w.back() == 's');
	return std::to_string(n) + " " + w + (n == 1 ? "" : (es ? "es" : "s"));
}

/*
 * A new partition is made apart and ATTACHed (EnsureMonthPartitionLocked):
 * SHARE UPDATE EXCLUSIVE on the parent, which blocks no reader or writer,
 * and ACCESS EXCLUSIVE on its DEFAULT partition if there is one -- taken all
 * at once or not at all (see LockForPartitionChange), then the set as it is
 * now, by OID.
 */
PartitionedTable
LockForPremake(Oid parent) {
	return RequireMonthlyPartitionable(LockForPartitionChange(parent, pg::kShareUpdateExclusiveLock, {}).parent);
}

} // namespace

std::string
PremakeLabel(int64_t partitions, int premake) {
	return "PREMAKE " + Plural(partitions, "partition") + " (" + std::to_string(premake) + " months ahead)";
}

std::string
ExpiryLabel(const Policy &p, int64_t partitions, bool concurrently) {
	return std::string(core::Describe(p.action).label) + " " + Plural(partitions, "partition") + " (>" + p.retain +
	       ")" + (concurrently ? " CONCURRENTLY" : "");
}

bool
DetachesConcurrently(const Policy &p, const RunOptions &opt, bool has_default) {
	/* only where someone runs the handed-over detaches at top level: the worker */
	return p.action == core::Action::Detach && !opt.dry_run && opt.ByWorker() && opt.deferred != nullptr &&
	       !has_default;
}

void
RunPartitionExpiry(TableRun &run) {
	const Policy &p = run.GetPolicy();
	const PartitionedTable t = RequireMonthlyPartitionable(run.Rel());
	const Cutoff cutoff = PolicyCutoff(p, t.kind, PolicyTimeZone(p));
	const bool drop = p.action == core::Action::Drop;
	const std::string finalized = FinalizePendingDetaches(run); /* a DETACH CONCURRENTLY left half done */

	const std::vector<pg::ChildPartition> children = run.Partitions();
	const std::vector<pg::ChildPartition> expired = ExpiredPartitionsOf(children, cutoff.key);

	std::string names;
	for (const auto &c : expired)
		names += (names.empty() ? "" : ", ") + c.qualified;
	run.SetLabel(ExpiryLabel(p, static_cast<int64_t>(expired.size()), false));
	run.Note(finalized + (expired.empty() ? "cutoff " + cutoff.text : names));

	bool has_default = false;
	for (const auto &c : children)
		has_default = has_default || c.is_default;
	if (DetachesConcurrently(p, run.Options(), has_default)) {
		/*
		 * The worker detaches CONCURRENTLY (no ACCESS EXCLUSIVE on the parent),
		 * which PostgreSQL allows only as a top-level statement: hand the work
		 * over; it is logged when done.
		 */
		for (const auto &c : expired) {
			const int64_t rows = PartitionRows(c);
			run.AddRows(rows);
			run.Options().deferred->push_back(
			    DeferredDetach{t.rel.oid, t.rel.qualified, c.oid, c.qualified, t.rel.owner, p.detach_schema, rows});
		}
		run.SetLabel(ExpiryLabel(p, static_cast<int64_t>(expired.size()), true));
		run.Note(finalized + (expired.empty() ? "cutoff " + cutoff.text : "handed to the worker: " + names));
		return;
	}
	/*
	 * Each change takes its locks -- parent, partitions, DEFAULT, all ACCESS
	 * EXCLUSIVE as DROP and DETACH take them -- all at once or none, never
	 * waiting while it holds one: a reader that locks a partition and then
	 * the parent (or the other way round) can never deadlock with it, and no
	 * exclusive request queues in front of the application.  The partitions
	 * are then taken by OID, by the names they have now; one changed or gone
	 * meanwhile is left alone.
	 */
	auto change_note = [&](const PartitionChange &ch) {
		if (ch.gone > 0)
			run.Note(names + "; " + std::to_string(ch.gone) + " changed or dropped meanwhile, left alone");
	};
	if (drop && !run.DryRun() && expired.size() > 1) {
		/*
		 * All expired partitions in one DROP: one short ACCESS EXCLUSIVE on
		 * the parent instead of one per partition, as a DBA's own DROP would.
		 * If that fails for one of them (say, a foreign key), drop them one
		 * by one below, so the others still go and the culprit is named.
		 */
		auto all_at_once = [&]() -> int64_t {
			const PartitionChange ch = LockForPartitionChange(t.rel.oid, pg::kAccessExclusiveLock, expired);
			change_note(ch);
			if (ch.parts.empty())
				return 0;
			int64_t rows = 0;
			std::string list;
			for (const auto &c : ch.parts) {
				rows += PartitionRows(c);
				list += (list.empty() ? "" : ", ") + c.qualified;
			}
			pg::SpiExec("DROP TABLE " + list, {}, pg::SpiMode::Write);
			return rows;
		};
		if (!run.TryBatch(all_at_once, BatchLock::None))
			return;
	}
	for (const auto &want : expired) {
		run.Batch(
		    [&]() -> int64_t {
			    if (run.DryRun())
				    return PartitionRows(want);
			    const PartitionChange ch = LockForPartitionChange(t.rel.oid, pg::kAccessExclusiveLock, {want});
			    change_note(ch);
			    if (ch.parts.empty())
				    return 0;
			    const pg::ChildPartition &c = ch.parts.front();
			    const int64_t rows = PartitionRows(c);
			    if (drop) {
				    pg::SpiExec("DROP TABLE " + c.qualified, {}, pg::SpiMode::Write);
			    } else {
				    pg::SpiExec("ALTER TABLE " + ch.parent.qualified + " DETACH PARTITION " + c.qualified, {},
				                pg::SpiMode::Write);
				    pg::FaultPoint("retention-between-detach-move");
				    if (!p.detach_schema.empty())
					    pg::SpiExec("ALTER TABLE " + c.qualified + " SET SCHEMA " + pg::QuoteIdent(p.detach_schema), {},
					                pg::SpiMode::Write);
			    }
			    return rows;
		    },
		    true, BatchLock::None);
	}
}

void
RunPremake(TableRun &run) {
	const Policy &p = run.GetPolicy();
	const PartitionedTable t = RequireMonthlyPartitionable(run.Rel());
	const std::string tz = PolicyTimeZone(p);
	const Cutoff cutoff = PolicyCutoff(p, t.kind, tz);
	const core::YearMonth now = pg::MonthContaining(t.kind, PolicyNowKey(p, t.kind, tz), tz);
	const core::YearMonth cutoff_month = pg::MonthContaining(t.kind, cutoff.key, tz);

	const std::vector<pg::ChildPartition> children = run.Partitions();
	std::vector<core::PartitionMonths> retained;
	for (const auto &c : children) {
		if (c.is_default || c.upper.value <= cutoff.key)
			continue;
		core::PartitionMonths months;
		if (c.lower.value != std::numeric_limits<int64_t>::min())
			months.first = pg::MonthContaining(t.kind, c.lower.value, tz);
		if (c.upper.value != std::numeric_limits<int64_t>::max())
			months.last = pg::MonthContaining(t.kind, c.upper.value - 1, tz);
		retained.push_back(months);
	}
	const core::MonthWindow window = core::PremakeWindow(now, p.premake, cutoff_month, retained);
	const core::YearMonth first = window.first, last = window.last;
	if (core::MonthsBetween(first, last) > core::kMaxPremakeMonths)
		pg::Throw(ERRCODE_PROGRAM_LIMIT_EXCEEDED, "premake would create more than 1200 months");

	std::vector<core::YearMonth> missing;
	for (core::YearMonth m = first; m <= last; m = core::AddMonths(m, 1)) {
		const int64_t lo = pg::MonthStart(t.kind, m, tz).value;
		const int64_t hi = pg::MonthStart(t.kind, core::AddMonths(m, 1), tz).value;
		bool covered = false;
		for (const auto &c : children)
			covered = covered || (!c.is_default && c.lower.value < hi && lo < c.upper.value);
		if (!covered)
			missing.push_back(m);
	}
	run.SetLabel(PremakeLabel(static_cast<int64_t>(missing.size()), p.premake));
	run.SetUnit("partition"); /* rows_affected of a premake counts partitions made */
	if (missing.empty())
		return;
	if (run.DryRun()) {
		/* the partitions a real run would make, by name */
		auto clip = [](std::string_view s, size_t limit) { return pg::ClipToEncoding(std::string(s), limit); };
		std::string names;
		for (const auto &m : missing)
			names += (names.empty() ? "" : ", ") +
			         pg::QuoteQualified(t.rel.nspname, core::PartitionName(t.rel.name, m, clip));
		run.Note(names);
	}
	/*
	 * Rows moved out of DEFAULT are announced (NOTICE and the run_log message)
	 * once the batch that moved them is kept: a batch rolled back and made
	 * again month by month moves them again, and that is the move to tell.
	 */
	std::vector<std::string> moves, kept;
	auto announce = [&] {
		for (const auto &m : moves) {
			kept.push_back(m);
			if (run.Options().notices)
				pg::Notice("upkeep: " + run.Rel().qualified + ": " + m);
		}
		moves.clear();
		std::string note;
		for (const auto &m : kept)
			note += (note.empty() ? "" : "; ") + m;
		if (!note.empty())
			run.Note(note);
	};
	auto make_month = [&](const PartitionedTable &now, core::YearMonth m) -> int64_t {
		bool created = false;
		std::string moved;
		(void)EnsureMonthPartitionLocked(now, m, tz, p.action == core::Action::Archive, &created, &moved);
		if (!moved.empty())
			moves.push_back(moved);
		return created ? 1 : 0;
	};
	if (!run.DryRun() && missing.size() > 1) {
		/* every missing month in one transaction; month by month only if that fails */
		auto all_months = [&]() -> int64_t {
			moves.clear();
			const PartitionedTable now = LockForPremake(t.rel.oid);
			int64_t made = 0;
			for (const auto &m : missing)
				made += make_month(now, m);
			return made;
		};
		if (!run.TryBatch(all_months, BatchLock::None)) {
			announce();
			return;
		}
	}
	/* month by month: a month that cannot be made (say, its name is taken) fails alone, and is reported */
	std::optional<pg::PgError> first_failure;
	for (const auto &m : missing) {
		auto one_month = [&]() -> int64_t {
			moves.clear();
			if (run.DryRun())
				return 1;
			return make_month(LockForPremake(t.rel.oid), m);
		};
		std::optional<pg::PgError> failure = run.TryBatch(one_month, BatchLock::None);
		if (failure && !first_failure)
			first_failure = failure;
		if (!failure)
			announce();
	}
	if (first_failure) {
		if (kept.empty())
			throw *first_failure;
		/* the failure is the action's message: it still says what was moved out of DEFAULT and kept */
		std::string detail = first_failure->Detail() ? std::string(first_failure->Detail()) + "; " : std::string();
		for (size_t i = 0; i < kept.size(); i++)
			detail += (i ? "; " : "") + kept[i];
		throw pg::PgError(first_failure->SqlErrCode(), first_failure->what(), detail.c_str(), first_failure->Hint(),
		                  first_failure->Filename(), first_failure->Lineno(), first_failure->Funcname());
	}
}

} // namespace upkeep::maint
