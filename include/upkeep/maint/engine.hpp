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

#include <optional>
#include <string>
#include <vector>

#include "upkeep/core/action.hpp"

extern "C" {
#include "postgres.h"
}

namespace upkeep::maint {

/* Who drives a run, which decides how it commits and what it may do (see RunOptions' presets). */
enum class Driver {
	CallerTransaction, /* cleanup_old_data(), archive_table(): everything in the caller's transaction */
	Procedure,         /* CALL run_maintenance(): a commit per batch (a dry run: one transaction) */
	Worker             /* the background worker: a commit per batch, DETACH CONCURRENTLY after the batches */
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

/*
 * How a run is driven.  Made only by the presets below, one per driver, so
 * the settings that belong together (commits, premake, notices, who may be
 * acted for) are chosen in one place.
 */
struct RunOptions {
	/* cleanup_old_data(): the caller's transaction, no premake, NOTICEs */
	static RunOptions CleanupOldData(bool dry_run, Oid only);
	/* archive_table(): the caller's transaction, quiet (errors reach the caller) */
	static RunOptions ArchiveTable();
	/* CALL run_maintenance(): a commit per batch (a dry run stays in one transaction), premake, NOTICEs */
	static RunOptions Procedure(bool dry_run, Oid only);
	/* the worker: its due policies, a commit per batch, premake, quiet; detaches it defers go to `deferred` */
	static RunOptions Worker(std::vector<Oid> due, std::vector<DeferredDetach> *deferred);

	Driver driver = Driver::CallerTransaction;
	bool dry_run = false;
	Oid only = InvalidOid;
	bool per_batch_commits = false; /* inside a non-atomic SPI connection: a commit after every batch */
	bool premake = false;           /* keep future partitions ready */
	bool notices = true;            /* NOTICE per table and progress for interactive callers */
	std::vector<Oid> subset;        /* when not empty: only these policies (the worker's due ones) */
	/* worker: detaches of sets without a DEFAULT partition are collected here, to run CONCURRENTLY */
	std::vector<DeferredDetach> *deferred = nullptr;

	bool
	ByWorker() const {
		return driver == Driver::Worker;
	}
};

struct Outcome {
	Oid relid = InvalidOid;
	std::string table_name;
	std::string label; /* as shown, e.g. "DELETE (>30 days)" */
	core::Status status = core::Status::Ok;
	std::string message;
	int64_t rows = 0;
	int batches = 0;
	double ms = 0;
	/* the retention action it was (none for PREMAKE and ANALYZE), and what its work acted on */
	std::optional<core::Action> action;
	core::Grain grain = core::Grain::Rows;
};

std::vector<Outcome> RunMaintenance(const RunOptions &opt);

/* Output line of an outcome in the cleanup_old_data() shape: label with status when not ok. */
std::string OutcomeActionText(const Outcome &o);

} // namespace upkeep::maint
