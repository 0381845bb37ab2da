/*
 * upkeep/maint/engine.hpp
 *
 * One maintenance run over the policies: the engine behind
 * cleanup_old_data() (everything in the caller's transaction, each table in a
 * subtransaction), CALL run_maintenance() and the background worker (a
 * commit after every batch).
 *
 * For every table: the caller must be able to act as its owner (superusers
 * and the worker can); a per-table advisory lock keeps other runs off (the
 * loser reports 'skipped'); every statement runs as the table's owner in a
 * security-restricted operation with a pinned search_path and a bounded
 * lock_timeout; a lock timeout makes the table 'skipped', any other error
 * 'failed', and neither stops the other tables.  A cancel or
 * statement_timeout stops the run; committed batches stay.
 */
#pragma once

#include <string>
#include <vector>

extern "C" {
#include "postgres.h"
}

namespace upkeep::maint {

enum class RunMode {
	CallerTransaction, /* cleanup_old_data(): no commits */
	CommitPerBatch     /* run_maintenance() / worker: inside a non-atomic SPI connection */
};

/* A DETACH ... CONCURRENTLY left for the worker, which can run it at top level. */
struct DeferredDetach {
	Oid parent;
	std::string parent_sql;
	Oid partition; /* the worker acts on these OIDs, under the names they still have then */
	std::string partition_sql;
	Oid owner;
	std::string detach_schema;
	int64_t rows;
};

struct RunOptions {
	bool dry_run = false;
	Oid only = InvalidOid;
	RunMode mode = RunMode::CallerTransaction;
	bool premake = false; /* keep future partitions ready (run_maintenance and the worker) */
	bool worker = false;  /* started by the background worker */
	bool notices = true;  /* NOTICE per table and progress for interactive callers */
	std::vector<Oid> subset; /* when not empty: only these policies (the worker's due ones) */
	/* worker: detaches of sets without a DEFAULT partition are collected here, to run CONCURRENTLY */
	std::vector<DeferredDetach> *deferred = nullptr;
};

struct Outcome {
	Oid relid = InvalidOid;
	std::string table_name;
	std::string action;  /* e.g. "DELETE (>30 days)" */
	std::string status;  /* ok | skipped | failed | dry run */
	std::string message;
	int64_t rows = 0;
	int batches = 0;
	double ms = 0;
};

std::vector<Outcome> RunMaintenance(const RunOptions &opt);

/* Output line of an outcome in the cleanup_old_data() shape: action with status when not ok. */
std::string OutcomeActionText(const Outcome &o);

} // namespace upkeep::maint
