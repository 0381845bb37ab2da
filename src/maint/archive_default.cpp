/*
 * src/maint/archive_default.cpp
 *
 * The archive a run moves rows to: the one given (validated), or
 * <source>_archive, created on first use as the source's owner.
 */
#include <algorithm>
#include <limits>

#include "upkeep/core/naming.hpp"
#include "upkeep/maint/archive.hpp"
#include "upkeep/maint/archive_move.hpp"
#include "upkeep/maint/expired_batches.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/run_log.hpp"
#include "upkeep/maint/table_run.hpp"
#include "upkeep/maint/verify.hpp"
#include "upkeep/pg/batch_digest.hpp"
#include "upkeep/pg/citus.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/report.hpp"
#include "upkeep/pg/row_hash.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
}

namespace upkeep::maint {

/* Creates <source>_archive as the source's owner: its columns, archived_at, its primary key; partitioned alike. */
Oid
CreateDefaultArchive(const pg::RelInfo &source) {
	const std::string name = DefaultArchiveName(source);
	const std::string qualified = pg::QuoteQualified(source.nspname, name);
	const auto pk = PrimaryKeyColumns(source.oid);
	std::string sql = "CREATE TABLE " + qualified + " (LIKE " + source.qualified +
	                  ", archived_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()";
	if (!pk.empty())
		sql += ", PRIMARY KEY (" + JoinQuoted(pk) + ")";
	sql += ")";
	if (source.relkind == RELKIND_PARTITIONED_TABLE) {
		const pg::PartitionKey key = pg::GetPartitionKey(source.oid);
		sql += " PARTITION BY RANGE (" + pg::QuoteIdent(key.column) + ")";
	}
	const pg::CitusTable citus = pg::CitusTableKind(source.oid);
	Oid made = InvalidOid;
	pg::AsOwner(source.owner, [&] {
		pg::SpiExec(sql, {}, pg::SpiMode::Write);
		made = pg::RelationByName(source.nspoid, name);
		/*
		 * A Citus source's archive is distributed like it: co-located (its
		 * shards beside the source's, so rows move shard to shard and never
		 * through the coordinator; partitions move between co-located tables)
		 * or, for a reference table, a reference table.  Hash-distributed
		 * sources only: in a distributed schema (schema-based sharding) Citus
		 * has already distributed the new table when it was created.
		 */
		if (citus == pg::CitusTable::kDistributed)
			pg::SpiExec("SELECT pg_catalog.create_distributed_table($1, "
			            "pg_catalog.column_to_column_name(p.logicalrelid, p.partkey), colocate_with => $2) "
			            "FROM pg_catalog.pg_dist_partition p WHERE p.logicalrelid OPERATOR(pg_catalog.=) $3 "
			            "AND p.partmethod OPERATOR(pg_catalog.=) 'h' AND NOT EXISTS (SELECT FROM "
			            "pg_catalog.pg_dist_partition a WHERE a.logicalrelid OPERATOR(pg_catalog.=) $1)",
			            {pg::SpiValue::RegClass(made), pg::SpiValue::Text(source.qualified),
			             pg::SpiValue::RegClass(source.oid)},
			            pg::SpiMode::WriteReturning);
		else if (citus == pg::CitusTable::kReference)
			pg::SpiExec("SELECT pg_catalog.create_reference_table($1)", {pg::SpiValue::RegClass(made)},
			            pg::SpiMode::WriteReturning);
		pg::SpiExec("COMMENT ON TABLE " + qualified + " IS " +
		                pg::SpiExec("SELECT pg_catalog.quote_literal($1)",
		                            {pg::SpiValue::Text("pg_upkeep archive of " + source.qualified)},
		                            pg::SpiMode::ReadOnly)
		                    .At(0, 0),
		            {}, pg::SpiMode::Write);
	});
	pg::Notice("upkeep: created archive " + qualified + " for " + source.qualified);
	return made;
}

Oid
ResolveArchive(const pg::RelInfo &source, Oid archive, bool create, bool *created) {
	*created = false;
	if (archive != InvalidOid) {
		ValidateArchiveTarget(source, archive);
		return archive;
	}
	const std::string name = DefaultArchiveName(source);
	Oid existing = pg::RelationByName(source.nspoid, name);
	if (existing != InvalidOid) {
		ValidateArchiveTarget(source, existing);
		return existing;
	}
	if (!create)
		return InvalidOid;
	Oid made = CreateDefaultArchive(source);
	*created = true;
	return made;
}

} // namespace upkeep::maint
