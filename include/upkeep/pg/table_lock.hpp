/*
 * upkeep/pg/table_lock.hpp
 *
 * One maintenance run per table at a time, whoever starts it (a manual call,
 * pg_cron, the worker): an advisory lock keyed (0x55504B50 "UPKP", table
 * OID), visible in pg_locks as locktype 'advisory' with that classid.  Never
 * waited for: the loser reports the table as skipped.
 */
#pragma once

#include <cstdint>
#include <vector>

extern "C" {
#include "postgres.h"
}

namespace upkeep::pg {

constexpr uint32_t kTableLockClass = 0x55504B50; /* "UPKP" */

/* Lock modes for the relation locks below (storage/lockdefs.h values). */
constexpr int kAccessShareLock = 1;
constexpr int kRowExclusiveLock = 3;
constexpr int kShareUpdateExclusiveLock = 4;
constexpr int kShareLock = 5;
constexpr int kAccessExclusiveLock = 8;

/*
 * Locks a relation by OID (waiting up to the lock_timeout in force), as the
 * statement that follows would: a name resolved after this lock cannot move
 * to another relation before the statement runs.  A relation dropped
 * meanwhile is not an error here: look it up afterwards.
 */
void LockRelationById(Oid relid, int mode);

/*
 * Takes every lock in `locks` (relation OID, mode) or none: each is tried
 * without waiting; if one is not free, the ones taken in this attempt are
 * released and the whole set is tried again after a short pause, until
 * `budget_ms` is spent (then 55P03).  Holding nothing while it waits, it can
 * never be part of a deadlock with sessions that lock parent-then-partition
 * or partition-then-parent, and it never queues an exclusive request in
 * front of the application's readers.
 */
struct RelLock {
	Oid relid;
	int mode;
};
void LockAllOrNone(const std::vector<RelLock> &locks, int budget_ms);

/* Transaction-scoped (released at commit/abort) or session-scoped (explicit release; survives commits). */
bool TryLockTable(Oid relid, bool session);
void UnlockTable(Oid relid);
/* Releases session-scoped table locks this backend still holds, e.g. after a cancelled CALL. Returns how many. */
int ReleaseStaleTableLocks();

/*
 * A table's run lock for the span of one table's work: TryLockTable when
 * made; Held() says whether it was had.  A session-scoped lock is released
 * by Release() on the normal path (a failure to release is an error, as
 * any) and by the destructor when the scope is left by an exception.  A
 * transaction-scoped lock is never released here: its transaction's end,
 * commit or abort, releases it.
 *
 * Why the destructor calls PostgreSQL even while an exception unwinds (the
 * rule is that destructors do not): a session-scoped advisory lock is not
 * released by the abort of the (sub)transaction an error broke, only by an
 * explicit release or the end of the session.  Left held, every other run
 * on the table (the worker's, pg_cron's) would be skipped until this
 * session's next per-batch run (ReleaseStaleTableLocks) or its end.  The
 * release is safe to make there: LockRelease needs no transaction, reads
 * no catalog and never waits or checks for interrupts; it runs under
 * PgCall, so a PostgreSQL error cannot longjmp out of the destructor; and
 * the error it might throw is swallowed (an exception leaving a destructor
 * during unwinding is std::terminate), which leaves the lock in the list
 * ReleaseStaleTableLocks clears.  This is what the hand-written
 * catch-release-rethrow did before, in one place.
 */
class TableRunLock {
  public:
	TableRunLock(Oid relid, bool session) : relid_(relid), session_(session), held_(TryLockTable(relid, session)) {}
	~TableRunLock();
	TableRunLock(const TableRunLock &) = delete;
	TableRunLock &operator=(const TableRunLock &) = delete;

	bool
	Held() const {
		return held_;
	}
	/* The normal end of the table's work: a session-scoped lock is released now (errors propagate). */
	void Release();

  private:
	Oid relid_;
	bool session_;
	bool held_;
};

} // namespace upkeep::pg
