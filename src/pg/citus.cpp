/*
 * src/pg/citus.cpp
 *
 * See upkeep/pg/citus.hpp.  Citus's catalogs are read through SPI with every
 * name qualified (they live in pg_catalog), only after the extension is known
 * to be installed: without Citus the tables do not exist.
 */
#include "upkeep/pg/citus.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/setting.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/extension.h"
#include "storage/proc.h"
#include "storage/lock.h"
#include "utils/guc.h"
}

#include "upkeep/pg/compat.hpp"

namespace upkeep::pg {

/* Looked up once per transaction: the check runs before every statement we send. */
bool
CitusInstalled() {
	static LocalTransactionId checked_lxid = InvalidLocalTransactionId;
	static bool installed = false;
	const LocalTransactionId lxid = PgCall([] { return compat::CurrentLocalXid(); });
	if (lxid != checked_lxid || lxid == InvalidLocalTransactionId) {
		installed = PgCall([] { return OidIsValid(get_extension_oid("citus", true)); });
		checked_lxid = lxid;
	}
	return installed;
}

CitusTable
CitusTableKind(Oid relid) {
	if (!CitusInstalled())
		return CitusTable::kNone;
	SpiConnect();
	SpiResult r = SpiExec("SELECT p.partmethod::pg_catalog.text, p.repmodel::pg_catalog.text, "
	                      "p.colocationid OPERATOR(pg_catalog.<>) 0 "
	                      "FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) $1",
	                      {SpiValue::RegClass(relid)}, SpiMode::ReadOnly);
	SpiFinish();
	if (r.rows.empty())
		return CitusTable::kNone;
	const std::string &method = r.At(0, 0), &repmodel = r.At(0, 1);
	if (method != "n")
		return CitusTable::kDistributed; /* hash, range, append */
	if (repmodel == "t")
		return CitusTable::kReference;
	return r.BoolAt(0, 2) ? CitusTable::kDistributed /* single-shard (schema-based sharding) */
	                      : CitusTable::kLocal;
}

bool
OnCitusWorkerNode() {
	if (!CitusInstalled())
		return false;
	SpiConnect();
	SpiResult r = SpiExec("SELECT g.groupid OPERATOR(pg_catalog.<>) 0 FROM pg_catalog.pg_dist_local_group g", {},
	                      SpiMode::ReadOnly);
	SpiFinish();
	return !r.rows.empty() && r.BoolAt(0, 0);
}

void
BoundLockWaitsOnNodes(int lock_timeout_ms) {
	/* what was last sent, in which (sub)transaction of which local transaction */
	static LocalTransactionId sent_lxid = InvalidLocalTransactionId;
	static SubTransactionId sent_subxid = InvalidSubTransactionId;
	static int sent_ms = -1;
	if (lock_timeout_ms <= 0 || !CitusInstalled())
		return;
	const LocalTransactionId lxid = PgCall([] { return compat::CurrentLocalXid(); });
	const SubTransactionId subxid = PgCall([] { return GetCurrentSubTransactionId(); });
	if (lxid == sent_lxid && subxid == sent_subxid && lock_timeout_ms == sent_ms)
		return;
	static bool sending = false; /* the DO below is itself a statement */
	if (sending)
		return;
	sending = true;
	struct Done {
		~Done() { sending = false; }
	} done;
	const int level = OpenGucLevel();
	PgCall([] {
		SetForLevel("citus.propagate_set_commands", "local");
		/*
		 * This session's own lock_timeout saved at the level: the SET LOCAL
		 * below would otherwise outlive the level and stay the caller's for
		 * the rest of the transaction.  What Citus sent to the nodes stays.
		 */
		char now[32];
		snprintf(now, sizeof(now), "%d", LockTimeout);
		SetForLevel("lock_timeout", now);
	});
	SpiConnect();
	SpiExec("DO $upkeep_lock_budget$BEGIN SET LOCAL lock_timeout = " + std::to_string(lock_timeout_ms) +
	            "; END$upkeep_lock_budget$",
	        {}, SpiMode::Write);
	SpiFinish();
	CloseGucLevel(level);
	sent_lxid = lxid;
	sent_subxid = subxid;
	sent_ms = lock_timeout_ms;
}

} // namespace upkeep::pg
