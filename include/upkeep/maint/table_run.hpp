/*
 * upkeep/maint/table_run.hpp
 *
 * The work on one table within a run (see engine.hpp): its actions, each
 * with a run_log row and an Outcome, and its batches.
 *
 * Every piece of a table's work runs inside a *unit*: a subtransaction,
 * nested as the work nests (the table, an action, a batch tried alone).  An
 * error rolls back exactly its unit -- a failed action (with per-batch
 * commits: its work since the last commit, i.e. the failed batch), a batch
 * tried alone, a table whose set-up failed -- and the run goes on with the
 * next thing, in the caller's transaction and with per-batch commits alike.  With per-batch commits, a
 * commit point releases every open unit, commits (asynchronously), and
 * opens the same units again in the new transaction; if the commit itself
 * fails (a deferred constraint), the batch it carried is gone and the error
 * is the batch's.  Nothing ever keeps using a transaction an error broke.
 *
 * Each batch acts on the table's OID: it locks the table by OID first and
 * takes the table's current name from the catalog under that lock, so a
 * table renamed (or replaced by another of the same name) during the run is
 * followed by OID, and one dropped during the run stops the action.
 */
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "upkeep/core/batch_plan.hpp"
#include "upkeep/maint/engine.hpp"
#include "upkeep/maint/policy.hpp"
#include "upkeep/pg/catalog.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/subtransaction.hpp"

namespace upkeep::maint {

/* How a batch locks its table before its work (the lock the work's own statements take). */
enum class BatchLock {
	RowExclusive, /* DELETE / INSERT batches: lock by OID, follow renames */
	None          /* DDL batches lock what they need themselves (pg::LockAllOrNone) */
};

class TableRun {
  public:
	TableRun(const RunOptions &opt, const Policy &policy, const pg::RelInfo &rel, int64_t run_id,
	         const std::string &run_by, std::vector<Outcome> *out);

	const RunOptions &
	Options() const {
		return opt_;
	}
	const Policy &
	GetPolicy() const {
		return policy_;
	}
	/* The table as of the current batch (its name refreshed under the batch's lock). */
	const pg::RelInfo &
	Rel() const {
		return rel_;
	}
	bool
	DryRun() const {
		return opt_.dry_run;
	}
	bool
	PerBatchCommits() const {
		return opt_.per_batch_commits;
	}

	/*
	 * Runs one action (label as shown to the user, e.g. "DELETE (>30 days)")
	 * in a unit of its own, with its own run_log row and Outcome.  `body`
	 * calls Batch() for its work and may call SetLabel/AddRows/Note.  Returns
	 * false when the action failed or was skipped.  Interrupts are logged and
	 * rethrown.  `action`: the retention action it is, if any (its Outcome
	 * says so, for what follows a run: ANALYZE, VACUUM).
	 */
	bool Action(const std::string &label, const std::function<void()> &body,
	            std::optional<core::Action> action = std::nullopt);

	/*
	 * Like Action, but errors propagate to the caller instead of becoming an
	 * outcome (archive_table()).  Returns the rows affected.
	 */
	int64_t Direct(const std::string &label, const std::function<void()> &body,
	               std::optional<core::Action> action = std::nullopt);

	/*
	 * The table's whole run: `fn` in the table's unit.  An error from it
	 * (set-up outside any action, a follow-up) rolls back what is left of the
	 * table's unfinished work, is logged as 'failed' with its message, and
	 * returns false; the run goes on with the next table.  Interrupts are
	 * rethrown.
	 */
	bool Guard(const std::string &label, const std::function<void()> &fn,
	           std::optional<core::Action> action = std::nullopt);

	int64_t
	RunId() const {
		return run_id_;
	}

	/*
	 * One atomic batch.  `fn` runs as the table's owner
	 * and returns the rows it affected, or -1 when there was nothing left to
	 * do (nothing counted).  With per-batch commits, every batch after the
	 * action's first waits upkeep.batch_pause first, holding no lock --
	 * unless `may_pause` is false (a caller that knows the batch is a last,
	 * cheap look) -- and a commit point follows the batch.
	 */
	int64_t Batch(const std::function<int64_t()> &fn, bool may_pause = true, BatchLock lock = BatchLock::RowExclusive);

	/*
	 * Batch() whose error comes back instead of ending the action: the
	 * batch is rolled back and the caller may go on with other work.  Errors
	 * that must stop the action -- a lock not had within
	 * upkeep.lock_timeout, a deadlock, a cancel, a shutdown -- are thrown.
	 */
	std::optional<pg::PgError> TryBatch(const std::function<int64_t()> &fn, BatchLock lock = BatchLock::RowExclusive);

	/* Rows counted without a batch (dry runs, estimates). */
	void
	AddRows(int64_t rows) {
		rows_ += rows;
	}
	void
	SetLabel(const std::string &label) {
		label_ = label;
	}
	void
	Note(const std::string &message) {
		note_ = message;
	}
	/* What the action's count is of, in messages: "row" (the default) or "partition" (premake). */
	void
	SetUnit(const std::string &unit) {
		unit_ = unit;
	}
	int64_t
	Rows() const {
		return rows_;
	}

	/*
	 * Per-batch commits: release the open units, commit, open them again.
	 * In the caller's transaction: nothing.  A failing commit throws (after
	 * the units are open again in the new transaction).
	 */
	void CommitPoint();

	/*
	 * The table's partitions, read once per run and again only after a batch
	 * (which may have changed them): premake and expiry of a set with nothing
	 * to do share one catalog read.
	 */
	const std::vector<pg::ChildPartition> &Partitions();

  private:
	/* resets the per-action counters and label */
	void BeginAction(const std::string &label, std::optional<core::Action> action);
	/*
	 * Runs `fn` in a new unit; the unit is released when it returns, rolled
	 * back when it throws.  A PgError comes back as a value (interrupts are
	 * rethrown); any other exception is rethrown after the rollback.
	 */
	std::optional<pg::PgError> TryUnit(const std::function<void()> &fn);
	/* Before each batch: the table (and the policy the run follows) still there and unchanged. */
	void Recheck(BatchLock lock);
	/* The outcome of an action, logged and reported. */
	void Finish(const std::optional<pg::PgError> &failure);
	const RunOptions &opt_;
	Policy policy_;
	pg::RelInfo rel_;
	int64_t run_id_;
	std::string run_by_;
	std::vector<Outcome> *out_;
	std::vector<pg::SubxactState> units_; /* open units, outermost first */

	/* current action */
	std::string label_;
	std::optional<core::Action> action_;
	std::string note_;
	std::string unit_ = "row";
	bool worked_ = false; /* a batch changed something (rows, or DDL): the action keeps its run_log row */
	int64_t log_id_ = 0;
	int64_t rows_ = 0;
	int batches_ = 0;
	double started_ms_ = 0;
	double last_notice_ms_ = 0;
	double paused_ms_ = 0; /* waited for replicas (upkeep.max_replica_lag) */
	std::optional<std::vector<pg::ChildPartition>> partitions_;
};

/*
 * How an error becomes an outcome: 'skipped' (a lock not had in time, a
 * deadlock given way to, the table or its policy changed or dropped during
 * the run -- 55000) or 'failed'.
 */
core::Status FailureStatus(const pg::PgError &e);
/* "<SQLSTATE>: message (detail)" */
std::string FailureMessage(const pg::PgError &e);

/* The batching method for a table: upkeep.batch_method when usable, else the planner's choice. */
core::BatchMethod ChooseMethodFor(const pg::RelInfo &rel, const std::string &time_column, std::string *why);

/* The actions, one file each. */
void RunDeleteAction(TableRun &run);
void RunArchiveAction(TableRun &run);
void RunPartitionExpiry(TableRun &run);
void RunPremake(TableRun &run);

/* Labels of the partition actions, shared by the full run and the steady-state shortcut. */
std::string PremakeLabel(int64_t partitions, int premake);
std::string ExpiryLabel(const Policy &p, int64_t partitions, bool concurrently);
/* The worker detaches CONCURRENTLY (a top-level statement, after the batches) when the set has no DEFAULT. */
bool DetachesConcurrently(const Policy &p, const RunOptions &opt, bool has_default);

} // namespace upkeep::maint
