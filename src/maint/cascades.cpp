/*
 * src/maint/cascades.cpp
 *
 * What a retention DELETE changes beyond its own table: foreign keys with
 * ON DELETE CASCADE, SET NULL or SET DEFAULT that reference it make
 * PostgreSQL delete or update rows of other tables in the same statement
 * (pg_upkeep never bypasses foreign keys).  A dry run names those tables.
 */
#include <string>

#include "upkeep/maint/expired_batches.hpp"
#include "upkeep/pg/catalog.hpp"
#include "upkeep/pg/spi.hpp"

namespace upkeep::maint {

std::string
CascadeNote(Oid relid) {
	/*
	 * The foreign keys whose ON DELETE action fires when rows of `relid` go,
	 * and, through CASCADE, those of the tables whose rows go with them.  A
	 * key referencing a partitioned table has a clone referencing each of its
	 * partitions (and a partitioned referencing table one per partition), so
	 * following confrelid = conrelid reaches every level; UNION ends cycles.
	 * Tables are shown as their partition root.
	 */
	pg::SpiResult r = pg::SpiExec(
	    "WITH RECURSIVE fk(referencing, action) AS ("
	    " SELECT k.conrelid, k.confdeltype FROM pg_catalog.pg_constraint k"
	    " WHERE k.contype OPERATOR(pg_catalog.=) 'f' AND k.confrelid OPERATOR(pg_catalog.=) $1"
	    " AND k.confdeltype OPERATOR(pg_catalog.=) ANY ('{c,n,d}'::pg_catalog.\"char\"[])"
	    " UNION"
	    " SELECT k.conrelid, k.confdeltype FROM fk, pg_catalog.pg_constraint k"
	    " WHERE fk.action OPERATOR(pg_catalog.=) 'c' AND k.contype OPERATOR(pg_catalog.=) 'f'"
	    " AND k.confrelid OPERATOR(pg_catalog.=) fk.referencing"
	    " AND k.confdeltype OPERATOR(pg_catalog.=) ANY ('{c,n,d}'::pg_catalog.\"char\"[]))"
	    " SELECT DISTINCT COALESCE(pg_catalog.pg_partition_root(fk.referencing)::pg_catalog.oid, fk.referencing),"
	    " fk.action::pg_catalog.text FROM fk ORDER BY 1, 2",
	    {pg::SpiValue::Oid_(relid)}, pg::SpiMode::ReadOnly);
	std::string list;
	for (size_t i = 0; i < r.rows.size(); i++) {
		auto rel = pg::LookupRelation(r.OidAt(i, 0));
		if (!rel)
			continue;
		const std::string &a = r.At(i, 1);
		list += (list.empty() ? "" : ", ") + rel->qualified + " (" +
		        (a == "c"   ? "CASCADE"
		         : a == "n" ? "SET NULL"
		                    : "SET DEFAULT") +
		        ")";
	}
	return list.empty() ? std::string() : "; ON DELETE also changes " + list;
}

} // namespace upkeep::maint
