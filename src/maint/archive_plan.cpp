/*
 * src/maint/archive_plan.cpp
 *
 * The plan of an archive move: which columns move (and are hashed), the
 * key the manifest ranges over, whether the archive can rewrite rows on
 * their way in; and the archive looked up again under each batch's lock.
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
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/report.hpp"
#include "upkeep/pg/row_hash.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "access/relation.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "utils/rel.h"
}

namespace upkeep::maint {

/* Primary-key column names of a table, in key order. */
std::vector<std::string>
PrimaryKeyColumns(Oid relid) {
	pg::SpiResult r = pg::SpiExec("SELECT a.attname FROM pg_catalog.pg_index i "
	                              "CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, n) "
	                              "JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
	                              "AND a.attnum OPERATOR(pg_catalog.=) k.attnum "
	                              "WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND i.indisprimary ORDER BY k.n",
	                              {pg::SpiValue::Oid_(relid)}, pg::SpiMode::ReadOnly);
	std::vector<std::string> cols;
	for (size_t i = 0; i < r.rows.size(); i++)
		cols.push_back(r.At(i, 0));
	return cols;
}

bool
HasColumn(Oid relid, const std::string &name) {
	for (const auto &c : pg::GetColumns(relid))
		if (c.name == name)
			return true;
	return false;
}

std::string
JoinQuoted(const std::vector<std::string> &names) {
	std::string out;
	for (const auto &n : names)
		out += (out.empty() ? "" : ", ") + pg::QuoteIdent(n);
	return out;
}

bool
SameColumnTypes(Oid source_oid, Oid archive_oid) {
	const auto src_cols = pg::GetColumns(source_oid);
	const auto arc_cols = pg::GetColumns(archive_oid);
	bool all = true;
	for (const auto &sc : src_cols) {
		bool same = false;
		for (const auto &ac : arc_cols)
			same = same || (ac.name == sc.name && ac.type == sc.type && ac.typmod == sc.typmod);
		all = all && same;
	}
	return all;
}

ArchivePlan
PlanArchive(const pg::RelInfo &source, Oid archive_oid) {
	ArchivePlan plan{source, pg::GetRelation(archive_oid), {}, {}};
	for (const auto &c : pg::GetColumns(source.oid))
		plan.columns.push_back(c.name);
	const auto pk = PrimaryKeyColumns(source.oid);
	if (pk.size() == 1)
		plan.key_column = pk[0];
	return plan;
}

namespace {
/*
 * BEFORE INSERT row triggers (tgtype: ROW 1, BEFORE 2, INSERT 4) on the
 * archive or its partitions, or rules, from the catalog.  Not read-only: a
 * fresh snapshot sees what this transaction did before.
 */
bool
CatalogRewrites(Oid archive_oid) {
	return pg::SpiExec(
	           "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid OPERATOR(pg_catalog.=) ANY "
	           "(SELECT $1::pg_catalog.oid UNION ALL SELECT relid FROM pg_catalog.pg_partition_tree($1)) "
	           "AND (t.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 7) OPERATOR(pg_catalog.=) 7 AND NOT "
	           "t.tgisinternal) "
	           "OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class OPERATOR(pg_catalog.=) $1)",
	           {pg::SpiValue::RegClass(archive_oid)}, pg::SpiMode::WriteReturning)
	    .BoolAt(0, 0);
}

/* The relation's BEFORE INSERT row triggers or rules, from the relcache.  C-style; the caller holds a lock. */
bool
RelcacheRewrites(Oid relid) {
	Relation rel = relation_open(relid, NoLock);
	const bool rewrites = (rel->trigdesc != NULL && rel->trigdesc->trig_insert_before_row) || rel->rd_rules != NULL;
	relation_close(rel, NoLock);
	return rewrites;
}
} // namespace

bool
ArchiveRewritesNow(const ArchivePlan &plan) {
	if (plan.archive.relkind == RELKIND_PARTITIONED_TABLE)
		return CatalogRewrites(plan.archive.oid); /* its partitions too */
	return pg::PgCall([&] { return RelcacheRewrites(plan.archive.oid); });
}

/* Before a batch that writes into it: the archive, locked by OID, as it is named now. */
void
RefreshArchive(ArchivePlan &plan) {
	pg::LockRelationById(plan.archive.oid, pg::kRowExclusiveLock);
	auto now = pg::LookupRelation(plan.archive.oid);
	if (!now) {
		const std::string msg = "archive " + plan.archive.qualified + " (OID " + std::to_string(plan.archive.oid) +
		                        ") was dropped during the run";
		pg::Throw(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, msg);
	}
	plan.archive = *now;
}

} // namespace upkeep::maint
