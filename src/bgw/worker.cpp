/*
 * src/bgw/worker.cpp
 *
 * The per-database worker (see upkeep/bgw/worker.hpp).
 *
 * The loop is C-style; each cycle runs inside PG_TRY so that an error in one
 * cycle is logged and the worker goes on (autovacuum's pattern).  The C++
 * engine runs inside CppBoundary, so no C++ exception reaches this frame
 * and no longjmp crosses a C++ frame that owns anything.
 *
 * Scheduling state lives in upkeep.policy_state: a policy is due when its
 * next_due has passed.  After a run: ok -> next_due = now + run_every;
 * skipped (a lock could not be had) -> retried at the next wake-up; failed
 * -> retried with back-off (naptime, 2x, 4x, ... at most run_every).
 */
#include <string>
#include <vector>

#include "upkeep/bgw/shmem.hpp"
#include "upkeep/bgw/worker.hpp"
#include "upkeep/maint/engine.hpp"
#include "upkeep/maint/run_log.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/dbcommands.h"
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
#include "tcop/dest.h"
#include "tcop/pquery.h"
#include "tcop/tcopprot.h"
#include "tcop/utility.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"
}

namespace upkeep::bgw {

namespace {

DbSlot *g_slot = nullptr;

/* Top-level work the engine handed over, and tables to VACUUM: kept across the cycle's transactions. */
struct Followups {
	std::vector<maint::DeferredDetach> detaches;
	std::vector<std::pair<std::string, Oid>> vacuum; /* qualified name, relid */
	int64_t run_id = 0;
};

void
OnExit(int, Datum) {
	SharedState *sh = Shared();
	if (sh == nullptr || g_slot == nullptr)
		return;
	SpinLockAcquire(&sh->mutex);
	if (g_slot->state == kSlotRunning || g_slot->state == kSlotStarting)
		g_slot->state = kSlotStopped;
	g_slot->pid = 0;
	g_slot->latch = NULL;
	SpinLockRelease(&sh->mutex);
}

/* Rows after which a table deserves a VACUUM right away (autovacuum would come, later). */
constexpr int64_t kVacuumAfterRows = 10000;

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
		                   {}, true);
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
		std::string status = "ok";
		for (const auto &o : outcomes) {
			if (o.relid != relid)
				continue;
			if (o.status == "failed")
				status = "failed";
			else if (o.status == "skipped" && status == "ok")
				status = "skipped";
		}
		pg::AsExtensionOwner([&] {
			pg::SpiExec(
			    "INSERT INTO upkeep.policy_state AS s (relid, last_started, last_finished, last_status, failures, next_due) "
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
			    "    THEN pg_catalog.clock_timestamp() OPERATOR(pg_catalog.+) LEAST((SELECT p.run_every FROM upkeep.policy p "
			    "      WHERE p.relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1), pg_catalog.make_interval(secs => $4 "
			    "      OPERATOR(pg_catalog.*) pg_catalog.power(2, LEAST(s.failures, 20)))) "
			    "    ELSE EXCLUDED.next_due END",
			    {pg::SpiValue::Oid_(relid), pg::SpiValue::Text(status),
			     pg::SpiValue::TimestampTz(started),
			     pg::SpiValue::Int4(pg::g_naptime_s)},
			    false, false);
			/* changed (set_policy) while it ran: due again at once, with the new settings */
			pg::SpiExec("UPDATE upkeep.policy_state s SET next_due = NULL FROM upkeep.policy p "
			            "WHERE s.relid OPERATOR(pg_catalog.=) $1 AND p.relid::pg_catalog.oid OPERATOR(pg_catalog.=) $1 "
			            "AND (p.updated_at OPERATOR(pg_catalog.=) $2::pg_catalog.timestamptz) IS NOT TRUE",
			            {pg::SpiValue::Oid_(relid), pg::SpiValue::Text(d.version)}, false, false);
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
	if (first)
		maint::MarkInterruptedRuns(); /* runs left 'running' by a crash do not block anything */
	const std::vector<DuePolicy> due = DuePolicies();
	if (!due.empty()) {
		const int64_t started = pg::PgCall([] { return (int64_t)GetCurrentTimestamp(); });
		maint::RunOptions opt;
		opt.mode = maint::RunMode::CommitPerBatch;
		opt.premake = true;
		opt.worker = true;
		opt.notices = false;
		for (const DuePolicy &d : due)
			opt.subset.push_back(d.relid);
		opt.deferred = &follow->detaches;
		const std::vector<maint::Outcome> outcomes = maint::RunMaintenance(opt);
		RecordSchedule(due, outcomes, started);
		for (const auto &o : outcomes)
			if (o.status == "ok" && o.rows >= kVacuumAfterRows &&
			    (o.action.rfind("DELETE", 0) == 0 || o.action.rfind("ARCHIVE (", 0) == 0))
				follow->vacuum.emplace_back(o.table_name, o.relid);
		follow->run_id = maint::NewRunId();
	}
	pg::SpiFinish();
}

/* Logs one top-level statement's outcome in a transaction of its own.  C++ side. */
void
LogFollowup(int64_t run_id, Oid relid, const std::string &table, const std::string &action, const std::string &status,
            const std::string &message) {
	pg::SpiConnect();
	maint::LogOutcome(run_id, relid, table, action, status, message, "worker");
	pg::SpiFinish();
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
	 * commit and start internally (they also allocate under PortalContext,
	 * which only a portal -- or, in autovacuum, the launcher -- sets up).
	 */
	static MemoryContext portal_cxt = NULL;
	if (portal_cxt == NULL)
		portal_cxt = AllocSetContextCreate(TopMemoryContext, "pg_upkeep worker portal", ALLOCSET_DEFAULT_SIZES);
	MemoryContextReset(portal_cxt);
	MemoryContext old = MemoryContextSwitchTo(portal_cxt);
	PortalContext = portal_cxt;
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
	MemoryContextSwitchTo(old);
	PortalContext = NULL;
}

/*
 * One top-level statement in its own transaction, as `user` (InvalidOid:
 * the worker itself) in a security-restricted operation, with lock_timeout
 * bounded; errors are logged and swallowed.  C-style.  Returns whether it
 * succeeded; copies the error message into `err` otherwise.
 */
bool
RunTopLevel(const char *sql, Oid user, char *err, size_t errlen) {
	volatile bool ok = true;
	MemoryContext cxt = CurrentMemoryContext;
	Oid save_user;
	int save_sec;
	GetUserIdAndSecContext(&save_user, &save_sec);
	PG_TRY();
	{
		char buf[32];
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		snprintf(buf, sizeof(buf), "%d", pg::EffectiveLockTimeoutMs());
		(void)set_config_option("lock_timeout", buf, PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SET, true, 0, false);
		(void)set_config_option("search_path", pg::PinnedSearchPath(), PGC_SUSET, PGC_S_SESSION, GUC_ACTION_SET, true, 0,
		                        false);
		if (OidIsValid(user))
			SetUserIdAndSecContext(user, save_sec | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
		pgstat_report_activity(STATE_RUNNING, sql);
		ExecTopLevel(sql);
		SetUserIdAndSecContext(save_user, save_sec);
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(cxt);
		ErrorData *e = CopyErrorData();
		FlushErrorState();
		strlcpy(err, e->message ? e->message : "error", errlen);
		FreeErrorData(e);
		SetUserIdAndSecContext(save_user, save_sec);
		AbortOutOfAnyTransaction();
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

/* A C++ step wrapped for C: runs fn in a transaction; errors are reported to the log and swallowed. */
template <typename Fn>
bool
InTransaction(const char *what, bool with_snapshot, Fn &&fn) {
	volatile bool ok = true;
	MemoryContext cxt = CurrentMemoryContext;
	PG_TRY();
	{
		SetCurrentStatementStartTimestamp();
		StartTransactionCommand();
		/* atomic SPI wants an active snapshot; the non-atomic engine manages its own across commits */
		if (with_snapshot)
			PushActiveSnapshot(GetTransactionSnapshot());
		pg::CppBoundary(what, fn);
		if (with_snapshot)
			PopActiveSnapshot();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		HOLD_INTERRUPTS();
		MemoryContextSwitchTo(cxt);
		EmitErrorReport();
		AbortOutOfAnyTransaction();
		FlushErrorState();
		RESUME_INTERRUPTS();
		ok = false;
	}
	PG_END_TRY();
	return ok;
}

void
RunFollowups(Followups *follow) {
	char err[512];
	for (const auto &d : follow->detaches) {
		const std::string sql = "ALTER TABLE " + d.parent_sql + " DETACH PARTITION " + d.partition_sql + " CONCURRENTLY";
		std::string status = "ok", message = d.partition_sql;
		if (!RunTopLevel(sql.c_str(), d.owner, err, sizeof(err))) {
			/* refused (say, by a distributed table): a bounded plain DETACH instead */
			std::string plain = "ALTER TABLE " + d.parent_sql + " DETACH PARTITION " + d.partition_sql;
			std::string first_error = err;
			if (!RunTopLevel(plain.c_str(), d.owner, err, sizeof(err))) {
				status = std::string(err).find("lock timeout") != std::string::npos ? "skipped" : "failed";
				message = d.partition_sql + ": " + err;
			} else
				message = d.partition_sql + " (plain DETACH: " + first_error + ")";
		}
		if (status == "ok" && !d.detach_schema.empty()) {
			std::string move = "ALTER TABLE " + d.partition_sql + " SET SCHEMA " + d.detach_schema;
			if (!RunTopLevel(move.c_str(), d.owner, err, sizeof(err)))
				message += "; could not move it to schema " + d.detach_schema + ": " + err;
		}
		InTransaction("pg_upkeep worker", true, [&] {
			LogFollowup(follow->run_id, d.parent, d.parent_sql, "DETACH CONCURRENTLY", status, message);
		});
	}
	for (const auto &v : follow->vacuum) {
		const std::string sql = "VACUUM (ANALYZE) " + v.first;
		const bool ok = RunTopLevel(sql.c_str(), InvalidOid, err, sizeof(err)); /* VACUUM switches to the owner itself */
		InTransaction("pg_upkeep worker", true, [&] {
			LogFollowup(follow->run_id, v.second, v.first, "VACUUM", ok ? "ok" : "failed", ok ? "" : err);
		});
	}
}

/* Whether this database has the extension; its name into `dbname` (NAMEDATALEN).  C-style. */
bool
ExtensionInstalled(char *dbname) {
	bool installed = false;
	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	installed = OidIsValid(get_extension_oid("pg_upkeep", true));
	char *name = get_database_name(MyDatabaseId);
	strlcpy(dbname, name ? name : "?", NAMEDATALEN);
	CommitTransactionCommand();
	return installed;
}

void
RunCycle(bool first) {
	Followups follow;
	const bool ok = InTransaction("pg_upkeep worker", false, [&] { MaintainDuePolicies(first, &follow); });
	if (ok)
		RunFollowups(&follow);
	pgstat_report_activity(STATE_IDLE, NULL);
	pgstat_report_stat(false);
}

} // namespace

void
WorkerMain(Datum main_arg) {
	const int slot_index = DatumGetInt32(main_arg);
	char dbname_arg[NAMEDATALEN], role[NAMEDATALEN];
	strlcpy(dbname_arg, MyBgworkerEntry->bgw_extra, NAMEDATALEN);
	strlcpy(role, MyBgworkerEntry->bgw_extra + NAMEDATALEN, NAMEDATALEN);
	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnection(dbname_arg, role[0] ? role : NULL, 0);
	pgstat_report_appname("pg_upkeep worker");

	SharedState *sh = Shared();
	if (sh != nullptr && slot_index >= 0 && slot_index < sh->nslots) {
		SpinLockAcquire(&sh->mutex);
		g_slot = &sh->slots[slot_index];
		if (g_slot != nullptr) {
			g_slot->dboid = MyDatabaseId;
			g_slot->pid = MyProcPid;
			g_slot->latch = MyLatch;
			g_slot->state = kSlotRunning;
		}
		SpinLockRelease(&sh->mutex);
		on_shmem_exit(OnExit, (Datum)0);
	}

	bool first = true;
	for (;;) {
		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending) {
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		char dbname[NAMEDATALEN];
		if (!ExtensionInstalled(dbname)) {
			/* one clear line, then stop; the launcher waits for a reload before trying again */
			if (g_slot == nullptr || !g_slot->warned)
				ereport(LOG, (errmsg("pg_upkeep worker: database \"%s\" does not have the pg_upkeep extension; not "
				                     "maintaining it",
				                     dbname),
				              errhint("CREATE EXTENSION pg_upkeep in it, then reload the configuration.")));
			if (g_slot != nullptr) {
				SpinLockAcquire(&sh->mutex);
				g_slot->warned = true;
				g_slot->state = kSlotNoExtension;
				SpinLockRelease(&sh->mutex);
			}
			proc_exit(0);
		}
		if (g_slot != nullptr)
			g_slot->warned = false;
		RunCycle(first);
		first = false;
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, pg::g_naptime_s * 1000L,
		                PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
	}
}

} // namespace upkeep::bgw
