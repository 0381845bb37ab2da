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

/* How Citus keeps `relid`.  Opens its own SPI connection (nested ones are fine). */
CitusTable CitusTableKind(Oid relid);

/* True when rows of `relid` live in shards on other nodes, not in this node's relation. */
inline bool
RowsOnShards(CitusTable kind) {
	return kind == CitusTable::kDistributed || kind == CitusTable::kReference;
}

/* True on a Citus worker node: Citus installed and this node's group is not the coordinator's (0). */
bool OnCitusWorkerNode();

} // namespace upkeep::pg
