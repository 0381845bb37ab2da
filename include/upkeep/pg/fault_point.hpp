/*
 * upkeep/pg/fault_point.hpp
 *
 * Named fault points: places in the code where a test can make pg_upkeep
 * fail, stop or die on purpose, to prove what a failure at that instant
 * leaves behind.  Inert unless the superuser-only setting
 * upkeep.fault_points names them:
 *
 *   SET upkeep.fault_points = 'archive-before-delete:error';
 *   SET upkeep.fault_points = 'cleanup-after-select:wait, batch-before-commit:kill:3';
 *
 * Each entry is <point>:<action>[:<n>]; with n, the action fires on the nth
 * time this backend reaches the point (counts restart when the setting
 * changes), otherwise every time.  Actions:
 *   error   raise an ERROR (XX000, "fault injected at <point>")
 *   wait    wait for the advisory lock (1431325510, hashtext('<point>')) in
 *           share mode, ignoring lock_timeout: a test holding that lock
 *           keeps the backend here (isolation testers see it as blocked)
 *           until it lets go
 *   kill    SIGKILL this backend (the postmaster then restarts the cluster)
 *   oom     throw std::bad_alloc (a C++ allocation failure at that point)
 *   notice  emit NOTICE "upkeep: fault point <point> reached"
 *
 * The points (grep FaultPoint in src/): cleanup-after-select,
 * archive-before-delete, archive-after-insert, batch-start (before each
 * batch, holding no lock on the table), batch-before-commit, commit
 * (inside our own commits of per-batch runs, as a failing commit),
 * table-setup, partition-between-create-attach,
 * partition-between-detach-attach, retention-between-detach-move,
 * worker-cycle, worker-followup, verify-manifests (per archive),
 * verify-amcheck (per index), fingerprint-scan (per leaf relation).
 */
#pragma once

namespace upkeep::pg {

/* The advisory lock class of 'wait' (0x55504B46, "UPKF"). */
constexpr int kFaultLockClass = 0x55504B46;

/* Reached `point`: do what upkeep.fault_points says, if anything.  May throw PgError or std::bad_alloc. */
void FaultPoint(const char *point);

/*
 * The same from code PostgreSQL calls (a transaction callback, a
 * DestReceiver): never throws -- an error is an ereport, 'oom' an ERROR
 * with SQLSTATE 53200 -- because no C++ exception may unwind PostgreSQL's
 * frames.  C-style: call it from a C-style frame.
 */
void FaultPointInCallback(const char *point);

} // namespace upkeep::pg
