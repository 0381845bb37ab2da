/*
 * src/pg/table_lock.cpp
 *
 * See upkeep/pg/table_lock.hpp.
 */
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/spi.hpp"
#include "upkeep/pg/table_lock.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/lock.h"
}

namespace upkeep::pg {

namespace {

void
SetTag(LOCKTAG *tag, Oid relid) {
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, kTableLockClass, (uint32)relid, 2);
}

} // namespace

bool
TryLockTable(Oid relid, bool session) {
	return PgCall([&] {
		LOCKTAG tag;
		SetTag(&tag, relid);
		return LockAcquire(&tag, ExclusiveLock, session, true) != LOCKACQUIRE_NOT_AVAIL;
	});
}

void
UnlockTable(Oid relid) {
	PgCall([&] {
		LOCKTAG tag;
		SetTag(&tag, relid);
		(void)LockRelease(&tag, ExclusiveLock, true);
	});
}

int
ReleaseStaleTableLocks() {
	SpiResult held = SpiExec("SELECT objid FROM pg_catalog.pg_locks WHERE locktype OPERATOR(pg_catalog.=) 'advisory' "
	                         "AND pid OPERATOR(pg_catalog.=) pg_catalog.pg_backend_pid() "
	                         "AND classid OPERATOR(pg_catalog.=) $1::pg_catalog.oid AND objsubid OPERATOR(pg_catalog.=) 2 "
	                         "AND granted",
	                         {SpiValue::Int8(kTableLockClass)}, true);
	int released = 0;
	for (size_t r = 0; r < held.rows.size(); r++) {
		Oid relid = held.OidAt(r, 0);
		released += PgCall([&] {
			LOCKTAG tag;
			int n = 0;
			SetTag(&tag, relid);
			/* a session lock may have been taken more than once (re-entrant) */
			while (n < 1000 && LockHeldByMe(&tag, ExclusiveLock) && LockRelease(&tag, ExclusiveLock, true))
				n++;
			return n;
		});
	}
	return released;
}

} // namespace upkeep::pg
