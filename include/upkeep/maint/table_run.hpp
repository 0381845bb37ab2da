/*
 * upkeep/maint/table_run.hpp
 *
 * The work on one table within a run (see engine.hpp): its actions, each
 * with a run_log row and an Outcome, and its batches.  Batch() is the one
 * place where the transaction rules live:
 *   - CommitPerBatch: the batch runs in a subtransaction of its own
 *     transaction, as the table's owner; its progress is logged in the same
 *     transaction, which then commits.  An error rolls the batch back alone.
 *   - CallerTransaction: the batch runs as the owner inside the table's
 *     subtransaction (opened by Action); nothing commits.
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

namespace upkeep::maint {

class TableRun {
public:
	TableRun(const RunOptions &opt, const Policy &policy, const pg::RelInfo &rel, int64_t run_id,
	         const std::string &run_by, std::vector<Outcome> *out);

	const RunOptions &Options() const {
		return opt_;
	}
	const Policy &GetPolicy() const {
		return policy_;
	}
	const pg::RelInfo &Rel() const {
		return rel_;
	}
	bool DryRun() const {
		return opt_.dry_run;
	}

	/*
	 * Runs one action (label as shown to the user, e.g. "DELETE (>30 days)")
	 * with its own run_log row and Outcome.  `body` calls Batch() for its
	 * work and may call SetLabel/AddRows/Note.  Returns false when the action
	 * failed or was skipped.
	 */
	bool Action(const std::string &label, const std::function<void()> &body);

	/*
	 * Like Action, but errors propagate to the caller instead of becoming an
	 * outcome (archive_table()).  Returns the rows affected.
	 */
	int64_t Direct(const std::string &label, const std::function<void()> &body);

	int64_t RunId() const {
		return run_id_;
	}

	/*
	 * One atomic batch.  `fn` runs as the table's owner and returns the rows
	 * it affected, or -1 when there was nothing left to do (nothing counted).
	 * With per-batch commits, every batch after the action's first waits
	 * upkeep.batch_pause first, holding no lock -- unless `may_pause` is
	 * false (a caller that knows the batch is a last, cheap look).
	 */
	int64_t Batch(const std::function<int64_t()> &fn, bool may_pause = true);

	/*
	 * Batch() whose error comes back instead of ending the action: the
	 * batch is rolled back (in the caller's transaction too, by a
	 * subtransaction) and the caller may go on with other work.  Errors
	 * that must stop the action -- a lock not had within
	 * upkeep.lock_timeout, a cancel, a shutdown -- are thrown as usual.
	 */
	std::optional<pg::PgError> TryBatch(const std::function<int64_t()> &fn);

	/* Rows counted without a batch (dry runs, estimates). */
	void AddRows(int64_t rows) {
		rows_ += rows;
	}
	void SetLabel(const std::string &label) {
		label_ = label;
	}
	void Note(const std::string &message) {
		note_ = message;
	}
	int64_t Rows() const {
		return rows_;
	}

	/* Commit (CommitPerBatch) or nothing (CallerTransaction). */
	void Commit();

	/*
	 * The table's partitions, read once per run and again only after a batch
	 * (which may have changed them): premake and expiry of a set with nothing
	 * to do share one catalog read.
	 */
	const std::vector<pg::ChildPartition> &Partitions();

private:
	/* resets the per-action counters and label */
	void BeginAction(const std::string &label);
	/*
	 * Runs `fn`; a PgError comes back instead of propagating, its work
	 * undone: by a subtransaction in the caller's transaction, by the
	 * batches' own subtransactions with per-batch commits.
	 */
	std::optional<pg::PgError> Capture(const std::function<void()> &fn);
	const RunOptions &opt_;
	Policy policy_;
	pg::RelInfo rel_;
	int64_t run_id_;
	std::string run_by_;
	std::vector<Outcome> *out_;

	/* current action */
	std::string label_;
	std::string note_;
	int64_t log_id_ = 0;
	int64_t rows_ = 0;
	int batches_ = 0;
	double started_ms_ = 0;
	double last_notice_ms_ = 0;
	std::optional<std::vector<pg::ChildPartition>> partitions_;
};

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
