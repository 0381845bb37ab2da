/*
 * src/bgw/worker.cpp
 *
 * The per-database worker (see upkeep/bgw/worker.hpp).
 *
 * Layers, from the outside in:
 *   - WorkerMain and LoopOnce are C-style frames (no C++ object): one pass
 *     of the loop runs inside PG_TRY, so an error anywhere in it is logged
 *     and the worker goes on (autovacuum's pattern), and a FATAL (SIGTERM)
 *     ends the process as it should;
 *   - RunCycle calls the C++ cycle through CycleGuarded, which catches every
 *     C++ exception (an allocation failure included): none reaches a C
 *     frame, where it would be std::terminate, SIGABRT and a restart of the
 *     whole cluster;
 *   - inside, each transaction is opened by a C-style helper (InTransaction,
 *     RunTopLevel) with its own PG_TRY, and the C++ work inside it runs
 *     behind CppBoundary; no longjmp crosses a C++ frame that owns anything.
 *
 * Memory: between transactions the worker works in g_loop_cxt, reset every
 * pass.  During a cycle PortalContext is g_portal_cxt (a worker has no
 * portal; non-atomic SPI and DETACH CONCURRENTLY allocate under
 * PortalContext), reset every cycle, so what a failed cycle left there
 * (SPI's procedure context, say) is freed by the next.
 *
 * Scheduling state lives in upkeep.policy_state: a policy is due when its
 * next_due has passed.  After a run: ok -> next_due = now + run_every;
 * skipped (a lock could not be had) -> retried at the next wake-up; failed
 * -> retried with back-off (naptime, 2x, 4x, ... at most run_every).  A
 * follow-up statement (DETACH CONCURRENTLY, VACUUM) that is not ok records
 * its status there too.
 */
#include <algorithm>
#include <new>
#include <string>
#include <vector>

#include "upkeep/bgw/shmem.hpp"
#include "upkeep/bgw/worker.hpp"
#include "upkeep/core/backoff.hpp"
#include "upkeep/maint/engine.hpp"
#include "upkeep/maint/run_log.hpp"
#include "upkeep/pg/catalog.hpp"
#include "upkeep/pg/citus.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/plannodes.h"
#include "parser/parser.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "tcop/dest.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
}

#include "upkeep/pg/compat.hpp"

namespace upkeep::bgw {

namespace {

SharedState *g_sh = nullptr;
DbSlot *g_slot = nullptr;
uint32 g_generation = 0;
pid_t g_launcher_pid = 0;       /* the launcher that started this worker (bgw_notify_pid) */
Oid g_worker_user = InvalidOid; /* who the worker is; every statement is run from this identity */
char g_dbname[NAMEDATALEN];
MemoryContext g_loop_cxt = NULL;   /* between transactions; reset every pass */
MemoryContext g_portal_cxt = NULL; /* PortalContext of a cycle; reset every cycle */
uint64 g_cycle = 0;

enum ExtensionState { kExtUnknown, kExtInstalled, kExtMissing };
ExtensionState g_ext = kExtUnknown;

/* Cycle failures are logged once per kind per 5 minutes: a policy or setting that fails every cycle is no log flood. */
char g_last_failure[256];
TimestampTz g_last_failure_logged = 0;
long g_failure_repeats = 0;
constexpr long kRepeatLogMs = 5 * 60 * 1000L;

/* Top-level work the engine handed over, and tables to VACUUM: kept across the cycle's transactions. */
struct Followups {
	std::vector<maint::DeferredDetach> detaches;
	std::vector<std::pair<std::string, Oid>> vacuum; /* qualified name, relid */
	int64_t run_id = 0;
};

/* Rows after which a table deserves a VACUUM right away (autovacuum would come, later). */
constexpr int64_t kVacuumAfterRows = 10000;

/* ---- the slot ----------------------------------------------------------- */

void
OnExit(int, Datum) {
	if (g_sh == nullptr || g_slot == nullptr)
		return;
	SpinLockAcquire(&g_sh->mutex);
	/* only a slot that is still ours: a successor's must not be cleared */
	if (g_slot->generation == g_generation && g_slot->pid == MyProcPid) {
		g_slot->pid = 0;
		g_slot->latch = NULL;
		g_slot->waiting = false;
		if (g_slot->state == kSlotRunning || g_slot->state == kSlotStarting)
			g_slot->state = kSlotStopped;
	}
	SpinLockRelease(&g_sh->mutex);
}

enum WantedCheck {
	kBeforeConnect, /* the slot may not be claimed yet */
	kClaim,         /* claim it (pid, latch, running) if wanted */
	kRunning        /* it must still be ours */
};

/* Why this worker must not (go on) serving its database, or NULL.  C-style. */
const char *
ReasonToLeave(WantedCheck check, char *leave_for, size_t len) {
	const char *why = NULL;
	SpinLockAcquire(&g_sh->mutex);
	if (g_slot->generation != g_generation || (check == kRunning && g_slot->pid != MyProcPid))
		why = "superseded";
	else if (g_sh->launcher_pid != g_launcher_pid)
		why = "orphaned";
	else if (g_slot->leave) {
		why = "leave";
		strlcpy(leave_for, g_slot->leave_for, len);
	} else if (check == kClaim) {
		g_slot->dboid = MyDatabaseId;
		g_slot->pid = MyProcPid;
		g_slot->latch = MyLatch;
		g_slot->state = kSlotRunning;
	}
	SpinLockRelease(&g_sh->mutex);
	return why;
}

/* Leaves (proc_exit) when the worker is not wanted (any more), saying why.  C-style. */
void
ExitIfNotWanted(WantedCheck check) {
	char leave_for[48];
	const char *why = ReasonToLeave(check, leave_for, sizeof(leave_for));
	if (why == NULL)
		return;
	if (strcmp(why, "superseded") == 0)
		ereport(LOG,
		        (errmsg("pg_upkeep worker for database \"%s\": another worker took its place; exiting", g_dbname)));
	else if (strcmp(why, "orphaned") == 0)
		ereport(LOG, (errmsg("pg_upkeep worker for database \"%s\": the launcher that started it is gone; exiting",
		                     g_dbname),
		              errdetail("The launcher, restarted, starts a new worker.")));
	else
		ereport(LOG, (errmsg("pg_upkeep worker: leaving database \"%s\" for %s", g_dbname, leave_for)));
	proc_exit(0);
}

void
SetWaiting(bool waiting) {
	SpinLockAcquire(&g_sh->mutex);
	if (g_slot->pid == MyProcPid)
		g_slot->waiting = waiting;
	SpinLockRelease(&g_sh->mutex);
}

/*
 * The per-database advisory lock (shmem.hpp): no second worker can serve
 * this database while this one holds it.  Taken without waiting, retried a
 * few times (a predecessor may be on its way out); checked every pass and
 * taken again if a user function released it (pg_advisory_unlock_all()).
 * C-style.
 */
bool
HoldDatabaseLock(int tries) {
	LOCKTAG tag;
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, kDatabaseLockClass, 0, 2);
	if (pg::compat::HoldsLock(&tag, ExclusiveLock))
		return true;
	for (int i = 0; i < tries; i++) {
		bool got;
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		got = LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
		CommitTransactionCommand();
		MemoryContextSwitchTo(g_loop_cxt);
		if (got)
			return true;
		if (i + 1 < tries) {
			(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 100L, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	return false;
}

/* ---- failures in the log ------------------------------------------------ */

void
ReportFailure(const char *message) {
	const TimestampTz now = GetCurrentTimestamp();
	const bool same = strncmp(g_last_failure, message, sizeof(g_last_failure) - 1) == 0;
	if (same && !TimestampDifferenceExceeds(g_last_failure_logged, now, (int)kRepeatLogMs)) {
		g_failure_repeats++;
		return;
	}
	if (same && g_failure_repeats > 0)
		ereport(LOG, (errmsg("pg_upkeep worker: maintenance cycle in database \"%s\" failed: %s", g_dbname, message),
		              errdetail("It failed the same way %ld more times since the last report.", g_failure_repeats)));
	else
		ereport(LOG, (errmsg("pg_upkeep worker: maintenance cycle in database \"%s\" failed: %s", g_dbname, message)));
	strlcpy(g_last_failure, message, sizeof(g_last_failure));
	g_last_failure_logged = now;
	g_failure_repeats = 0;
}

/* ---- transactions --------------------------------------------------------- */

/* The worker as itself again: an error path must never leave it as a table's owner.  C-style. */
void
RestoreIdentity() {
	Oid user;
	int sec;
	GetUserIdAndSecContext(&user, &sec);
	if (user != g_worker_user || sec != 0)
		SetUserIdAndSecContext(g_worker_user, 0);
}

/*
 * Runs fn (C++, behind CppBoundary) in a transaction of its own.  An error
 * rolls it back; its message goes into `failure`.  C-style frame.
 */
template <typename Fn>
bool
InTransaction(bool with_snapshot, char *failure, size_t len, Fn &&fn) {
	volatile bool ok = true;
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		/* atomic SPI wants an active snapshot; the non-atomic engine manages its own across commits */
		if (with_snapshot)
			PushActiveSnapshot(GetTransactionSnapshot());
		pg::CppBoundary("pg_upkeep worker", fn);
		if (with_snapshot)
			PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(g_loop_cxt);
		ErrorData *e = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		RestoreIdentity();
		strlcpy(failure, e->message ? e->message : "unknown error", len);
		FreeErrorData(e);
		RESUME_INTERRUPTS();
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(g_loop_cxt);
	return ok;
}

/*
 * Runs one utility statement as a top-level statement, as exec_simple_query
 * would (PostgreSQL refuses VACUUM and DETACH ... CONCURRENTLY anywhere
 * else).  C-style; to be called inside a started transaction command.
 */
void
ExecTopLevel(const char *sql) {
	/*
	 * Like a portal: the statement and everything it allocates live in a
	 * context that survives the transactions VACUUM and DETACH CONCURRENTLY
	 * commit and start internally (they also allocate under PortalContext:
	 * ours for the cycle).
	 */
	MemoryContext stmt_cxt =
	    AllocSetContextCreate(g_portal_cxt, "pg_upkeep top-level statement", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(stmt_cxt);
	List *raw = raw_parser(sql, RAW_PARSE_DEFAULT);
	RawStmt *rs = linitial_node(RawStmt, raw);
	PlannedStmt *ps = makeNode(PlannedStmt);
	ps->commandType = CMD_UTILITY;
	ps->canSetTag = false;
	ps->utilityStmt = rs->stmt;
	ps->stmt_location = rs->stmt_location;
	ps->stmt_len = rs->stmt_len;
	bool snap = PlannedStmtRequiresSnapshot(ps);
	if (snap)
		PushActiveSnapshot(GetTransactionSnapshot());
	ProcessUtility(ps, sql, false, PROCESS_UTILITY_TOPLEVEL, NULL, NULL, None_Receiver, NULL);
	if (snap && ActiveSnapshotSet())
		PopActiveSnapshot();
	/*
	 * Not back to the context that was current on entry: VACUUM and DETACH
	 * CONCURRENTLY committed that transaction, and its memory is gone.
	 */
	MemoryContextSwitchTo(g_loop_cxt);
	MemoryContextDelete(stmt_cxt);
}

/*
 * One top-level statement in its own transaction(s), as `user` (InvalidOid:
 * the worker itself) with the security flags `sec`, lock_timeout bounded;
 * errors are caught.  C-style.  Returns whether it succeeded; the error's
 * message and SQLSTATE otherwise.
 *
 * VACUUM and DETACH ... CONCURRENTLY commit and start transactions
 * internally, and PostgreSQL requires that no security context be active
 * when a transaction starts (StartTransaction asserts it; a release build
 * records the owner as the identity to restore, so an abort of the second
 * transaction would leave the worker as the owner).  They get kNoRestriction:
 * neither runs user code (DETACH adds its constraint without validating it;
 * VACUUM switches to each table's owner, restricted, itself).  Everything
 * else runs as the owner in a security-restricted operation, as the engine's
 * statements do.
 */
constexpr int kNoRestriction = 0;
constexpr int kRestricted = SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION;

/*
 * A relation a top-level statement names, expected under a name: locked by
 * OID (in the mode the statement takes) before the statement runs, and
 * refused (55000) when it no longer has that name -- the statement then can
 * never act on a table that took the name of the one the engine meant.
 */
struct RelExpect {
	Oid oid;
	const char *qualified;
	LOCKMODE mode;
};

/* Locks each expected relation by OID and checks its name.  C-style; may ereport. */
void
CheckExpected(const RelExpect *expect, int n) {
	for (int i = 0; i < n; i++) {
		LockRelationOid(expect[i].oid, expect[i].mode);
		const char *rel = get_rel_name(expect[i].oid);
		const char *nsp = rel ? get_namespace_name(get_rel_namespace(expect[i].oid)) : NULL;
		const char *now = (rel && nsp) ? quote_qualified_identifier(nsp, rel) : NULL;
		if (now == NULL || strcmp(now, expect[i].qualified) != 0)
			ereport(ERROR, (errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
			                errmsg("%s (OID %u) was %s since the run; left for the next run", expect[i].qualified,
			                       expect[i].oid, now ? "renamed" : "dropped")));
	}
}

bool
RunTopLevel(const char *sql, Oid user, int sec, char *err, size_t errlen, int *sqlstate, const RelExpect *expect = NULL,
            int nexpect = 0) {
	volatile bool ok = true;
	PG_TRY();
	{
		char buf[32];
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		snprintf(buf, sizeof(buf), "%d", pg::EffectiveLockTimeoutMs());
		/* a session SET (not SET LOCAL): DETACH CONCURRENTLY's second transaction must keep the bound too */
		(void)set_config_option("lock_timeout", buf, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
		(void)set_config_option("search_path", pg::PinnedSearchPath(), PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SET, true,
		                        0, false);
		CheckExpected(expect, nexpect);
		if (OidIsValid(user))
			SetUserIdAndSecContext(user, sec);
		pgstat_report_activity(STATE_RUNNING, sql);
		ExecTopLevel(sql);
		SetUserIdAndSecContext(g_worker_user, 0);
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(g_loop_cxt);
		ErrorData *e = CopyErrorData();
		FlushErrorState();
		strlcpy(err, e->message ? e->message : "unknown error", errlen);
		*sqlstate = e->sqlerrcode;
		FreeErrorData(e);
		/*
		 * The abort restores the identity its transaction started with --
		 * after DETACH CONCURRENTLY's internal commit, the owner's -- so the
		 * worker becomes itself again only after it.
		 */
		AbortOutOfAnyTransaction();
		RestoreIdentity();
		RESUME_INTERRUPTS();
		ok = false;
	}
	PG_END_TRY();
	/* back to the configured values (RESET): the session SETs above were for this statement only */
	PG_TRY();
	{
		(void)set_config_option("lock_timeout", NULL, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
		(void)set_config_option("search_path", NULL, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
	}
	PG_CATCH();
	{ FlushErrorState(); }
	PG_END_TRY();
	MemoryContextSwitchTo(g_loop_cxt);
	return ok;
}

/* ---- the cycle (C++) -------------------------------------------------------- */

/* A due policy, and the version of it (updated_at) that was due. */
struct DuePolicy {
	Oid relid;
	std::string version;
};

/* The policies that are due. */
std::vector<DuePolicy>
DuePolicies() {
	pg::SpiResult r = pg::AsExtensionOwner([] {
		return pg::SpiExec("SELECT p.relid::pg_catalog.oid, p.updated_at::pg_catalog.text FROM upkeep.policy p "
		                   "LEFT JOIN upkeep.policy_state s ON s.relid OPERATOR(pg_catalog.=) p.relid::pg_catalog.oid "
		                   "WHERE p.enabled AND (s.next_due IS NULL OR s.next_due OPERATOR(pg_catalog.<=) "
		                   "pg_catalog.now())",
		                   {}, pg::SpiMode::ReadOnly);
	});
	std::vector<DuePolicy> due;
	for (size_t i = 0; i < r.rows.size(); i++)
		due.push_back(DuePolicy{r.OidAt(i, 0), r.At(i, 1)});
	return due;
}

void
RecordSchedule(const std::vector<DuePolicy> &due, const std::vector<maint::Outcome> &outcomes, int64_t started) {
	for (const DuePolicy &d : due) {
		const Oid relid = d.relid;
		core::Status status = core::Status::Ok;
		for (const auto &o : outcomes)
			if (o.relid == relid)
				status = core::Worse(status, o.status);
		pg::AsExtensionOwner([&] {
			/* a first failure waits one naptime (RetryFactor(0)), the next ones the back-off of core/backoff.hpp */
			pg::SpiExec("INSERT INTO upkeep.policy_state AS s "
			            "  (relid, last_started, last_finished, last_status, failures, next_due) "
			            "SELECT $1, $3, pg_catalog.clock_timestamp(), $2, "
			            "  CASE WHEN $2 OPERATOR(pg_catalog.=) 'failed' THEN 1 ELSE 0 END, "
			            "  pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) CASE "
			            "    WHEN $2 OPERATOR(pg_catalog.=) 'ok' THEN p.run_every "
			            "    WHEN $2 OPERATOR(pg_catalog.=) 'skipped' THEN pg_catalog.make_interval(secs => $4) "
			            "    ELSE LEAST(p.run_every, pg_catalog.make_interval(secs => $4)) END "
			            "FROM upkeep.policy p WHERE p.relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1 "
			            "ON CONFLICT (relid) DO UPDATE SET last_started = EXCLUDED.last_started, "
			            "  last_finished = EXCLUDED.last_finished, last_status = EXCLUDED.last_status, "
			            "  failures = CASE WHEN EXCLUDED.last_status OPERATOR(pg_catalog.=) 'failed' "
			            "    THEN s.failures OPERATOR(pg_catalog.+) 1 ELSE 0 END, "
			            "  next_due = CASE WHEN EXCLUDED.last_status OPERATOR(pg_catalog.=) 'failed' "
			            "    THEN pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) LEAST((SELECT p.run_every "
			            "      FROM upkeep.policy p WHERE p.relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1), "
			            "      pg_catalog.make_interval(secs => $4 "
			            "      OPERATOR(pg_catalog.*) " +
			                core::RetryFactorSql("s.failures") +
			                ")) "
			                "    ELSE EXCLUDED.next_due END",
			            {pg::SpiValue::Oid_(relid), pg::SpiValue::Text(core::StatusText(status)),
			             pg::SpiValue::TimestampTz(started), pg::SpiValue::Int4(pg::g_naptime_s)},
			            pg::SpiMode::Write);
			/* changed (set_policy) while it ran: due again at once, with the new settings */
			pg::SpiExec("UPDATE upkeep.policy_state s SET next_due = NULL FROM upkeep.policy p "
			            "WHERE s.relid OPERATOR(pg_catalog.=) $1 AND p.relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1 "
			            "AND NOT (p.updated_at OPERATOR(pg_catalog.=) $2::pg_catalog.timestamptz)",
			            {pg::SpiValue::Oid_(relid), pg::SpiValue::Text(d.version)}, pg::SpiMode::Write);
		});
	}
}

/*
 * One cycle of maintenance, C++ side: due policies through the engine
 * (inside a non-atomic SPI connection: a commit per batch), their schedule,
 * and what is left for top level.
 */
void
MaintainDuePolicies(bool first, Followups *follow) {
	pg::SpiConnect(true);
	pg::FaultPoint("worker-cycle");
	if (first)
		maint::MarkInterruptedRuns(); /* runs left 'running' by a crash do not block anything */
	/*
	 * On a Citus worker node nothing runs: policies and runs belong to the
	 * coordinator (a run here would change distributed tables everywhere and
	 * be recorded only here).  Said once per worker process.
	 */
	if (pg::OnCitusWorkerNode()) {
		static bool said = false;
		if (!said)
			pg::PgCall([] {
				ereport(LOG, (errmsg("pg_upkeep worker: this database is on a Citus worker node; it runs no "
				                     "policies (maintenance of a Citus cluster runs on the coordinator)")));
			});
		said = true;
		pg::SpiFinish();
		return;
	}
	const std::vector<DuePolicy> due = DuePolicies();
	if (!due.empty()) {
		const int64_t started = pg::PgCall([] { return (int64_t)GetCurrentTimestamp(); });
		std::vector<Oid> relids;
		for (const DuePolicy &d : due)
			relids.push_back(d.relid);
		const std::vector<maint::Outcome> outcomes =
		    maint::RunMaintenance(maint::RunOptions::Worker(std::move(relids), &follow->detaches));
		RecordSchedule(due, outcomes, started);
		/*
		 * row work leaves dead rows behind; whole partitions dropped, detached
		 * or moved do not.  Not for rows in Citus shards: their nodes'
		 * autovacuum sees them, while a VACUUM from here runs on every shard
		 * outside any transaction, where no lock budget reaches the nodes.
		 */
		for (const auto &o : outcomes)
			if (o.status == core::Status::Ok && o.rows >= kVacuumAfterRows && o.action &&
			    core::Describe(*o.action).vacuum_after_rows && o.grain == core::Grain::Rows &&
			    !pg::RowsOnShards(pg::CitusTableKind(o.relid)))
				follow->vacuum.emplace_back(o.table_name, o.relid);
		follow->run_id = maint::NewRunId();
	}
	pg::SpiFinish();
}

/*
 * A follow-up statement's outcome: its run_log row, and, when it is not ok,
 * the policy's state (it is not ok either, and due again soon: a skipped
 * one at the next wake-up, a failed one with the usual back-off).
 */
void
RecordFollowup(int64_t run_id, Oid relid, const std::string &table, const std::string &action, core::Status status,
               const std::string &message, int64_t rows = 0) {
	char failure[256];
	const bool ok = InTransaction(true, failure, sizeof(failure), [&] {
		pg::SpiConnect();
		maint::LogOutcome(run_id, relid, table, action, status, message, "worker", rows);
		if (status != core::Status::Ok)
			pg::AsExtensionOwner([&] {
				pg::SpiExec(
				    "UPDATE upkeep.policy_state s SET last_status = $2, "
				    "  last_finished = pg_catalog.clock_timestamp(), "
				    "  failures = CASE WHEN $2 OPERATOR(pg_catalog.=) 'failed' "
				    "    THEN s.failures OPERATOR(pg_catalog.+) 1 ELSE s.failures END, "
				    "  next_due = CASE WHEN s.next_due IS NULL THEN NULL ELSE LEAST(s.next_due, "
				    "    pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => $3 "
				    "    OPERATOR(pg_catalog.*) CASE WHEN $2 OPERATOR(pg_catalog.=) 'failed' "
				    "      THEN " +
				        core::RetryFactorSql("s.failures") +
				        " ELSE 1 END)) END "
				        "WHERE s.relid OPERATOR(pg_catalog.=) $1",
				    {pg::SpiValue::Oid_(relid), pg::SpiValue::Text(core::StatusText(status)),
				     pg::SpiValue::Int4(pg::g_naptime_s)},
				    pg::SpiMode::Write);
			});
		pg::SpiFinish();
	});
	if (!ok)
		ReportFailure(failure);
}

/* Whether the partition of a deferred detach is now detach pending (its DETACH CONCURRENTLY stopped half-way). */
bool
DetachIsPending(const maint::DeferredDetach &d) {
	bool pending = false;
	char failure[256];
	(void)InTransaction(true, failure, sizeof(failure), [&] {
		pg::SpiConnect();
		const pg::SpiResult r =
		    pg::SpiExec("SELECT i.inhdetachpending FROM pg_catalog.pg_inherits i "
		                "WHERE i.inhparent OPERATOR(pg_catalog.=) $1 "
		                "AND i.inhrelid OPERATOR(pg_catalog.=) pg_catalog.to_regclass($2)::pg_catalog.oid",
		                {pg::SpiValue::Oid_(d.parent), pg::SpiValue::Text(d.partition_sql)}, pg::SpiMode::ReadOnly);
		pending = !r.rows.empty() && r.BoolAt(0, 0);
		pg::SpiFinish();
	});
	return pending;
}

/* One deferred DETACH CONCURRENTLY (and the move to detach_schema). */
void
DetachOne(const maint::DeferredDetach &d, std::vector<Oid> *pending_parents, core::Status *status,
          std::string *message) {
	char err[512];
	int sqlstate = 0;
	if (std::find(pending_parents->begin(), pending_parents->end(), d.parent) != pending_parents->end()) {
		*status = core::Status::Skipped;
		*message = d.partition_sql + ": not detached: another partition of " + d.parent_sql +
		           " is detach pending; the next run finalizes it and goes on";
		return;
	}
	const std::string sql = "ALTER TABLE " + d.parent_sql + " DETACH PARTITION " + d.partition_sql + " CONCURRENTLY";
	/* by OID: the parent and the partition the engine meant, under the names they have now */
	const RelExpect concurrently[2] = {{d.parent, d.parent_sql.c_str(), ShareUpdateExclusiveLock},
	                                   {d.partition, d.partition_sql.c_str(), ShareUpdateExclusiveLock}};
	const RelExpect exclusive[2] = {{d.parent, d.parent_sql.c_str(), AccessExclusiveLock},
	                                {d.partition, d.partition_sql.c_str(), AccessExclusiveLock}};
	if (!RunTopLevel(sql.c_str(), d.owner, kNoRestriction, err, sizeof(err), &sqlstate, concurrently, 2)) {
		if (sqlstate == ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE) {
			*status = core::Status::Skipped;
			*message = err;
			return;
		}
		const std::string first_error = err;
		if (DetachIsPending(d)) {
			/* the first phase committed, the second did not: half done, finalized by the next run */
			pending_parents->push_back(d.parent);
			*status = sqlstate == ERRCODE_LOCK_NOT_AVAILABLE ? core::Status::Skipped : core::Status::Failed;
			*message = d.partition_sql +
			           ": detach pending (the second phase of DETACH CONCURRENTLY stopped: " + first_error +
			           "); the next run finalizes it (DETACH ... FINALIZE)";
			return;
		}
		/* refused (say, by a distributed table): a bounded plain DETACH instead */
		const std::string plain = "ALTER TABLE " + d.parent_sql + " DETACH PARTITION " + d.partition_sql;
		if (!RunTopLevel(plain.c_str(), d.owner, kRestricted, err, sizeof(err), &sqlstate, exclusive, 2)) {
			*status = sqlstate == ERRCODE_LOCK_NOT_AVAILABLE ? core::Status::Skipped : core::Status::Failed;
			*message = d.partition_sql + ": " + err;
			return;
		}
		*message = d.partition_sql + " (plain DETACH: " + first_error + ")";
	}
	if (!d.detach_schema.empty()) {
		const std::string schema = pg::QuoteIdent(d.detach_schema);
		const std::string move = "ALTER TABLE " + d.partition_sql + " SET SCHEMA " + schema;
		if (!RunTopLevel(move.c_str(), d.owner, kRestricted, err, sizeof(err), &sqlstate, exclusive + 1, 1)) {
			/* detached, but not where the policy says: not ok */
			*status = core::Status::Failed;
			*message += std::string("; detached, but could not move it to schema ") + schema + ": " + err;
		} else
			*message += " (moved to schema " + schema + ")";
	}
}

/* The message of a C++ exception caught by a follow-up. */
std::string
Describe(const std::exception &e) {
	return dynamic_cast<const std::bad_alloc *>(&e) != nullptr ? "out of memory" : e.what();
}

/*
 * The top-level statements, each on its own: one that fails (or throws) is
 * recorded failed and the others still run.
 */
void
RunFollowups(Followups &follow) {
	std::vector<Oid> pending_parents;
	for (const auto &d : follow.detaches) {
		core::Status status = core::Status::Ok;
		std::string message = d.partition_sql;
		try {
			pg::FaultPoint("worker-followup");
			DetachOne(d, &pending_parents, &status, &message);
		} catch (const std::exception &e) {
			status = core::Status::Failed;
			message = d.partition_sql + ": " + Describe(e);
		}
		/* the rows the partition held when the run handed it over (counted on the shards on Citus) */
		RecordFollowup(follow.run_id, d.parent, d.parent_sql,
		               std::string(core::Describe(core::Action::Detach).label) + " CONCURRENTLY", status, message,
		               status == core::Status::Ok ? d.rows : 0);
	}
	for (const auto &v : follow.vacuum) {
		core::Status status = core::Status::Ok;
		std::string message;
		try {
			pg::FaultPoint("worker-followup");
			char err[512];
			int sqlstate = 0;
			const std::string sql = "VACUUM (ANALYZE) " + v.first;
			/* as the worker: VACUUM switches to each table's owner, restricted, itself */
			const RelExpect table[1] = {{v.second, v.first.c_str(), ShareUpdateExclusiveLock}};
			if (!RunTopLevel(sql.c_str(), InvalidOid, kNoRestriction, err, sizeof(err), &sqlstate, table, 1)) {
				status = core::Status::Failed;
				message = err;
			}
		} catch (const std::exception &e) {
			status = core::Status::Failed;
			message = Describe(e);
		}
		RecordFollowup(follow.run_id, v.second, v.first, "VACUUM", status, message);
	}
}

/* The cycle: returns false with the reason in `failure` when it failed as a whole. */
bool
Cycle(bool first, char *failure, size_t len) {
	Followups follow;
	if (!InTransaction(false, failure, len, [&] { MaintainDuePolicies(first, &follow); }))
		return false;
	RunFollowups(follow);
	return true;
}

/* Cycle() with every C++ exception caught: nothing escapes into the C frames around it. */
bool
CycleGuarded(bool first, char *failure, size_t len) noexcept {
	try {
		return Cycle(first, failure, len);
	} catch (const std::bad_alloc &) {
		strlcpy(failure, "out of memory", len);
	} catch (const std::exception &e) {
		strlcpy(failure, e.what(), len);
	} catch (...) {
		strlcpy(failure, "unknown C++ exception", len);
	}
	return false;
}

/* ---- the loop (C-style) ----------------------------------------------------- */

/* Whether this database has the extension.  C-style; may ereport. */
bool
ExtensionInstalled() {
	bool installed;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("pg_upkeep", true));
	CommitTransactionCommand();
	MemoryContextSwitchTo(g_loop_cxt);
	return installed;
}

/* Logs a change of the extension's presence, once per change.  C-style. */
void
NoteExtension(bool installed, bool during_cycle) {
	const ExtensionState now = installed ? kExtInstalled : kExtMissing;
	if (now == g_ext)
		return;
	if (!installed && g_ext == kExtUnknown)
		ereport(LOG, (errmsg("pg_upkeep worker: database \"%s\" does not have the pg_upkeep extension; waiting for "
		                     "CREATE EXTENSION pg_upkeep",
		                     g_dbname),
		              errdetail(
		                  "The worker checks again every upkeep.naptime, and at once when the extension is created.")));
	else if (!installed)
		ereport(LOG, (errmsg("pg_upkeep worker: the pg_upkeep extension was dropped from database \"%s\"%s; waiting "
		                     "for CREATE EXTENSION pg_upkeep",
		                     g_dbname, during_cycle ? " during a maintenance cycle" : "")));
	else if (g_ext == kExtMissing)
		ereport(LOG, (errmsg("pg_upkeep worker: the pg_upkeep extension exists in database \"%s\" now; maintaining it",
		                     g_dbname)));
	g_ext = now;
	SetWaiting(!installed);
}

void
ReportActivity(const char *fmt, const char *detail) {
	char buf[512];
	snprintf(buf, sizeof(buf), fmt, (unsigned long long)g_cycle, detail);
	pgstat_report_activity(STATE_IDLE, buf);
}

/* One maintenance cycle.  C-style: no C++ object lives in this frame. */
void
RunCycle(bool first) {
	char failure[512];
	failure[0] = '\0';
	g_cycle++;
	MemoryContextReset(g_portal_cxt); /* what an earlier failed cycle left there */
	PortalContext = g_portal_cxt;
	const bool ok = CycleGuarded(first, failure, sizeof(failure));
	PortalContext = NULL;
	MemoryContextSwitchTo(g_loop_cxt);
	if (!ok) {
		AbortOutOfAnyTransaction(); /* nothing is open unless an exception escaped a transaction */
		RestoreIdentity();
		if (!ExtensionInstalled()) {
			/* dropped while the cycle ran: that explains the failure; say it once, as LOG */
			NoteExtension(false, true);
			ReportActivity("pg_upkeep worker: cycle %llu stopped: %s", "the extension was dropped");
		} else {
			ReportFailure(failure);
			ReportActivity("pg_upkeep worker: cycle %llu failed: %s", failure);
		}
	} else
		ReportActivity("pg_upkeep worker: cycle %llu ok%s", "");
	pgstat_report_stat(false);
}

/* One pass of the loop, every error caught.  C-style. */
void
LoopOnce(bool *first) {
	PG_TRY();
	{
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		ExitIfNotWanted(kRunning);
		if (!HoldDatabaseLock(1)) {
			ereport(LOG,
			        (errmsg("pg_upkeep worker: another pg_upkeep worker serves database \"%s\"; exiting", g_dbname)));
			proc_exit(0);
		}
		RestoreIdentity();
		const bool installed = ExtensionInstalled();
		NoteExtension(installed, false);
		if (installed) {
			RunCycle(*first);
			*first = false;
		} else
			pgstat_report_activity(STATE_IDLE, "pg_upkeep worker: waiting for CREATE EXTENSION pg_upkeep");
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(g_loop_cxt);
		ErrorData *e = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		PortalContext = NULL;
		RestoreIdentity();
		ReportFailure(e->message ? e->message : "unknown error");
		FreeErrorData(e);
		RESUME_INTERRUPTS();
	}
	PG_END_TRY();
}

} // namespace

void
WorkerMain(Datum main_arg) {
	const uint64 arg = (uint64)main_arg;
	const int slot_index = (int)(arg & 0xFFFF);
	g_generation = (uint32)(arg >> 16);
	char role[NAMEDATALEN];
	strlcpy(g_dbname, MyBgworkerEntry->bgw_extra, NAMEDATALEN);
	strlcpy(role, MyBgworkerEntry->bgw_extra + NAMEDATALEN, NAMEDATALEN);
	g_launcher_pid = MyBgworkerEntry->bgw_notify_pid;
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();

	g_sh = Shared();
	if (g_sh == nullptr || slot_index < 0 || slot_index >= g_sh->nslots)
		ereport(FATAL, (errmsg("pg_upkeep worker: started without its shared slot")));
	g_slot = &g_sh->slots[slot_index];
	g_loop_cxt = AllocSetContextCreate(TopMemoryContext, "pg_upkeep worker loop", ALLOCSET_DEFAULT_SIZES);
	g_portal_cxt = AllocSetContextCreate(TopMemoryContext, "pg_upkeep worker cycle", ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(g_loop_cxt);

	/* superseded, orphaned or asked to leave before it even connected: do not take the database at all */
	ExitIfNotWanted(kBeforeConnect);
	BackgroundWorkerInitializeConnection(g_dbname, role[0] ? role : NULL, 0);
	pgstat_report_appname("pg_upkeep worker");
	MemoryContextSwitchTo(g_loop_cxt);
	ExitIfNotWanted(kClaim); /* claims the slot, or leaves */
	on_shmem_exit(OnExit, (Datum)0);
	g_worker_user = GetUserId();
	/*
	 * No transaction of the worker waits on a synchronous standby (nor on
	 * fsync): batches are atomic, and a crash only undoes whole ones, which
	 * the next run does again.  Set for the session, so it covers VACUUM,
	 * DETACH and the bookkeeping too, whatever postgresql.conf says.
	 */
	SetConfigOption("synchronous_commit", "off", PGC_SUSET, PGC_S_SESSION);
	if (!HoldDatabaseLock(50)) {
		ereport(LOG, (errmsg("pg_upkeep worker: another pg_upkeep worker serves database \"%s\"; exiting", g_dbname)));
		proc_exit(0);
	}

	bool first = true;
	for (;;) {
		MemoryContextSwitchTo(g_loop_cxt);
		MemoryContextReset(g_loop_cxt);
		LoopOnce(&first);
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, pg::g_naptime_s * 1000L,
		                PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

} // namespace upkeep::bgw
