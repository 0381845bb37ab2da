/*
 * src/pg/table_lock.cpp
 *
 * See upkeep/pg/table_lock.hpp.
 */
#include <algorithm>
#include <vector>

#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/table_lock.hpp"

extern "C" {
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
#include "storage/lmgr.h"
#include "storage/lock.h"
#include "utils/timestamp.h"
}

#include "upkeep/pg/compat.hpp"

namespace upkeep::pg {

namespace {

/* The table locks this backend holds at session level, once per acquisition (they are re-entrant). */
std::vector<Oid> &
SessionLocks() {
	static std::vector<Oid> held;
	return held;
}

void
SetTag(LOCKTAG *tag, Oid relid) {
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, kTableLockClass, (uint32)relid, 2);
}

} // namespace

bool
TryLockTable(Oid relid, bool session) {
	const bool got = PgCall([&] {
		LOCKTAG tag;
		SetTag(&tag, relid);
		return LockAcquire(&tag, ExclusiveLock, session, true) != LOCKACQUIRE_NOT_AVAIL;
	});
	if (got && session)
		SessionLocks().push_back(relid);
	return got;
}

void
UnlockTable(Oid relid) {
	PgCall([&] {
		LOCKTAG tag;
		SetTag(&tag, relid);
		(void)LockRelease(&tag, ExclusiveLock, true);
	});
	std::vector<Oid> &held = SessionLocks();
	auto it = std::find(held.begin(), held.end(), relid);
	if (it != held.end())
		held.erase(it);
}

void
TableRunLock::Release() {
	if (!held_ || !session_)
		return;
	held_ = false; /* released or not, the destructor does not try again: a failure is the caller's error now */
	UnlockTable(relid_);
}

TableRunLock::~TableRunLock() {
	if (!held_ || !session_)
		return;
	try {
		UnlockTable(relid_);
	} catch (...) {
		/* never out of a destructor; the lock stays listed for ReleaseStaleTableLocks */
	}
}

void
LockRelationById(Oid relid, int mode) {
	PgCall([&] { LockRelationOid(relid, (LOCKMODE)mode); });
}

namespace {

/* One attempt: all or none, without waiting.  C-style. */
bool
TryLockAll(const RelLock *locks, int n) {
	for (int i = 0; i < n; i++) {
		if (ConditionalLockRelationOid(locks[i].relid, (LOCKMODE)locks[i].mode))
			continue;
		for (int j = i - 1; j >= 0; j--)
			UnlockRelationOid(locks[j].relid, (LOCKMODE)locks[j].mode);
		return false;
	}
	return true;
}

} // namespace

void
LockAllOrNone(const std::vector<RelLock> &locks, int budget_ms) {
	const bool got = PgCall([&] {
		const TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), budget_ms > 0 ? budget_ms : 0);
		long pause = 5;
		for (;;) {
			if (TryLockAll(locks.data(), (int)locks.size()))
				return true;
			const long left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end);
			if (left <= 0)
				return false;
			(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, pause < left ? pause : left,
			                PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
			pause = pause * 2 > 100 ? 100 : pause * 2;
		}
	});
	if (!got)
		Throw(ERRCODE_LOCK_NOT_AVAILABLE, "could not obtain the locks within upkeep.lock_timeout",
		      "pg_upkeep takes the locks of a partition change all at once or not at all, never waiting while it "
		      "holds one; the table is retried on the next run.");
}

int
ReleaseStaleTableLocks() {
	/*
	 * Only the session locks this backend's runs took (a cancelled CALL
	 * leaves them: they outlive its transaction); an advisory lock a user
	 * took on the same key by hand is not ours to drop.
	 */
	std::vector<Oid> &held = SessionLocks();
	int released = 0;
	while (!held.empty()) {
		const Oid relid = held.back();
		held.pop_back();
		released += PgCall([&] {
			LOCKTAG tag;
			SetTag(&tag, relid);
			return compat::HoldsLock(&tag, ExclusiveLock) && LockRelease(&tag, ExclusiveLock, true) ? 1 : 0;
		});
	}
	return released;
}

} // namespace upkeep::pg
