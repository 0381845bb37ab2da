/*
 * src/bgw/launcher.cpp
 *
 * The launcher: one static background worker, registered when the library
 * is preloaded, started once recovery has finished (so a hot standby runs
 * nothing, and a promoted one starts maintaining without a restart).  It
 * connects to no database (shared catalogs only) and keeps one dynamic
 * worker running per database in upkeep.databases:
 *   - a worker that exits is started again, soon if it had run a while, with
 *     growing back-off (1 s .. 5 min) if it keeps exiting right after start;
 *   - a database without the extension is not retried until a reload;
 *   - on SIGHUP it starts workers for added databases and stops those of
 *     removed ones (and restarts all when upkeep.role changed).
 * Written as C-style frames: PostgreSQL errors may longjmp through here.
 */
extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "catalog/pg_authid.h"
#include "commands/dbcommands.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "utils/varlena.h"
}

#include "upkeep/bgw/launcher.hpp"
#include "upkeep/bgw/shmem.hpp"
#include "upkeep/bgw/worker.hpp"
#include "upkeep/pg/guc.hpp"

namespace upkeep::bgw {

namespace {

/* Launcher-local: the handle of each slot's worker (handles are process-local). */
BackgroundWorkerHandle **g_handles = nullptr;
NameData g_role;
bool g_warned_slots = false;

constexpr long kQuickExitMs = 30 * 1000;

long
BackoffMs(int quick_exits) {
	long ms = 1000;
	for (int i = 0; i < quick_exits && ms < 300 * 1000; i++)
		ms *= 2;
	return ms > 300 * 1000 ? 300 * 1000 : ms;
}

/*
 * The databases in upkeep.databases (names, de-duplicated).  The launcher
 * reads no catalog: it is connected to no database, and a listed database
 * that does not exist is reported by its worker's failed connection.
 */
int
WantedDatabases(NameData *out, int max) {
	char *raw = pstrdup(upkeep::pg::g_databases ? upkeep::pg::g_databases : "");
	List *names = NIL;
	int n = 0;
	if (!SplitGUCList(raw, ',', &names)) {
		ereport(LOG, (errmsg("pg_upkeep launcher: upkeep.databases is not a valid list: \"%s\"", upkeep::pg::g_databases)));
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
	list_free(names);
	pfree(raw);
	return n;
}

/* bgw_extra carries the database name and the role name (empty: the bootstrap superuser). */
bool
StartWorker(SharedState *sh, int i, const NameData *dbname, const char *role) {
	BackgroundWorker w{};
	w.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	w.bgw_start_time = BgWorkerStart_RecoveryFinished;
	w.bgw_restart_time = BGW_NEVER_RESTART;
	snprintf(w.bgw_library_name, BGW_MAXLEN, "pg_upkeep");
	snprintf(w.bgw_function_name, BGW_MAXLEN, "upkeep_worker_main");
	snprintf(w.bgw_name, BGW_MAXLEN, "pg_upkeep worker for %s", NameStr(*dbname));
	snprintf(w.bgw_type, BGW_MAXLEN, "pg_upkeep worker");
	w.bgw_main_arg = Int32GetDatum(i);
	static_assert(2 * NAMEDATALEN <= BGW_EXTRALEN, "bgw_extra holds two names");
	strlcpy(w.bgw_extra, NameStr(*dbname), NAMEDATALEN);
	strlcpy(w.bgw_extra + NAMEDATALEN, role ? role : "", NAMEDATALEN);
	w.bgw_notify_pid = MyProcPid;
	BackgroundWorkerHandle *handle = NULL;
	if (!RegisterDynamicBackgroundWorker(&w, &handle)) {
		ereport(WARNING, (errmsg("pg_upkeep launcher: could not start a worker for database \"%s\"", NameStr(*dbname)),
		                  errhint("You might need to increase max_worker_processes.")));
		return false;
	}
	g_handles[i] = handle;
	SpinLockAcquire(&sh->mutex);
	sh->slots[i].state = kSlotStarting;
	sh->slots[i].started_at = GetCurrentTimestamp();
	SpinLockRelease(&sh->mutex);
	return true;
}

/*
 * One pass: stop workers of databases no longer listed, notice exits, start
 * what is missing.  Returns the milliseconds until the next scheduled start
 * (or a long nap).
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

	for (int i = 0; i < sh->nslots; i++) {
		DbSlot *slot = &sh->slots[i];
		if (slot->state == kSlotFree && g_handles[i] == NULL)
			continue;
		if (reloaded && slot->state == kSlotNoExtension && g_handles[i] == NULL) {
			/* a reload is the signal that the extension may exist now: try again at once */
			SpinLockAcquire(&sh->mutex);
			slot->state = kSlotStopped;
			slot->next_start = now;
			slot->quick_exits = 0;
			SpinLockRelease(&sh->mutex);
		}
		bool listed = false;
		for (int k = 0; k < n; k++)
			listed = listed || strcmp(NameStr(wanted[k]), NameStr(slot->dbname)) == 0;
		/* has it exited? */
		if (g_handles[i] != NULL) {
			pid_t pid;
			if (GetBackgroundWorkerPid(g_handles[i], &pid) == BGWH_STOPPED) {
				pfree(g_handles[i]);
				g_handles[i] = NULL;
				SpinLockAcquire(&sh->mutex);
				const long ran = TimestampDifferenceMilliseconds(slot->started_at, now);
				slot->quick_exits = ran < kQuickExitMs ? slot->quick_exits + 1 : 0;
				slot->next_start = TimestampTzPlusMilliseconds(now, BackoffMs(slot->quick_exits > 0 ? slot->quick_exits - 1 : 0));
				slot->stopped_at = now;
				if (slot->state != kSlotNoExtension)
					slot->state = kSlotStopped;
				slot->pid = 0;
				slot->latch = NULL;
				SpinLockRelease(&sh->mutex);
				if (listed && slot->state == kSlotStopped)
					ereport(LOG, (errmsg("pg_upkeep launcher: worker for database \"%s\" exited; starting it again in "
					                     "%ld ms",
					                     NameStr(slot->dbname),
					                     BackoffMs(slot->quick_exits > 0 ? slot->quick_exits - 1 : 0))));
			} else if (!listed || role_changed) {
				TerminateBackgroundWorker(g_handles[i]);
				ereport(LOG, (errmsg("pg_upkeep launcher: stopping the worker for database \"%s\" (%s)",
				                     NameStr(slot->dbname),
				                     listed ? "upkeep.role changed" : "no longer in upkeep.databases")));
				nap = 1000L; /* come back to notice its exit */
				continue;
			}
		}
		if (!listed && g_handles[i] == NULL) {
			SpinLockAcquire(&sh->mutex);
			memset(slot, 0, sizeof(*slot));
			SpinLockRelease(&sh->mutex);
		}
	}
	for (int k = 0; k < n; k++) {
		int i, free_slot = -1;
		for (i = 0; i < sh->nslots; i++) {
			if (sh->slots[i].state != kSlotFree && strcmp(NameStr(sh->slots[i].dbname), NameStr(wanted[k])) == 0)
				break;
			if (free_slot < 0 && sh->slots[i].state == kSlotFree && g_handles[i] == NULL)
				free_slot = i;
		}
		if (i == sh->nslots) {
			if (free_slot < 0)
				continue;
			i = free_slot;
			SpinLockAcquire(&sh->mutex);
			memset(&sh->slots[i], 0, sizeof(DbSlot));
			sh->slots[i].dbname = wanted[k];
			sh->slots[i].state = kSlotStopped;
			sh->slots[i].next_start = now;
			SpinLockRelease(&sh->mutex);
		}
		DbSlot *slot = &sh->slots[i];
		if (g_handles[i] != NULL)
			continue;
		if (slot->state == kSlotNoExtension && !reloaded)
			continue;
		if (slot->next_start > now) {
			long wait = TimestampDifferenceMilliseconds(now, slot->next_start);
			if (wait < nap)
				nap = wait;
			continue;
		}
		if (!StartWorker(sh, i, &wanted[k], role) && nap > 10000L)
			nap = 10000L;
	}
	return nap < 100 ? 100 : nap;
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
	SpinLockAcquire(&sh->mutex);
	sh->launcher_latch = MyLatch;
	sh->launcher_pid = MyProcPid;
	/* a restarted launcher has no handles: the workers of its predecessor are gone or orphaned */
	for (int i = 0; i < sh->nslots; i++)
		if (sh->slots[i].state == kSlotStarting || sh->slots[i].state == kSlotRunning)
			sh->slots[i].state = kSlotStopped;
	SpinLockRelease(&sh->mutex);
	ereport(LOG, (errmsg("pg_upkeep launcher started (upkeep.databases = '%s')", upkeep::pg::g_databases)));

	bool reloaded = true;
	for (;;) {
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
