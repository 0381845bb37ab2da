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
#include "storage/lock.h"
}

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
			return LockHeldByMe(&tag, ExclusiveLock) && LockRelease(&tag, ExclusiveLock, true) ? 1 : 0;
		});
	}
	return released;
}

} // namespace upkeep::pg
