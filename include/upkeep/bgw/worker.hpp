/*
 * upkeep/bgw/worker.hpp
 *
 * The per-database worker: every upkeep.naptime it runs the policies that
 * are due (policy_state.next_due), through the same engine as
 * CALL run_maintenance() (a commit per batch, each table as its owner in a
 * security-restricted operation), then VACUUMs tables that lost many rows
 * and detaches partitions CONCURRENTLY -- statements PostgreSQL only runs
 * at top level, which a worker can do and a function cannot.
 *
 * A listed database without the extension keeps its worker connected and
 * waiting (one LOG line; checked every naptime, and at once when CREATE
 * EXTENSION commits); DROP EXTENSION sends it back to waiting.  Its session
 * runs with synchronous_commit = off: no transaction of it waits on a
 * synchronous standby.
 */
#pragma once

extern "C" {
#include "postgres.h"
}

namespace upkeep::bgw {

/*
 * Entry of a dynamic worker: bgw_main_arg carries its slot index (low 16
 * bits) and generation (shmem.hpp), bgw_extra the database and role names.
 */
void WorkerMain(Datum main_arg);
/* Entry of the launcher (static worker registered at preload). */
void LauncherMain(Datum main_arg);

} // namespace upkeep::bgw
