/*
 * src/maint/engine.cpp
 *
 * The run loop over the policies, and the presets of how a run is driven
 * (see engine.hpp); the work on each table is table_run.cpp's.
 */
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "upkeep/maint/engine.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/run_log.hpp"
#include "upkeep/maint/steady_state.hpp"
#include "upkeep/maint/table_run.hpp"
#include "upkeep/pg/citus.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/pause.hpp"
#include "upkeep/pg/replica_pace.hpp"
#include "upkeep/pg/report.hpp"
#include "upkeep/pg/spi.hpp"
#include "upkeep/pg/subtransaction.hpp"
#include "upkeep/pg/table_lock.hpp"

extern "C" {
#include "catalog/pg_class.h"
}

namespace upkeep::maint {

namespace {

std::string
FormatMs(double ms) {
	char buf[32];
	snprintf(buf, sizeof(buf), "%.1f ms", ms);
	return buf;
}

} // namespace

RunOptions
RunOptions::CleanupOldData(bool dry_run, Oid only) {
	RunOptions o;
	o.driver = Driver::CallerTransaction;
	o.dry_run = dry_run;
	o.only = only;
	return o;
}

RunOptions
RunOptions::ArchiveTable() {
	RunOptions o;
	o.driver = Driver::CallerTransaction;
	o.notices = false;
	return o;
}

RunOptions
RunOptions::Procedure(bool dry_run, Oid only) {
	RunOptions o;
	o.driver = Driver::Procedure;
	o.dry_run = dry_run;
	o.only = only;
	o.per_batch_commits = !dry_run; /* a dry run changes nothing: one transaction, possibly the caller's */
	o.premake = true;
	return o;
}

RunOptions
RunOptions::Worker(std::vector<Oid> due, std::vector<DeferredDetach> *deferred) {
	RunOptions o;
	o.driver = Driver::Worker;
	o.per_batch_commits = true;
	o.premake = true;
	o.notices = false;
	o.subset = std::move(due);
	o.deferred = deferred;
	return o;
}

std::string
OutcomeActionText(const Outcome &o) {
	if (o.status == core::Status::Ok)
		return o.label;
	/* a dry run says what it would act on: the partitions by name, the cutoff, tables a cascade would change */
	if (o.status == core::Status::DryRun)
		return o.label + " [dry run" + (o.message.empty() ? "" : ": " + o.message) + "]";
	return o.label + " [" + core::StatusText(o.status) + (o.message.empty() ? "" : ": " + o.message) + "]";
}

namespace {

/* The policy's table for this run, or nullopt (vanished, or not the caller's). */
std::optional<pg::RelInfo>
RunnableTable(const Policy &p, const RunOptions &opt, Oid caller, bool caller_is_super) {
	auto rel = pg::LookupRelation(p.relid);
	if (!rel)
		return std::nullopt;
	if (opt.ByWorker() || caller_is_super)
		return rel;
	if (!pg::MayMaintain(p.relid, caller))
		return std::nullopt;
	return rel;
}

std::string
RetentionLabel(const Policy &p) {
	return core::RetentionLabel(p.action, p.retain);
}

} // namespace

std::vector<Outcome>
RunMaintenance(const RunOptions &opt) {
	const Oid caller = pg::CurrentUser();
	const bool caller_is_super = pg::IsSuperuser(caller);
	const bool per_batch = opt.per_batch_commits;
	std::vector<Outcome> out;
	pg::OwnerPathRun owner_paths; /* each owner's search_path looked up once per run, not per batch */

	if (per_batch && !opt.dry_run) {
		/* leftovers of a cancelled CALL in this session, or of crashed runs */
		pg::ReleaseStaleTableLocks();
		MarkInterruptedRuns();
		pg::CommitAsync();
	} else if (!opt.dry_run) {
		/* cleanup_old_data(): crashed runs' rows too, in the caller's transaction (rolled back with it) */
		MarkInterruptedRuns();
	}

	std::vector<Policy> policies = LoadPolicies(opt.only);
	if (opt.only != InvalidOid) {
		pg::RelInfo rel = pg::GetRelation(opt.only);
		if (!pg::MayMaintain(rel.oid, caller))
			RequireOwner(rel); /* refused with the owner's error */
		if (policies.empty()) {
			std::string msg = "table " + rel.qualified + " has no pg_upkeep policy";
			pg::Throw(ERRCODE_UNDEFINED_OBJECT, msg, nullptr, "Create one with upkeep.set_policy().");
		}
	}
	const int64_t run_id = opt.dry_run ? 0 : NewRunId();
	const std::string run_by = RunByLabel(opt.ByWorker());

	struct Touched {
		Oid relid;
		std::string name;
		Oid owner;
	};
	std::vector<Touched> touched;

	for (const Policy &p : policies) {
		if (!opt.subset.empty() && std::find(opt.subset.begin(), opt.subset.end(), p.relid) == opt.subset.end())
			continue;
		pg::CheckInterrupts();
		auto rel = RunnableTable(p, opt, caller, caller_is_super);
		if (!rel)
			continue;
		/* per-batch runs hold it at session level across their commits: released when the table's work ends */
		pg::TableRunLock table_lock(rel->oid, per_batch);
		if (!table_lock.Held()) {
			Outcome o{rel->oid,
			          rel->qualified,
			          RetentionLabel(p),
			          core::Status::Skipped,
			          "another pg_upkeep run is processing this table",
			          0,
			          0,
			          0,
			          p.action};
			if (!opt.dry_run) {
				LogOutcome(run_id, rel->oid, rel->qualified, o.label, o.status, o.message, run_by);
				if (per_batch)
					pg::CommitAsync();
			}
			if (opt.notices)
				pg::Notice("upkeep: " + rel->qualified + ": " + OutcomeActionText(o));
			pg::Log("upkeep: " + rel->qualified + ": " + OutcomeActionText(o));
			out.push_back(std::move(o));
			continue;
		}
		TableRun run(opt, p, *rel, run_id, run_by, &out);
		/*
		 * Everything for this table in its unit: whatever fails -- set-up,
		 * an action, the summary, a commit -- rolls back this table's
		 * unfinished work only, is logged, and the next table runs.
		 */
		(void)run.Guard(
		    RetentionLabel(p),
		    [&] {
			    pg::FaultPoint("table-setup");
			    if (SteadyStateOutcomes(p, opt, *rel, &out))
				    return; /* a partition set with nothing to do, known without reading its bounds */
			    const bool partitioned = rel->relkind == RELKIND_PARTITIONED_TABLE;
			    bool premade = true;
			    if (opt.premake && partitioned)
				    premade = run.Action("PREMAKE (" + std::to_string(p.premake) + " months ahead)",
				                         [&] { RunPremake(run); });
			    const bool ok = run.Action(
			        RetentionLabel(p),
			        [&] {
				        switch (p.action) {
				        case core::Action::Delete:
					        RunDeleteAction(run);
					        break;
				        case core::Action::Archive:
					        RunArchiveAction(run);
					        break;
				        case core::Action::Drop:
				        case core::Action::Detach:
					        RunPartitionExpiry(run);
					        break;
				        }
			        },
			        p.action);
			    /*
			     * delete and archive take rows away: statistics to refresh (drop and
			     * detach leave them valid).  Not for a table in Citus shards: an
			     * ANALYZE from the coordinator runs on every shard while the run
			     * waits, and the worker nodes' autovacuum keeps the shards'
			     * statistics, which are the ones their planners use.
			     */
			    if (ok && !opt.dry_run && run.Rows() > 0 && !core::Describe(p.action).partitions_only &&
			        !pg::RowsOnShards(pg::CitusTableKind(rel->oid)))
				    touched.push_back({rel->oid, run.Rel().qualified, rel->owner});
			    if (premade && ok && KeepsShape(p, *rel) && !opt.dry_run && per_batch) {
				    /* an optimisation: if it cannot be had, the next run reads the set in full */
				    (void)pg::TrySubtransaction([&] { RememberShape(p, run.Rel()); });
				    run.CommitPoint(); /* releases the parent's lock RememberShape took */
			    }
		    },
		    p.action);
		table_lock.Release(); /* an exception leaving the table's work releases it too: ~TableRunLock */
	}

	/* fresh statistics for the tables that lost rows (dropped partitions leave the others' stats valid) */
	if (!touched.empty()) {
		const double t0 = pg::NowMs();
		std::string names;
		int analyzed = 0;
		for (const auto &t : touched) {
			pg::CheckInterrupts();
			pg::ReportActivity("pg_upkeep: ANALYZE " + t.name);
			std::string name = t.name;
			auto failure = pg::TrySubtransaction([&] {
				pg::AsOwner(t.owner, [&] {
					/* by OID: take ANALYZE's lock first, then the name it has under that lock */
					pg::LockRelationById(t.relid, pg::kShareUpdateExclusiveLock);
					auto now = pg::LookupRelation(t.relid);
					if (!now)
						return;
					name = now->qualified;
					pg::SpiExec("ANALYZE " + name, {}, pg::SpiMode::Write);
				});
			});
			if (!failure) {
				names += (names.empty() ? "" : ", ") + name;
				analyzed++;
			} else {
				Outcome o{t.relid, name, "ANALYZE", FailureStatus(*failure), FailureMessage(*failure), 0, 0, 0};
				if (!opt.dry_run)
					LogOutcome(run_id, t.relid, name, o.label, o.status, o.message, run_by);
				const std::string line = "upkeep: " + name + ": " + OutcomeActionText(o);
				if (opt.notices)
					pg::Notice(line);
				pg::Log(line);
				out.push_back(std::move(o));
			}
			if (per_batch)
				pg::CommitAsync();
		}
		if (analyzed > 0) {
			Outcome o{InvalidOid, names, "ANALYZE", core::Status::Ok, "", analyzed, analyzed, pg::NowMs() - t0};
			if (opt.notices)
				pg::Notice("upkeep: ANALYZE " + names + " (" + FormatMs(o.ms) + ")");
			out.push_back(std::move(o));
		}
	}
	if (!opt.dry_run) {
		TrimRunLog();
		if (per_batch)
			pg::CommitAsync();
	}
	return out;
}

} // namespace upkeep::maint
