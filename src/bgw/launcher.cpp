/*
 * src/bgw/launcher.cpp
 *
 * The launcher: one static background worker, registered when the library
 * is preloaded, started once recovery has finished (so a hot standby runs
 * nothing, and a promoted one starts maintaining without a restart).  It
 * connects to no database -- it reads only the shared catalogs pg_database
 * and pg_authid -- and keeps one dynamic worker running per database in
 * upkeep.databases:
 *   - a worker that exits is started again, soon if it had run a while, with
 *     growing back-off (1 s .. 5 min) if it keeps exiting right after start;
 *   - no worker is started for a listed database that does not exist, does
 *     not allow connections or is invalid, nor with an upkeep.role that does
 *     not exist or cannot log in (PostgreSQL 15 refuses a background worker
 *     such a role), nor when no background worker slot is free: one LOG line
 *     per back-off interval (10 s .. 5 min), checked again at once on a
 *     reload and when DDL that may have fixed it commits (the utility hook
 *     pokes the launcher);
 *   - a database whose DROP/RENAME/... is under way (a hold in its slot, set
 *     by the utility hook) gets no worker until that command has ended;
 *   - on SIGHUP it starts workers for added databases and stops those of
 *     removed ones (and restarts all when upkeep.role changed);
 *   - a restarted launcher first stops the workers its predecessor left
 *     (see shmem.hpp for the one-worker-per-database rules).
 * Written as C-style frames: PostgreSQL errors may longjmp through here.
 */
extern "C" {
#include "postgres.h"
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"
}

#include <signal.h>

#include "upkeep/bgw/launcher.hpp"
#include "upkeep/core/backoff.hpp"
#include "upkeep/bgw/shmem.hpp"
#include "upkeep/bgw/worker.hpp"
#include "upkeep/pg/guc.hpp"

namespace upkeep::bgw {

namespace {

/* Launcher-local: the handle of each slot's worker (handles are process-local). */
BackgroundWorkerHandle **g_handles = nullptr;
NameData g_role;
bool g_warned_slots = false;
MemoryContext g_pass_cxt = NULL;

/* upkeep.role problems concern every database: one line per back-off interval for all */
int g_role_problems = 0;
TimestampTz g_role_next_check = 0;
char g_role_problem[160];

constexpr long kQuickExitMs = 30 * 1000;
constexpr long kProblemBackoffMs = 10 * 1000;

enum ProblemKind { kNoProblem = 0, kConfigProblem, kNoBgwSlot };

using core::Backoff;

/*
 * The databases in upkeep.databases (names, de-duplicated).  Allocated in
 * the pass context.
 */
int
WantedDatabases(NameData *out, int max) {
	char *raw = pstrdup(upkeep::pg::g_databases ? upkeep::pg::g_databases : "");
	List *names = NIL;
	int n = 0;
	if (!SplitGUCList(raw, ',', &names)) {
		ereport(LOG,
		        (errmsg("pg_upkeep launcher: upkeep.databases is not a valid list: \"%s\"", upkeep::pg::g_databases)));
		return 0;
	}
	ListCell *lc;
	foreach (lc, names) {
		const char *name = (const char *)lfirst(lc);
		bool dup = false;
		for (int i = 0; i < n; i++)
			dup = dup || strcmp(NameStr(out[i]), name) == 0;
		if (dup)
			continue;
		if (n < max)
			namestrcpy(&out[n++], name);
		else if (!g_warned_slots) {
			ereport(WARNING, (errmsg("pg_upkeep launcher: more databases listed than upkeep.max_workers (%d); \"%s\" "
			                         "is not maintained",
			                         max, name)));
			g_warned_slots = true;
		}
	}
	return n;
}

struct DbInfo {
	bool exists;
	bool allowconn;
	bool valid;
};
struct RoleInfo {
	bool exists;
	bool canlogin;
};

/*
 * Reads what the start of a worker depends on from the shared catalogs
 * pg_database and pg_authid (as autovacuum's launcher does: a transaction,
 * a catalog scan, no database).  `role` empty: the bootstrap superuser,
 * which PostgreSQL does not check.  C-style; may ereport.
 */
void
ReadCatalog(const NameData *names, int n, DbInfo *dbs, const char *role, RoleInfo *ri) {
	memset(dbs, 0, sizeof(DbInfo) * n);
	ri->exists = ri->canlogin = role[0] == '\0';
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	(void)GetTransactionSnapshot();
	Relation rel = table_open(DatabaseRelationId, AccessShareLock);
	TableScanDesc scan = table_beginscan_catalog(rel, 0, NULL);
	HeapTuple tup;
	while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection))) {
		Form_pg_database d = (Form_pg_database)GETSTRUCT(tup);
		for (int k = 0; k < n; k++)
			if (strcmp(NameStr(d->datname), NameStr(names[k])) == 0) {
				dbs[k].exists = true;
				dbs[k].allowconn = d->datallowconn;
#ifdef DATCONNLIMIT_INVALID_DB
				dbs[k].valid = d->datconnlimit != DATCONNLIMIT_INVALID_DB;
#else
				dbs[k].valid = true;
#endif
			}
	}
	table_endscan(scan);
	table_close(rel, AccessShareLock);
	if (role[0] != '\0') {
		rel = table_open(AuthIdRelationId, AccessShareLock);
		scan = table_beginscan_catalog(rel, 0, NULL);
		while (HeapTupleIsValid(tup = heap_getnext(scan, ForwardScanDirection))) {
			Form_pg_authid a = (Form_pg_authid)GETSTRUCT(tup);
			if (strcmp(NameStr(a->rolname), role) == 0) {
				ri->exists = true;
				ri->canlogin = a->rolcanlogin;
			}
		}
		table_endscan(scan);
		table_close(rel, AccessShareLock);
	}
	CommitTransactionCommand();
	MemoryContextSwitchTo(g_pass_cxt);
}

/* ReadCatalog, its errors logged instead of ending the launcher.  C-style. */
bool
TryReadCatalog(const NameData *names, int n, DbInfo *dbs, const char *role, RoleInfo *ri) {
	volatile bool ok = true;
	PG_TRY();
	{ ReadCatalog(names, n, dbs, role, ri); }
	PG_CATCH();
	{
		MemoryContextSwitchTo(g_pass_cxt);
		ErrorData *e = CopyErrorData();
		FlushErrorState();
		AbortOutOfAnyTransaction();
		ereport(LOG, (errmsg("pg_upkeep launcher: could not read pg_database / pg_authid: %s", e->message)));
		FreeErrorData(e);
		ok = false;
	}
	PG_END_TRY();
	MemoryContextSwitchTo(g_pass_cxt);
	return ok;
}

/*
 * Records a problem that keeps slot i from getting a worker, and logs it --
 * once per back-off interval: a recheck (reload, DDL) that finds the same
 * problem before its interval is over says nothing.  Returns the ms until
 * the next check.
 */
long
Block(SharedState *sh, int i, int kind, const char *problem, const char *hint, TimestampTz now) {
	DbSlot *slot = &sh->slots[i];
	const bool same = slot->state == kSlotBlocked && strcmp(slot->problem, problem) == 0 && now < slot->next_start;
	if (same)
		return TimestampDifferenceMilliseconds(now, slot->next_start);
	/* a new problem: its back-off starts over */
	const int problems = strcmp(slot->problem, problem) != 0 ? 0 : slot->problems;
	const long wait = Backoff(kProblemBackoffMs, problems);
	SpinLockAcquire(&sh->mutex);
	slot->state = kSlotBlocked;
	slot->problems = problems + 1;
	slot->next_start = TimestampTzPlusMilliseconds(now, wait);
	strlcpy(slot->problem, problem, sizeof(slot->problem));
	slot->problem_kind = kind; /* kNoBgwSlot is tried again as soon as a worker exits */
	SpinLockRelease(&sh->mutex);
	ereport(LOG,
	        (errmsg("pg_upkeep launcher: %s; not starting its worker (checked again in %ld s)", problem, wait / 1000),
	         hint ? errhint("%s", hint) : 0));
	return wait;
}

/* bgw_main_arg: the slot index (low 16 bits) and the generation of this start. */
bool
StartWorker(SharedState *sh, int i, const NameData *dbname, const char *role) {
	static_assert(sizeof(Datum) == 8, "bgw_main_arg carries a 32-bit generation and a slot index");
	SpinLockAcquire(&sh->mutex);
	if (++sh->next_generation == 0)
		sh->next_generation = 1;
	const uint32 generation = sh->next_generation;
	DbSlot *slot = &sh->slots[i];
	slot->generation = generation; /* before the worker exists: it owns the slot only with this generation */
	slot->state = kSlotStarting;
	slot->started_at = GetCurrentTimestamp();
	slot->leave = false;
	slot->leave_for[0] = '\0';
	slot->waiting = false;
	SpinLockRelease(&sh->mutex);

	BackgroundWorker w{};
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "pg_upkeep");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "upkeep_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "pg_upkeep worker for %s", NameStr(*dbname));
	snprintf(w.bgw_type, BGW_MAXLEN, "pg_upkeep worker");
	w.bgw_main_arg = (Datum)(((uint64)generation << 16) | (uint64)i);
	static_assert(2 * NAMEDATALEN <= BGW_EXTRALEN, "bgw_extra holds two names");
	strlcpy(w.bgw_extra, NameStr(*dbname), NAMEDATALEN);
	strlcpy(w.bgw_extra + NAMEDATALEN, role ? role : "", NAMEDATALEN);
	w.bgw_notify_pid = MyProcPid;
	BackgroundWorkerHandle *handle = NULL;
	/* the handle is palloc'd: it must outlive this pass's memory */
	MemoryContext old = MemoryContextSwitchTo(TopMemoryContext);
	const bool registered = RegisterDynamicBackgroundWorker(&w, &handle);
	MemoryContextSwitchTo(old);
	if (!registered)
		return false;
	g_handles[i] = handle;
	SpinLockAcquire(&sh->mutex);
	slot->problems = 0;
	slot->problem[0] = '\0';
	SpinLockRelease(&sh->mutex);
	return true;
}

/* Slot of `name` in the pass, or a free slot claimed for it; -1 when none is free. */
int
SlotFor(SharedState *sh, const NameData *name, TimestampTz now) {
	int free_slot = -1;
	for (int i = 0; i < sh->nslots; i++) {
		if (sh->slots[i].state != kSlotFree && strcmp(NameStr(sh->slots[i].dbname), NameStr(*name)) == 0)
			return i;
		if (free_slot < 0 && sh->slots[i].state == kSlotFree && g_handles[i] == NULL && sh->slots[i].pid == 0)
			free_slot = i;
	}
	if (free_slot >= 0) {
		SpinLockAcquire(&sh->mutex);
		DbSlot *slot = &sh->slots[free_slot];
		const uint32 generation = slot->generation;
		memset(slot, 0, sizeof(DbSlot));
		slot->generation = generation;
		slot->dbname = *name;
		slot->state = kSlotStopped;
		slot->next_start = now;
		SpinLockRelease(&sh->mutex);
	}
	return free_slot;
}

/*
 * One pass: stop workers of databases no longer listed (and orphans of a
 * previous launcher), notice exits, start what is missing.  Returns the
 * milliseconds until the next pass is needed (or a long nap).
 */
long
Reconcile(SharedState *sh, bool reloaded) {
	NameData wanted[128];
	const int max = sh->nslots < 128 ? sh->nslots : 128;
	const int n = WantedDatabases(wanted, max);
	const char *role = upkeep::pg::g_role ? upkeep::pg::g_role : "";
	const bool role_changed = strcmp(role, NameStr(g_role)) != 0;
	namestrcpy(&g_role, role);
	const TimestampTz now = GetCurrentTimestamp();
	long nap = 5 * 60 * 1000L;
	bool recheck = reloaded || role_changed;
	SpinLockAcquire(&sh->mutex);
	recheck = recheck || sh->recheck;
	sh->recheck = false;
	SpinLockRelease(&sh->mutex);
	bool slot_freed = false;

	/* the workers there are: exits, and those to stop */
	for (int i = 0; i < sh->nslots; i++) {
		DbSlot *slot = &sh->slots[i];
		if (slot->state == kSlotFree && g_handles[i] == NULL && slot->pid == 0)
			continue;
		bool listed = false;
		for (int k = 0; k < n; k++)
			listed = listed || strcmp(NameStr(wanted[k]), NameStr(slot->dbname)) == 0;
		if (g_handles[i] != NULL) {
			pid_t pid;
			if (GetBackgroundWorkerPid(g_handles[i], &pid) == BGWH_STOPPED) {
				pfree(g_handles[i]);
				g_handles[i] = NULL;
				slot_freed = true;
				SpinLockAcquire(&sh->mutex);
				const bool left = slot->leave;
				const long ran = TimestampDifferenceMilliseconds(slot->started_at, now);
				if (!left) {
					slot->quick_exits = ran < kQuickExitMs ? slot->quick_exits + 1 : 0;
					slot->next_start = TimestampTzPlusMilliseconds(
					    now, Backoff(1000, slot->quick_exits > 0 ? slot->quick_exits - 1 : 0));
				} else
					slot->next_start = now; /* the hold decides */
				slot->stopped_at = now;
				slot->state = kSlotStopped;
				slot->waiting = false;
				/* ours: a worker that never connected left pid and latch unset; one that did cleared them itself */
				slot->pid = 0;
				slot->latch = NULL;
				const long wait = TimestampDifferenceMilliseconds(now, slot->next_start);
				SpinLockRelease(&sh->mutex);
				if (listed && !left && !role_changed)
					ereport(LOG, (errmsg("pg_upkeep launcher: worker for database \"%s\" exited; starting it again in "
					                     "%ld ms",
					                     NameStr(slot->dbname), wait)));
			} else if (!listed || role_changed) {
				TerminateBackgroundWorker(g_handles[i]);
				ereport(LOG, (errmsg("pg_upkeep launcher: stopping the worker for database \"%s\" (%s)",
				                     NameStr(slot->dbname),
				                     listed ? "upkeep.role changed" : "no longer in upkeep.databases")));
				nap = 1000L; /* come back to notice its exit */
				continue;
			} else
				continue;
		} else if (slot->pid != 0) {
			/* a worker a previous launcher started: it goes before this database gets another */
			const pid_t orphan = slot->pid;
			if (kill(orphan, SIGTERM) != 0 && errno == ESRCH) {
				SpinLockAcquire(&sh->mutex);
				if (slot->pid == orphan) {
					slot->pid = 0;
					slot->latch = NULL;
					slot->state = kSlotStopped;
				}
				SpinLockRelease(&sh->mutex);
			} else {
				if (slot->state != kSlotStopped)
					ereport(LOG, (errmsg("pg_upkeep launcher: stopping the worker (pid %d) for database \"%s\" that "
					                     "the previous launcher started",
					                     (int)orphan, NameStr(slot->dbname))));
				SpinLockAcquire(&sh->mutex);
				slot->state = kSlotStopped;
				slot->next_start = now;
				SpinLockRelease(&sh->mutex);
				nap = 200L;
				continue;
			}
		}
		if (!listed) {
			SpinLockAcquire(&sh->mutex);
			const uint32 generation = slot->generation;
			memset(slot, 0, sizeof(*slot));
			slot->generation = generation;
			SpinLockRelease(&sh->mutex);
		}
	}

	/* what should run and does not: which of those may start now */
	int candidates[128];
	int nc = 0;
	for (int k = 0; k < n; k++) {
		const int i = SlotFor(sh, &wanted[k], now);
		if (i < 0)
			continue;
		DbSlot *slot = &sh->slots[i];
		if (g_handles[i] != NULL || slot->pid != 0)
			continue;
		/* checked again before its time: Block() stays quiet if the problem is the same */
		const bool force = slot->state == kSlotBlocked && (recheck || (slot_freed && slot->problem_kind == kNoBgwSlot));
		if (slot->hold_until > now) {
			const long wait = TimestampDifferenceMilliseconds(now, slot->hold_until);
			nap = wait < nap ? wait : nap;
			continue;
		}
		if (!force && slot->next_start > now) {
			const long wait = TimestampDifferenceMilliseconds(now, slot->next_start);
			nap = wait < nap ? wait : nap;
			continue;
		}
		candidates[nc++] = k;
	}
	if (nc == 0)
		return nap < 100 ? 100 : nap;

	DbInfo dbs[128];
	RoleInfo ri;
	if (!TryReadCatalog(wanted, n, dbs, role, &ri))
		return 10 * 1000L;
	if (!ri.exists || !ri.canlogin) {
		char problem[160];
		if (!ri.exists)
			snprintf(problem, sizeof(problem), "upkeep.role \"%s\" does not exist", role);
		else
			snprintf(problem, sizeof(problem), "upkeep.role \"%s\" cannot log in (NOLOGIN)", role);
		if (now >= g_role_next_check || strcmp(problem, g_role_problem) != 0) {
			if (strcmp(problem, g_role_problem) != 0)
				g_role_problems = 0; /* a new problem: its back-off starts over */
			const long wait = Backoff(kProblemBackoffMs, g_role_problems);
			g_role_problems++;
			g_role_next_check = TimestampTzPlusMilliseconds(now, wait);
			strlcpy(g_role_problem, problem, sizeof(g_role_problem));
			ereport(LOG, (errmsg("pg_upkeep launcher: %s; not starting any worker (checked again in %ld s)", problem,
			                     wait / 1000),
			              !ri.exists ? errhint("Create the role, or set upkeep.role to another one and reload.")
			                         : errhint("Background workers of PostgreSQL 15 need a role with LOGIN.")));
		}
		const long wait = TimestampDifferenceMilliseconds(now, g_role_next_check);
		return wait < 100 ? 100 : (wait < nap ? wait : nap);
	}
	g_role_problems = 0;
	g_role_problem[0] = '\0';

	for (int c = 0; c < nc; c++) {
		const int k = candidates[c];
		const int i = SlotFor(sh, &wanted[k], now);
		char problem[96];
		const char *hint = NULL;
		problem[0] = '\0';
		if (!dbs[k].exists)
			snprintf(problem, sizeof(problem), "database \"%s\", listed in upkeep.databases, does not exist",
			         NameStr(wanted[k]));
		else if (!dbs[k].valid)
			snprintf(problem, sizeof(problem), "database \"%s\", listed in upkeep.databases, is invalid",
			         NameStr(wanted[k]));
		else if (!dbs[k].allowconn)
			snprintf(problem, sizeof(problem),
			         "database \"%s\", listed in upkeep.databases, does not allow connections", NameStr(wanted[k]));
		if (problem[0] != '\0') {
			hint = !dbs[k].exists || !dbs[k].valid
			           ? "Remove it from upkeep.databases (and reload), or create it."
			           : "ALTER DATABASE ... WITH ALLOW_CONNECTIONS true, or remove it from "
			             "upkeep.databases.";
			const long wait = Block(sh, i, kConfigProblem, problem, hint, now);
			nap = wait < nap ? wait : nap;
			continue;
		}
		if (!StartWorker(sh, i, &wanted[k], role)) {
			snprintf(problem, sizeof(problem), "no free background worker slot for the worker of database \"%s\"",
			         NameStr(wanted[k]));
			const long wait = Block(sh, i, kNoBgwSlot, problem,
			                        "Raise max_worker_processes (a restart), or list fewer databases.", now);
			nap = wait < nap ? wait : nap;
		}
	}
	return nap < 100 ? 100 : nap;
}

void
LauncherOnExit(int, Datum) {
	SharedState *sh = Shared();
	if (sh == nullptr)
		return;
	Latch *latches[128];
	int nl = 0;
	SpinLockAcquire(&sh->mutex);
	if (sh->launcher_pid == MyProcPid) {
		sh->launcher_pid = 0;
		sh->launcher_latch = NULL;
		/* its workers notice at once that their launcher is gone, and leave */
		for (int i = 0; i < sh->nslots && nl < 128; i++)
			if (sh->slots[i].latch != NULL)
				latches[nl++] = sh->slots[i].latch;
	}
	SpinLockRelease(&sh->mutex);
	for (int i = 0; i < nl; i++)
		SetLatch(latches[i]);
}

} // namespace

void
RegisterLauncher() {
	InstallShmemHooks();
	BackgroundWorker w{};
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = 10;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "pg_upkeep");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "upkeep_launcher_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "pg_upkeep launcher");
	snprintf(w.bgw_type, BGW_MAXLEN, "pg_upkeep launcher");
	RegisterBackgroundWorker(&w);
}

void
LauncherMain(Datum) {
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(NULL, NULL, 0);
	pgstat_report_appname("pg_upkeep launcher");

	SharedState *sh = Shared();
	if (sh == NULL)
		ereport(ERROR, (errmsg("pg_upkeep launcher: shared memory is missing")));
	g_handles = (BackgroundWorkerHandle **)MemoryContextAllocZero(TopMemoryContext,
	                                                              sizeof(BackgroundWorkerHandle *) * sh->nslots);
	g_pass_cxt = AllocSetContextCreate(TopMemoryContext, "pg_upkeep launcher pass", ALLOCSET_DEFAULT_SIZES);
	int orphans = 0;
	SpinLockAcquire(&sh->mutex);
	sh->launcher_latch = MyLatch;
	sh->launcher_pid = MyProcPid;
	/*
	 * A restarted launcher has no handles.  Workers of its predecessor that
	 * run (their pid is in the slot) are stopped by the first pass before
	 * anything else starts there; one it registered that has not connected
	 * yet sees, when it does, that its launcher is gone, and leaves.
	 */
	for (int i = 0; i < sh->nslots; i++) {
		DbSlot *slot = &sh->slots[i];
		if (slot->pid != 0)
			orphans++;
		if (slot->state == kSlotStarting || slot->state == kSlotRunning)
			slot->state = slot->pid != 0 ? kSlotRunning : kSlotStopped;
	}
	SpinLockRelease(&sh->mutex);
	on_shmem_exit(LauncherOnExit, (Datum)0);
	ereport(LOG, (errmsg("pg_upkeep launcher started (upkeep.databases = '%s')", upkeep::pg::g_databases),
	              orphans > 0 ? errdetail("Stopping %d worker(s) of the previous launcher first.", orphans) : 0));

	bool reloaded = true;
	for (;;) {
		MemoryContextSwitchTo(g_pass_cxt);
		MemoryContextReset(g_pass_cxt);
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
			reloaded = true;
			g_warned_slots = false;
		}
		long nap = Reconcile(sh, reloaded);
		reloaded = false;
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, nap, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

} // namespace upkeep::bgw
