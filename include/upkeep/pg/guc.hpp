/*
 * upkeep/pg/guc.hpp
 *
 * pg_upkeep's configuration parameters (all under the reserved prefix
 * "upkeep.").  Defined by _PG_init whether or not the library is preloaded.
 */
#pragma once

#include <string>

namespace upkeep::pg {

/* upkeep.partition_timezone: zone in which timestamptz month boundaries are computed (SUSET). */
extern char *g_partition_timezone;
/* upkeep.lock_timeout (ms): longest wait for any lock maintenance takes (USERSET, may only tighten). */
extern int g_lock_timeout_ms;
/* upkeep.databases: comma-separated databases the launcher serves (SIGHUP). */
extern char *g_databases;
/* upkeep.role: role the per-database workers connect as (SIGHUP). */
extern char *g_role;
/* upkeep.naptime (s): how often a worker wakes to look for due policies (SIGHUP). */
extern int g_naptime_s;
/* upkeep.run_log_retain (min): age after which run_log rows are trimmed (SIGHUP). */
extern int g_run_log_retain_min;
/* upkeep.max_workers: cap on concurrently running per-database workers (POSTMASTER). */
extern int g_max_workers;
/* upkeep.debug_now: test hook, a fixed "now" for cutoffs (SUSET; empty = real clock). */
extern char *g_debug_now;

/* upkeep.fault_points: test hook, fault points armed in this session (SUSET; see fault_point.hpp). */
extern char *g_fault_points;
/* Bumped whenever upkeep.fault_points is assigned: hit counts start again. */
extern long g_fault_points_generation;
/*
 * upkeep.debug_search_path: test hook (SUSET).  Empty (always, outside
 * tests): pg_upkeep's SQL runs with search_path = pg_catalog, pg_temp.  A
 * test sets it to a hostile path ('public, pg_catalog') to prove that every
 * name in pg_upkeep's own SQL is qualified: nothing may resolve through it.
 * It replaces only that pin (SPI, the extension owner's context, the
 * worker): a table owner's context has the owner's login search_path
 * (owner_context.hpp), which tests make hostile through ALTER DATABASE.
 */
extern char *g_debug_search_path;
/* The search_path pg_upkeep's own statements run with: "pg_catalog, pg_temp" (or the test hook's). */
const char *PinnedSearchPath();

/* upkeep.max_replica_lag (ms): committing runs wait between batches while a replica is further behind (USERSET; 0 =
 * off). */
extern int g_max_replica_lag_ms;

/* upkeep.batch_pause (ms): pause before each further batch of a per-batch-commit run (USERSET). */
extern int g_batch_pause_ms;

/* upkeep.batch_method: auto | time | ctid | pk (USERSET; tests and benchmarks). */
extern char *g_batch_method;

void DefineGucs();

/*
 * Why `name` is no time zone for month boundaries, or "" when it is one:
 * a name in PostgreSQL's time zone database (pg_timezone_names), not a
 * POSIX specification such as 'UTC+3' (three hours *behind* UTC), which
 * pg_tzset would take too.  May raise a PostgreSQL ERROR: call it in PgCall
 * from C++ frames that own resources.
 */
std::string TimeZoneProblem(const char *name);
bool IsKnownTimeZone(const char *name);

} // namespace upkeep::pg
