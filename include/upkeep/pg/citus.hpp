/*
 * upkeep/pg/citus.hpp
 *
 * What Citus makes of a table and of this node, read from Citus's own
 * catalogs when the citus extension is installed in this database.  Nothing
 * here links against Citus: without it every table is kNone and this node
 * is no worker node.
 */
#pragma once

extern "C" {
#include "postgres.h"
}

namespace upkeep::pg {

enum class CitusTable {
	kNone,        /* not a Citus table, or no Citus: its rows are here */
	kLocal,       /* a Citus local table: in Citus's metadata, rows here on the coordinator */
	kDistributed, /* rows in shards on the nodes (hash, range, append, single-shard) */
	kReference    /* a copy on every node */
};

/* True when the citus extension is installed in this database (looked up once per transaction). */
bool CitusInstalled();

/* How Citus keeps `relid`.  Opens its own SPI connection (nested ones are fine). */
CitusTable CitusTableKind(Oid relid);

/* True when rows of `relid` live in shards on other nodes, not in this node's relation. */
inline bool
RowsOnShards(CitusTable kind) {
	return kind == CitusTable::kDistributed || kind == CitusTable::kReference;
}

/* True on a Citus worker node: Citus installed and this node's group is not the coordinator's (0). */
bool OnCitusWorkerNode();

/*
 * Bounds lock waits on Citus's worker nodes by `lock_timeout_ms` for the rest
 * of the current (sub)transaction: Citus runs a distributed table's DDL and
 * DML over its own connections, where this session's lock_timeout does not
 * apply (a shard locked on a worker node held a 2-second budget for as long
 * as the lock lasted).  Citus sends a SET LOCAL to every node of the
 * transaction, now and on connections it opens later, when
 * citus.propagate_set_commands is 'local' and the SET runs inside a block.
 * Citus forgets a SET LOCAL for new connections when the subtransaction it
 * was sent in ends, so it is sent before every statement pg_upkeep runs
 * (pg/spi.cpp), once per (sub)transaction and value; nothing without Citus or
 * with no budget (0).  The nodes keep it until their transaction ends.
 * Citus sends it with the transaction blocks it opens: always for writes,
 * for reads only inside a transaction block or subtransaction -- work done
 * in the caller's own transaction runs in a subtransaction on Citus
 * (TableRun::Direct) so that its reads are bounded too.
 */
void BoundLockWaitsOnNodes(int lock_timeout_ms);

} // namespace upkeep::pg
