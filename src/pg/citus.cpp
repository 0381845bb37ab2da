/*
 * src/pg/citus.cpp
 *
 * See upkeep/pg/citus.hpp.  Citus's catalogs are read through SPI with every
 * name qualified (they live in pg_catalog), only after the extension is known
 * to be installed: without Citus the tables do not exist.
 */
#include "upkeep/pg/citus.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "commands/extension.h"
}

namespace upkeep::pg {

namespace {

bool
CitusInstalled() {
	return PgCall([] { return OidIsValid(get_extension_oid("citus", true)); });
}

} // namespace

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

} // namespace upkeep::pg
