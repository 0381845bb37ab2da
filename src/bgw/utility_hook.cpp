/*
 * src/bgw/utility_hook.cpp
 *
 * See upkeep/bgw/utility_hook.hpp.  C-style frames throughout (a
 * ProcessUtility hook is entered from, and returns to, PostgreSQL).
 */
extern "C" {
#include "postgres.h"
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/latch.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/timestamp.h"
}

#include <signal.h>

#include "upkeep/bgw/shmem.hpp"
#include "upkeep/bgw/utility_hook.hpp"
#include "upkeep/pg/compat.hpp"

namespace upkeep::bgw {

namespace {

ProcessUtility_hook_type g_prev_utility = nullptr;

/* How long a database may keep its worker away while a command on it runs (it is released when that ends). */
constexpr long kHoldMs = 60 * 1000L;
/* How long a command waits for the worker to leave: first on its own (at its next wake-up), then after SIGTERM. */
constexpr long kAskMs = 1000L;
constexpr long kTerminateMs = 10 * 1000L;

/* Slots this backend holds, released at the end of its transaction. */
int g_held[8];
int g_nheld = 0;
bool g_callback_registered = false;

void
ReleaseHolds(XactEvent event, void *) {
	if (event != XACT_EVENT_COMMIT && event != XACT_EVENT_ABORT)
		return;
	SharedState *sh = Shared();
	if (g_nheld == 0 || sh == nullptr)
		return;
	const TimestampTz now = GetCurrentTimestamp();
	SpinLockAcquire(&sh->mutex);
	for (int k = 0; k < g_nheld; k++) {
		DbSlot *slot = &sh->slots[g_held[k]];
		slot->hold_until = 0;
		if (slot->state == kSlotStopped)
			slot->next_start = now; /* the launcher decides at once: a dropped database gets no worker */
	}
	SpinLockRelease(&sh->mutex);
	g_nheld = 0;
	PokeLauncher();
}

/* Whether the worker (pid) has left slot i.  */
bool
Gone(SharedState *sh, int i, pid_t pid) {
	bool gone;
	SpinLockAcquire(&sh->mutex);
	gone = sh->slots[i].pid != pid;
	SpinLockRelease(&sh->mutex);
	return gone;
}

bool
WaitGone(SharedState *sh, int i, pid_t pid, long ms) {
	for (long waited = 0; waited < ms; waited += 10) {
		if (Gone(sh, i, pid))
			return true;
		CHECK_FOR_INTERRUPTS();
		pg_usleep(10 * 1000L);
	}
	return Gone(sh, i, pid);
}

/*
 * `command` on database `dbname` needs every other session out of it: ask
 * its worker to leave, keep the launcher from starting another until the
 * command's transaction ends, and wait (bounded) until it has gone.  Only
 * for a caller who may run the command on it (its owner, a superuser): a
 * command that will be refused leaves the worker alone.
 */
void
AskToLeave(const char *dbname, const char *command) {
	SharedState *sh = Shared();
	if (sh == nullptr || dbname == nullptr)
		return;
	const Oid dboid = get_database_oid(dbname, true);
	if (!OidIsValid(dboid) || !pg::compat::DatabaseOwnerCheck(dboid, GetUserId()))
		return;
	const TimestampTz now = GetCurrentTimestamp();
	int slot_index = -1;
	pid_t pid = 0;
	Latch *latch = NULL;
	SpinLockAcquire(&sh->mutex);
	for (int i = 0; i < sh->nslots; i++) {
		DbSlot *slot = &sh->slots[i];
		if (slot->state == kSlotFree || (strcmp(NameStr(slot->dbname), dbname) != 0 && slot->dboid != dboid))
			continue;
		if (slot_index >= 0)
			continue; /* one slot per database */
		slot_index = i;
		slot->leave = true;
		strlcpy(slot->leave_for, command, sizeof(slot->leave_for));
		slot->hold_until = TimestampTzPlusMilliseconds(now, kHoldMs);
		pid = slot->pid;
		latch = slot->latch;
	}
	SpinLockRelease(&sh->mutex);
	if (slot_index < 0)
		return;
	if (!g_callback_registered) {
		RegisterXactCallback(ReleaseHolds, nullptr);
		g_callback_registered = true;
	}
	if (g_nheld < (int)lengthof(g_held))
		g_held[g_nheld++] = slot_index;
	if (pid == 0)
		return; /* none connected; one starting sees the flag and does not stay */
	ereport(LOG, (errmsg("pg_upkeep: %s \"%s\": asking its worker (pid %d) to leave the database", command, dbname,
	                     (int)pid)));
	if (latch != NULL)
		SetLatch(latch);
	if (WaitGone(sh, slot_index, pid, kAskMs))
		return;
	/* busy in a cycle: its current batch rolls back */
	(void)kill(pid, SIGTERM);
	if (!WaitGone(sh, slot_index, pid, kTerminateMs))
		ereport(LOG, (errmsg("pg_upkeep: %s \"%s\": its worker (pid %d) has not left yet", command, dbname, (int)pid)));
}

/* The database a CREATE DATABASE copies (TEMPLATE), or NULL. */
const char *
TemplateOf(CreatedbStmt *stmt) {
	ListCell *lc;
	foreach (lc, stmt->options) {
		DefElem *d = (DefElem *)lfirst(lc);
		if (strcmp(d->defname, "template") == 0 && d->arg != NULL)
			return defGetString(d);
	}
	return NULL;
}

bool
MovesTablespace(AlterDatabaseStmt *stmt) {
	ListCell *lc;
	foreach (lc, stmt->options) {
		DefElem *d = (DefElem *)lfirst(lc);
		if (strcmp(d->defname, "tablespace") == 0)
			return true;
	}
	return false;
}

bool
NamesUs(List *objects) {
	ListCell *lc;
	foreach (lc, objects) {
		Node *n = (Node *)lfirst(lc);
		if (IsA(n, String) && strcmp(strVal(n), "pg_upkeep") == 0)
			return true;
	}
	return false;
}

/* What the statement means for the workers, before it runs. */
void
Observe(Node *parsetree) {
	switch (nodeTag(parsetree)) {
	case T_DropdbStmt:
		AskToLeave(((DropdbStmt *)parsetree)->dbname, "DROP DATABASE");
		break;
	case T_RenameStmt: {
		RenameStmt *stmt = (RenameStmt *)parsetree;
		if (stmt->renameType == OBJECT_DATABASE) {
			AskToLeave(stmt->subname, "ALTER DATABASE ... RENAME");
			PokeLauncherAtCommit(); /* the new name may be listed */
		} else if (stmt->renameType == OBJECT_ROLE)
			PokeLauncherAtCommit();
		break;
	}
	case T_AlterDatabaseStmt: {
		AlterDatabaseStmt *stmt = (AlterDatabaseStmt *)parsetree;
		if (MovesTablespace(stmt))
			AskToLeave(stmt->dbname, "ALTER DATABASE ... SET TABLESPACE");
		PokeLauncherAtCommit(); /* ALLOW_CONNECTIONS may have changed */
		break;
	}
	case T_CreatedbStmt:
		AskToLeave(TemplateOf((CreatedbStmt *)parsetree), "CREATE DATABASE ... TEMPLATE");
		PokeLauncherAtCommit(); /* the new database may be listed */
		break;
	case T_CreateRoleStmt:
	case T_AlterRoleStmt:
		PokeLauncherAtCommit(); /* upkeep.role may exist, or may log in, now */
		break;
	case T_CreateExtensionStmt:
		if (strcmp(((CreateExtensionStmt *)parsetree)->extname, "pg_upkeep") == 0)
			WakeWorkerAtCommit(); /* a worker waiting in this database starts maintaining it */
		break;
	case T_DropStmt:
		if (((DropStmt *)parsetree)->removeType == OBJECT_EXTENSION && NamesUs(((DropStmt *)parsetree)->objects))
			WakeWorkerAtCommit(); /* it stops at once, instead of at its next wake-up */
		break;
	default:
		break;
	}
}

void
UpkeepProcessUtility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree, ProcessUtilityContext context,
                     ParamListInfo params, QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc) {
	if (Shared() != nullptr && pstmt->utilityStmt != NULL)
		Observe(pstmt->utilityStmt);
	if (g_prev_utility != nullptr)
		g_prev_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

} // namespace

void
InstallUtilityHook() {
	g_prev_utility = ProcessUtility_hook;
	ProcessUtility_hook = UpkeepProcessUtility;
}

} // namespace upkeep::bgw
