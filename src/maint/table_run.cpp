/*
 * src/maint/table_run.cpp
 *
 * The work on one table within a run: its units (subtransactions), its
 * batches and commit points, and the outcome of each action (see
 * table_run.hpp).
 */
#include <cstdio>

#include "upkeep/maint/run_log.hpp"
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

/* A batch waits at most this long for the replicas; then the table is taken up again next run. */
constexpr double kReplicaWaitGiveUpMs = 10 * 60 * 1000.0;

std::string
FormatMs(double ms) {
	char buf[32];
	snprintf(buf, sizeof(buf), "%.1f ms", ms);
	return buf;
}

/* "3 rows", "1 partition": what an action counts */
std::string
Counted(int64_t n, const std::string &unit) {
	return std::to_string(n) + " " + unit + (n == 1 ? "" : "s");
}

std::string
RowsInBatches(int64_t rows, int batches, const std::string &unit) {
	return Counted(rows, unit) + " in " + std::to_string(batches) + (batches == 1 ? " batch" : " batches");
}

} // namespace

core::Status
FailureStatus(const pg::PgError &e) {
	/* a lock not had in time, a deadlock given way to, a table or policy changed under the run: next run */
	const int c = e.SqlErrCode();
	return c == ERRCODE_LOCK_NOT_AVAILABLE || c == ERRCODE_T_R_DEADLOCK_DETECTED ||
	               c == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE
	           ? core::Status::Skipped
	           : core::Status::Failed;
}

std::string
FailureMessage(const pg::PgError &e) {
	std::string msg = std::string(pg::SqlStateText(e.SqlErrCode())) + ": ";
	if (e.SqlErrCode() == ERRCODE_LOCK_NOT_AVAILABLE)
		msg += "lock not available within upkeep.lock_timeout: ";
	else if (e.SqlErrCode() == ERRCODE_T_R_DEADLOCK_DETECTED)
		msg += "gave way to a deadlock with another session: ";
	msg += e.what();
	if (e.Detail())
		msg += std::string(" (") + e.Detail() + ")";
	return msg;
}

TableRun::TableRun(const RunOptions &opt, const Policy &policy, const pg::RelInfo &rel, int64_t run_id,
                   const std::string &run_by, std::vector<Outcome> *out)
    : opt_(opt), policy_(policy), rel_(rel), run_id_(run_id), run_by_(run_by), out_(out) {}

const std::vector<pg::ChildPartition> &
TableRun::Partitions() {
	if (!partitions_)
		partitions_ = pg::ListRangePartitions(rel_.oid);
	return *partitions_;
}

std::optional<pg::PgError>
TableRun::TryUnit(const std::function<void()> &fn) {
	const size_t level = units_.size();
	units_.push_back(pg::BeginSubtransaction());
	try {
		fn();
	} catch (const pg::PgError &e) {
		/* the unit at this level may have been reopened by a commit point: roll back the one open now */
		pg::RollbackSubtransaction(units_[level]);
		units_.resize(level);
		if (pg::IsInterrupt(e))
			throw;
		return e;
	} catch (...) {
		pg::RollbackSubtransaction(units_[level]);
		units_.resize(level);
		throw;
	}
	pg::CommitSubtransaction(units_[level]);
	units_.resize(level);
	return std::nullopt;
}

void
TableRun::CommitPoint() {
	if (!opt_.per_batch_commits)
		return;
	for (size_t i = units_.size(); i-- > 0;)
		pg::CommitSubtransaction(units_[i]);
	try {
		/*
		 * A batch commits without waiting for its WAL flush: if the server
		 * dies first, the whole batch is undone (its rows are back and the
		 * next run takes them), which never loses or duplicates a row -- and
		 * maintenance neither waits on fsync nor on synchronous standbys.
		 */
		pg::CommitAsync();
	} catch (...) {
		for (auto &u : units_)
			u = pg::BeginSubtransaction();
		throw;
	}
	pg::NoteBatchCommit(); /* for upkeep.max_replica_lag: how far behind the replicas are on our own WAL */
	for (auto &u : units_)
		u = pg::BeginSubtransaction();
}

void
TableRun::Recheck(BatchLock lock) {
	if (lock == BatchLock::RowExclusive) {
		/* the lock the batch's DML takes anyway, taken first by OID: no rename can slip in before it */
		pg::LockRelationById(rel_.oid, pg::kRowExclusiveLock);
		auto now = pg::LookupRelation(rel_.oid);
		if (!now) {
			const std::string msg =
			    "table " + rel_.qualified + " (OID " + std::to_string(rel_.oid) + ") was dropped during the run";
			pg::Throw(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, msg);
		}
		rel_ = *now;
	}
	if (!policy_.version.empty() && PolicyVersion(policy_.relid) != policy_.version) {
		/*
		 * Changed since the run loaded it: a change of what the run removes
		 * (retain, time column, action, archive, detach schema, zone) or a
		 * disabled or dropped policy stops the run for the table -- it must
		 * not go on with a retain the DBA has just lengthened; a change of how
		 * it paces itself (batch size, run_every, premake, enabling) does not.
		 */
		const std::vector<Policy> now = LoadPolicies(policy_.relid);
		const bool dropped = now.empty();
		const bool changed = dropped || now.front().retain != policy_.retain ||
		                     now.front().time_column != policy_.time_column || now.front().action != policy_.action ||
		                     now.front().archive_to != policy_.archive_to ||
		                     now.front().detach_schema != policy_.detach_schema ||
		                     now.front().timezone != policy_.timezone || (policy_.enabled && !now.front().enabled);
		if (changed) {
			const std::string msg =
			    dropped ? "the policy of " + rel_.qualified + " was dropped during the run"
			            : "the policy of " + rel_.qualified + " was changed during the run; the next run applies it";
			pg::Throw(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, msg);
		}
		policy_.version = now.front().version;
	}
}

int64_t
TableRun::Batch(const std::function<int64_t()> &fn, bool may_pause, BatchLock lock) {
	const bool per_batch = opt_.per_batch_commits;
	/* upkeep.batch_pause: room for the application between two batches (never in the caller's transaction) */
	if (may_pause && per_batch && batches_ > 0 && !opt_.dry_run)
		pg::PauseInterruptibly(pg::g_batch_pause_ms);
	/* upkeep.max_replica_lag: no new batch while a replica is too far behind (never in the caller's transaction) */
	if (per_batch && !opt_.dry_run && pg::g_max_replica_lag_ms > 0)
		paused_ms_ += pg::WaitForReplicas(pg::g_max_replica_lag_ms, kReplicaWaitGiveUpMs, [&](double lag) {
			pg::ReportActivity("pg_upkeep: waiting for replicas: replay lag " + std::to_string(static_cast<long>(lag)) +
			                   " ms > upkeep.max_replica_lag " + std::to_string(pg::g_max_replica_lag_ms) +
			                   " ms, before batch " + std::to_string(batches_ + 1) + " of " + label_ + " on " +
			                   rel_.qualified);
		});
	pg::FaultPoint("batch-start"); /* between batches: no lock on the table held */
	pg::CheckInterrupts();
	partitions_.reset(); /* a batch may change them */
	if (!opt_.dry_run && log_id_ == 0) {
		/* first batch of the action: the 'running' row, visible to others while we work */
		log_id_ = LogStart(run_id_, rel_.oid, rel_.qualified, label_, run_by_);
		CommitPoint();
	}
	/* what pg_stat_activity shows while the batch works (SPI statements are not shown there) */
	pg::ReportActivity("pg_upkeep: " + label_ + " on " + rel_.qualified + ": batch " + std::to_string(batches_ + 1) +
	                   " running, " + std::to_string(rows_) + " rows so far");
	/*
	 * PostgreSQL cannot defer a constraint inside a security-restricted
	 * operation (it refuses at the end of the statement), so in a
	 * transaction of our own the batch checks deferrable constraints at once:
	 * a batch that violates one fails with that violation, and a table merely
	 * referenced by a deferred foreign key is maintained like any other.  (In
	 * the caller's transaction the caller's constraint modes are not ours to
	 * change: such a table fails there, with PostgreSQL's 42501.)
	 */
	if (per_batch)
		pg::SetConstraintsImmediate();
	/*
	 * No unit of its own: since the last commit point, the action's unit
	 * holds exactly this batch's work, so an error rolls back the batch and
	 * nothing committed.  (A unit per batch would cost a subtransaction id
	 * each, and past 64 of them every snapshot in the cluster gets slower.)
	 */
	const int64_t rows = pg::AsOwner(rel_.owner, [&] {
		Recheck(lock);
		return fn();
	});
	/* progress is logged in the batch's own transaction: the log never claims uncommitted work */
	if (per_batch && !opt_.dry_run && log_id_ != 0 && rows >= 0)
		LogProgress(log_id_, rows_ + rows, batches_ + 1);
	if (per_batch)
		pg::FaultPoint("batch-before-commit");
	CommitPoint();
	if (rows >= 0) {
		/* a batch that changed something: rows, or DDL (a partition made, dropped, a constraint added) */
		if (rows > 0 || lock == BatchLock::None)
			worked_ = true;
		rows_ += rows;
		batches_++;
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
TableRun::TryBatch(const std::function<int64_t()> &fn, BatchLock lock) {
	std::optional<pg::PgError> failure = TryUnit([&] { Batch(fn, true, lock); });
	if (failure && FailureStatus(*failure) == core::Status::Skipped)
		throw *failure;
	return failure;
}

void
TableRun::BeginAction(const std::string &label, std::optional<core::Action> action) {
	label_ = label;
	action_ = action;
	note_.clear();
	rows_ = 0;
	batches_ = 0;
	started_ms_ = pg::NowMs();
	last_notice_ms_ = started_ms_;
	unit_ = "row";
	worked_ = false;
	log_id_ = 0; /* the run_log row is made by the first batch, and dropped if no batch found work */
	paused_ms_ = 0;
}

void
TableRun::Finish(const std::optional<pg::PgError> &failure) {
	Outcome o;
	o.relid = rel_.oid;
	o.table_name = rel_.qualified;
	o.label = label_;
	o.action = action_;
	if (action_)
		o.grain = core::GrainOf(*action_, rel_.relkind == RELKIND_PARTITIONED_TABLE);
	o.rows = rows_;
	o.batches = batches_;
	o.ms = pg::NowMs() - started_ms_;
	o.status = opt_.dry_run ? core::Status::DryRun : core::Status::Ok;
	o.message = note_;
	if (paused_ms_ >= 1.0) {
		char paused[96];
		snprintf(paused, sizeof(paused), "paused %.1f s for replica lag", paused_ms_ / 1000.0);
		o.message += (o.message.empty() ? "" : "; ") + std::string(paused);
	}
	const bool per_batch = opt_.per_batch_commits;
	if (failure) {
		o.status = FailureStatus(*failure);
		o.message = FailureMessage(*failure);
		if (!per_batch) {
			/* in the caller's transaction the failed action's work was rolled back: nothing of it is kept */
			o.rows = 0;
			o.batches = 0;
		} else if (o.batches > 0)
			o.message += "; " + Counted(o.rows, unit_) + " in " + std::to_string(o.batches) +
			             (o.batches == 1 ? " committed batch is kept" : " committed batches are kept");
	}
	if (!opt_.dry_run) {
		/* in the caller's transaction a failure rolled the 'running' row back with the action's work */
		const bool row_exists = log_id_ != 0 && !(failure && !per_batch);
		if (row_exists && !failure && !worked_) {
			/*
			 * Every batch found nothing to do (a delete or archive with no
			 * expired row): the 'running' row the first batch made goes
			 * again, so an empty action leaves no trace in run_log -- from
			 * psql, pg_cron and the worker alike.
			 */
			LogDrop(log_id_);
			CommitPoint();
		} else if (row_exists) {
			LogFinish(log_id_, o.status, o.rows, o.batches, o.message, o.label, o.table_name);
			CommitPoint();
		} else if (failure) {
			LogOutcome(run_id_, rel_.oid, rel_.qualified, o.label, o.status, o.message, run_by_);
			CommitPoint();
		}
	}
	const std::string line = "upkeep: " + rel_.qualified + ": " + OutcomeActionText(o) + ": " +
	                         RowsInBatches(o.rows, o.batches, unit_) + " (" + FormatMs(o.ms) + ")";
	/* interactive callers hear about work, skips and failures; an action with nothing to do stays quiet */
	if (opt_.notices && (worked_ || o.rows > 0 || o.status != core::Status::Ok))
		pg::Notice(line);
	if (o.status == core::Status::Failed || o.status == core::Status::Skipped)
		pg::Log(line);
	out_->push_back(std::move(o));
}

bool
TableRun::Action(const std::string &label, const std::function<void()> &body, std::optional<core::Action> action) {
	BeginAction(label, action);
	std::optional<pg::PgError> failure;
	try {
		failure = TryUnit(body);
	} catch (const pg::PgError &e) {
		if (!pg::IsInterrupt(e))
			throw;
		/* a cancel or statement_timeout stops the whole run; say so in the log first, as far as we can */
		try {
			Finish(e);
		} catch (...) {
		}
		throw;
	}
	Finish(failure);
	return !failure;
}

bool
TableRun::Guard(const std::string &label, const std::function<void()> &fn, std::optional<core::Action> action) {
	std::optional<pg::PgError> failure = TryUnit(fn);
	if (!failure)
		return true;
	/* a failure outside any action (or in its logging): the table's unfinished work is rolled back */
	BeginAction(label, action);
	Finish(failure);
	return false;
}

int64_t
TableRun::Direct(const std::string &label, const std::function<void()> &body, std::optional<core::Action> action) {
	BeginAction(label, action);
	if (pg::CitusInstalled()) {
		/*
		 * Citus opens a transaction block on a worker node for a read only
		 * inside a block or a subtransaction, and only a block carries the
		 * lock budget (pg/citus.hpp): the work goes in a subtransaction, which
		 * an error rolls back before it reaches the caller as it would have.
		 */
		auto unit = pg::BeginSubtransaction();
		try {
			body();
		} catch (...) {
			pg::RollbackSubtransaction(unit);
			throw;
		}
		pg::CommitSubtransaction(unit);
	} else {
		body();
	}
	if (log_id_ != 0 && !worked_)
		LogDrop(log_id_); /* nothing to move: no trace in run_log */
	else if (log_id_ != 0)
		LogFinish(log_id_, core::Status::Ok, rows_, batches_, note_, label_, rel_.qualified);
	return rows_;
}

} // namespace upkeep::maint
