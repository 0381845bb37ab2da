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

extern "C" {
#include "postgres.h"
}

namespace upkeep::pg {

constexpr uint32_t kTableLockClass = 0x55504B50; /* "UPKP" */

/* Transaction-scoped (released at commit/abort) or session-scoped (explicit release; survives commits). */
bool TryLockTable(Oid relid, bool session);
void UnlockTable(Oid relid);
/* Releases session-scoped table locks this backend still holds, e.g. after a cancelled CALL. Returns how many. */
int ReleaseStaleTableLocks();

} // namespace upkeep::pg
