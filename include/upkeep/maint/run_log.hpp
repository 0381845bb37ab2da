/*
 * upkeep/maint/run_log.hpp
 *
 * upkeep.run_log: one row per table and action of every run, written as the
 * extension owner (ordinary roles cannot write the table).  A row is
 * inserted as 'running' when a table starts, updated with every committed
 * batch (in the batch's own transaction, so the log never claims more than
 * what committed), and closed as ok / skipped / failed.
 */
#pragma once

#include <cstdint>
#include <string>

#include "upkeep/core/action.hpp"

extern "C" {
#include "postgres.h"
}

namespace upkeep::maint {

int64_t NewRunId();
/* Who started the run, for the log: "worker", or the session user and application_name. */
std::string RunByLabel(bool worker);

int64_t LogStart(int64_t run_id, Oid relid, const std::string &table_name, const std::string &action,
                 const std::string &run_by);
void LogProgress(int64_t log_id, int64_t rows, int batches);
/* Closes a run_log row; table_name is the table's name at the end (a table renamed mid-run is followed by OID). */
void LogFinish(int64_t log_id, core::Status status, int64_t rows, int batches, const std::string &message,
               const std::string &action, const std::string &table_name);
/* Removes the row of an action whose batches found nothing to do. */
void LogDrop(int64_t log_id);
/* A closed row in one go (skips decided before any work). */
void LogOutcome(int64_t run_id, Oid relid, const std::string &table_name, const std::string &action,
                core::Status status, const std::string &message, const std::string &run_by, int64_t rows = 0);

/*
 * Rows left 'running' by a run that can no longer finish them (its backend
 * is gone, or it is this backend from a cancelled call) become 'failed'.
 * Returns how many.
 */
int64_t MarkInterruptedRuns();
/* Deletes rows older than upkeep.run_log_retain. */
int64_t TrimRunLog();

} // namespace upkeep::maint
