/*
 * src/maint/engine.cpp
 *
 * The run loop and the per-table transaction rules (see engine.hpp and
 * table_run.hpp).
 */
#include <cmath>
#include <cstdio>

#include "upkeep/maint/engine.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/run_log.hpp"
#include "upkeep/maint/steady_state.hpp"
#include "upkeep/maint/table_run.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/pause.hpp"
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

bool
IsCancel(const pg::PgError &e) {
	return e.SqlErrCode() == ERRCODE_QUERY_CANCELED || e.SqlErrCode() == ERRCODE_ADMIN_SHUTDOWN;
}

} // namespace

std::string
OutcomeActionText(const Outcome &o) {
	if (o.status == "ok" || o.status == "dry run")
		return o.action + (o.status == "dry run" ? " [dry run]" : "");
	return o.action + " [" + o.status + (o.message.empty() ? "" : ": " + o.message) + "]";
}

TableRun::TableRun(const RunOptions &opt, const Policy &policy, const pg::RelInfo &rel, int64_t run_id,
                   const std::string &run_by, std::vector<Outcome> *out)
    : opt_(opt), policy_(policy), rel_(rel), run_id_(run_id), run_by_(run_by), out_(out) {
}

const std::vector<pg::ChildPartition> &
TableRun::Partitions() {
	if (!partitions_)
		partitions_ = pg::ListRangePartitions(rel_.oid);
	return *partitions_;
}

void
TableRun::Commit() {
	if (opt_.mode == RunMode::CommitPerBatch)
		pg::CommitAsync();
}

int64_t
TableRun::Batch(const std::function<int64_t()> &fn, bool may_pause) {
	const bool per_batch = opt_.mode == RunMode::CommitPerBatch;
	/* upkeep.batch_pause: room for the application between two batches (never in the caller's transaction) */
	if (may_pause && per_batch && batches_ > 0 && !opt_.dry_run)
		pg::PauseInterruptibly(pg::g_batch_pause_ms);
	pg::CheckInterrupts();
	partitions_.reset(); /* a batch may change them */
	if (!opt_.dry_run && log_id_ == 0) {
		/* first batch of the action: the 'running' row, visible to others while we work */
		log_id_ = LogStart(run_id_, rel_.oid, rel_.qualified, label_, run_by_);
		Commit();
	}
	/* what pg_stat_activity shows while the batch works (SPI statements are not shown there) */
	pg::ReportActivity("pg_upkeep: " + label_ + " on " + rel_.qualified + ": batch " + std::to_string(batches_ + 1) +
	                   " running, " + std::to_string(rows_) + " rows so far");
	pg::SubxactState sub{};
	if (per_batch)
		sub = pg::BeginSubtransaction();
	bool in_sub = per_batch;
	pg::OwnerContext ctx = pg::EnterOwnerContext(rel_.owner);
	bool in_ctx = true;
	int64_t rows;
	try {
		rows = fn();
		pg::LeaveOwnerContext(ctx);
		in_ctx = false;
		if (per_batch) {
			/* progress is logged in the batch's own transaction: the log never claims uncommitted work */
			if (!opt_.dry_run && log_id_ != 0 && rows >= 0)
				LogProgress(log_id_, rows_ + rows, batches_ + 1);
			pg::CommitSubtransaction(sub);
			in_sub = false;
		}
	} catch (...) {
		if (in_sub)
			pg::RollbackSubtransaction(sub); /* restores user, security context and GUCs */
		else if (in_ctx)
			pg::LeaveOwnerContext(ctx);
		throw;
	}
	if (per_batch) {
		pg::FaultPoint("batch-before-commit");
		/*
		 * A batch commits without waiting for its WAL flush: if the server
		 * dies first, the whole batch is undone (its rows are back and the
		 * next run takes them), which never loses or duplicates a row --
		 * and maintenance neither waits on fsync nor on synchronous standbys.
		 */
		pg::CommitAsync();
	}
	if (rows >= 0) {
		rows_ += rows;
		batches_++;
	}
	if (rows >= 0) {
		const double now = pg::NowMs();
		pg::ReportActivity("pg_upkeep: " + label_ + " on " + rel_.qualified + ": batch " + std::to_string(batches_) +
		                   ", " + std::to_string(rows_) + " rows");
		if (opt_.notices && now - last_notice_ms_ >= 5000.0) {
			const double secs = (now - started_ms_) / 1000.0;
			char rate[64];
			snprintf(rate, sizeof(rate), "%.0f rows/s", secs > 0 ? static_cast<double>(rows_) / secs : 0.0);
			pg::Notice("upkeep: " + rel_.qualified + ": " + label_ + ": " + std::to_string(batches_) + " batches, " +
			           std::to_string(rows_) + " rows so far (" + rate + ")");
			last_notice_ms_ = now;
		}
	}
	return rows;
}

std::optional<pg::PgError>
TableRun::Capture(const std::function<void()> &fn) {
	if (opt_.mode == RunMode::CallerTransaction)
		return pg::TrySubtransaction(fn);
	try {
		fn();
	} catch (const pg::PgError &e) {
		return e;
	}
	return std::nullopt;
}

std::optional<pg::PgError>
TableRun::TryBatch(const std::function<int64_t()> &fn) {
	std::optional<pg::PgError> failure = Capture([&] { Batch(fn); });
	if (failure && (failure->SqlErrCode() == ERRCODE_LOCK_NOT_AVAILABLE || IsCancel(*failure)))
		throw *failure;
	return failure;
}

void
TableRun::BeginAction(const std::string &label) {
	label_ = label;
	note_.clear();
	rows_ = 0;
	batches_ = 0;
	started_ms_ = pg::NowMs();
	last_notice_ms_ = started_ms_;
	log_id_ = 0; /* the run_log row is made by the first batch: an action with nothing to do leaves none */
}

bool
TableRun::Action(const std::string &label, const std::function<void()> &body) {
	BeginAction(label);
	std::optional<pg::PgError> failure = Capture(body);

	Outcome o;
	o.relid = rel_.oid;
	o.table_name = rel_.qualified;
	o.action = label_;
	o.rows = rows_;
	o.batches = batches_;
	o.ms = pg::NowMs() - started_ms_;
	o.status = opt_.dry_run ? "dry run" : "ok";
	o.message = note_;
	if (failure) {
		if (failure->SqlErrCode() == ERRCODE_LOCK_NOT_AVAILABLE) {
			o.status = "skipped";
			o.message = std::string("lock not available within upkeep.lock_timeout: ") + failure->what();
		} else {
			o.status = "failed";
			o.message = std::string(failure->what()) + (failure->Detail() ? std::string(" (") + failure->Detail() + ")" : "");
		}
		if (o.batches > 0 && opt_.mode == RunMode::CommitPerBatch)
			o.message += "; " + std::to_string(o.rows) + (o.rows == 1 ? " row in " : " rows in ") +
			             std::to_string(o.batches) +
			             (o.batches == 1 ? " committed batch is kept" : " committed batches are kept");
	}
	if (!opt_.dry_run) {
		/* in the caller's transaction a failure rolled the 'running' row back with the table's work */
		const bool row_exists = log_id_ != 0 && !(failure && opt_.mode == RunMode::CallerTransaction);
		if (row_exists) {
			LogFinish(log_id_, o.status, o.rows, o.batches, o.message, o.action);
			Commit();
		} else if (failure) {
			LogOutcome(run_id_, rel_.oid, rel_.qualified, o.action, o.status, o.message, run_by_);
			Commit();
		}
	}
	if (failure && IsCancel(*failure))
		throw *failure; /* a cancel or statement_timeout stops the whole run */

	const std::string line = "upkeep: " + rel_.qualified + ": " + OutcomeActionText(o) + ": " + std::to_string(o.rows) +
	                         (o.rows == 1 ? " row in " : " rows in ") + std::to_string(o.batches) +
	                         (o.batches == 1 ? " batch (" : " batches (") + FormatMs(o.ms) + ")";
	/* interactive callers hear about work, skips and failures; an action with nothing to do stays quiet */
	if (opt_.notices && (o.batches > 0 || o.rows > 0 || o.status != "ok"))
		pg::Notice(line);
	if (o.status == "failed" || o.status == "skipped")
		pg::Log(line);
	out_->push_back(std::move(o));
	return !failure;
}

int64_t
TableRun::Direct(const std::string &label, const std::function<void()> &body) {
	BeginAction(label);
	body();
	if (log_id_ != 0)
		LogFinish(log_id_, "ok", rows_, batches_, note_, label_);
	return rows_;
}

namespace {

/* The policy's table for this run, or nullopt (vanished, or not the caller's). */
std::optional<pg::RelInfo>
RunnableTable(const Policy &p, const RunOptions &opt, Oid caller, bool caller_is_super) {
	auto rel = pg::LookupRelation(p.relid);
	if (!rel)
		return std::nullopt;
	if (opt.worker || caller_is_super)
		return rel;
	if (!pg::MayActAsOwner(p.relid, caller))
		return std::nullopt;
	return rel;
}

std::string
RetentionLabel(const Policy &p) {
	if (p.action == "delete")
		return "DELETE (>" + p.retain + ")";
	if (p.action == "archive")
		return "ARCHIVE (>" + p.retain + ")";
	if (p.action == "drop")
		return "DROP (>" + p.retain + ")";
	return "DETACH (>" + p.retain + ")";
}

} // namespace

std::vector<Outcome>
RunMaintenance(const RunOptions &opt) {
	const Oid caller = pg::CurrentUser();
	const bool caller_is_super = pg::IsSuperuser(caller);
	std::vector<Outcome> out;

	if (opt.mode == RunMode::CommitPerBatch && !opt.dry_run) {
		/* leftovers of a cancelled CALL in this session, or of crashed runs */
		pg::ReleaseStaleTableLocks();
		MarkInterruptedRuns();
		pg::CommitAsync();
	}

	std::vector<Policy> policies = LoadPolicies(opt.only);
	if (opt.only != InvalidOid) {
		pg::RelInfo rel = pg::GetRelation(opt.only);
		RequireOwner(rel);
		if (policies.empty()) {
			std::string msg = "table " + rel.qualified + " has no pg_upkeep policy";
			pg::Throw(ERRCODE_UNDEFINED_OBJECT, msg.c_str(), nullptr, "Create one with upkeep.set_policy().");
		}
	}
	const int64_t run_id = opt.dry_run ? 0 : NewRunId();
	const std::string run_by = RunByLabel(opt.worker);

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
		const bool session_lock = opt.mode == RunMode::CommitPerBatch;
		if (!pg::TryLockTable(rel->oid, session_lock)) {
			Outcome o{rel->oid, rel->qualified, RetentionLabel(p), "skipped",
			          "another pg_upkeep run is processing this table", 0, 0, 0};
			if (!opt.dry_run) {
				LogOutcome(run_id, rel->oid, rel->qualified, o.action, o.status, o.message, run_by);
				if (opt.mode == RunMode::CommitPerBatch)
					pg::CommitAsync();
			}
			if (opt.notices)
				pg::Notice("upkeep: " + rel->qualified + ": " + OutcomeActionText(o));
			pg::Log("upkeep: " + rel->qualified + ": " + OutcomeActionText(o));
			out.push_back(std::move(o));
			continue;
		}
		TableRun run(opt, p, *rel, run_id, run_by, &out);
		try {
			if (SteadyStateOutcomes(p, opt, *rel, &out)) {
				if (session_lock)
					pg::UnlockTable(rel->oid);
				continue; /* a partition set with nothing to do, known without reading its bounds */
			}
			const bool partitioned = rel->relkind == RELKIND_PARTITIONED_TABLE;
			bool premade = true;
			if (opt.premake && partitioned)
				premade = run.Action("PREMAKE (" + std::to_string(p.premake) + " months ahead)",
				                     [&] { RunPremake(run); });
			bool ok = run.Action(RetentionLabel(p), [&] {
				if (p.action == "delete")
					RunDeleteAction(run);
				else if (p.action == "archive")
					RunArchiveAction(run);
				else
					RunPartitionExpiry(run);
			});
			if (ok && !opt.dry_run && run.Rows() > 0 && (p.action == "delete" || p.action == "archive"))
				touched.push_back({rel->oid, rel->qualified, rel->owner});
			if (premade && ok && KeepsShape(p, *rel) && !opt.dry_run && opt.mode == RunMode::CommitPerBatch) {
				auto failure = pg::TrySubtransaction([&] { RememberShape(p, *rel); });
				if (failure && IsCancel(*failure))
					throw *failure;
				pg::CommitAsync(); /* releases the parent's lock RememberShape took */
			}
		} catch (...) {
			if (session_lock)
				pg::UnlockTable(rel->oid);
			throw;
		}
		if (session_lock)
			pg::UnlockTable(rel->oid);
	}

	/* fresh statistics for the tables that lost rows (dropped partitions leave the others' stats valid) */
	if (!touched.empty()) {
		const double t0 = pg::NowMs();
		std::string names;
		int analyzed = 0;
		for (const auto &t : touched) {
			pg::CheckInterrupts();
			pg::ReportActivity("pg_upkeep: ANALYZE " + t.name);
			auto failure = pg::TrySubtransaction([&] {
				pg::AsOwner(t.owner, [&] { pg::SpiExec("ANALYZE " + t.name, {}, false, false); });
			});
			if (failure && IsCancel(*failure))
				throw *failure;
			if (!failure) {
				names += (names.empty() ? "" : ", ") + t.name;
				analyzed++;
			}
			if (opt.mode == RunMode::CommitPerBatch)
				pg::CommitAsync();
		}
		Outcome o{InvalidOid, names, "ANALYZE", "ok", "", analyzed, analyzed, pg::NowMs() - t0};
		if (opt.notices)
			pg::Notice("upkeep: ANALYZE " + names + " (" + FormatMs(o.ms) + ")");
		out.push_back(std::move(o));
	}
	if (!opt.dry_run) {
		TrimRunLog();
		if (opt.mode == RunMode::CommitPerBatch)
			pg::CommitAsync();
	}
	return out;
}

} // namespace upkeep::maint
