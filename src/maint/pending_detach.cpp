/*
 * src/maint/pending_detach.cpp
 *
 * See upkeep/maint/pending_detach.hpp.
 */
#include "upkeep/maint/pending_detach.hpp"
#include "upkeep/maint/table_run.hpp"
#include "upkeep/pg/catalog.hpp"
#include "upkeep/pg/spi.hpp"
#include "upkeep/pg/table_lock.hpp"

namespace upkeep::maint {

std::vector<PendingDetach>
PendingDetaches(Oid parent) {
	const pg::SpiResult r =
	    pg::SpiExec("SELECT i.inhrelid, n.nspname, c.relname FROM pg_catalog.pg_inherits i "
	                "JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) i.inhrelid "
	                "JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace "
	                "WHERE i.inhparent OPERATOR(pg_catalog.=) $1 AND i.inhdetachpending ORDER BY c.relname",
	                {pg::SpiValue::Oid_(parent)}, pg::SpiMode::ReadOnly);
	std::vector<PendingDetach> out;
	for (size_t i = 0; i < r.rows.size(); i++)
		out.push_back(PendingDetach{r.OidAt(i, 0), pg::QuoteQualified(r.At(i, 1), r.At(i, 2))});
	return out;
}

std::string
FinalizePendingDetaches(TableRun &run) {
	const std::vector<PendingDetach> pending = PendingDetaches(run.Rel().oid);
	if (pending.empty())
		return {};
	const Policy &p = run.GetPolicy();
	const bool move = p.action == core::Action::Detach && !p.detach_schema.empty();
	std::string names;
	for (const auto &d : pending) {
		run.Batch(
		    [&]() -> int64_t {
			    const std::optional<double> estimate = pg::RelTuples(d.oid);
			    const int64_t rows = estimate && *estimate >= 0 ? static_cast<int64_t>(*estimate) : 0;
			    if (run.DryRun())
				    return rows;
			    /* parent and partition by OID, under the locks FINALIZE takes, by the names they have now */
			    const Oid parent = run.Rel().oid;
			    pg::LockRelationById(parent, pg::kShareUpdateExclusiveLock);
			    pg::LockRelationById(d.oid, pg::kShareUpdateExclusiveLock);
			    const auto parent_now = pg::LookupRelation(parent);
			    const auto part = pg::LookupRelation(d.oid);
			    if (!parent_now || !part)
				    return 0;
			    pg::SpiExec("ALTER TABLE " + parent_now->qualified + " DETACH PARTITION " + part->qualified +
			                    " FINALIZE",
			                {}, pg::SpiMode::Write);
			    if (move)
				    pg::SpiExec("ALTER TABLE " + pg::GetRelation(d.oid).qualified + " SET SCHEMA " +
				                    pg::QuoteIdent(p.detach_schema),
				                {}, pg::SpiMode::Write);
			    return rows;
		    },
		    true, BatchLock::None); /* DDL: work done even when the partition was empty */
		names += (names.empty() ? "" : ", ") + d.qualified;
	}
	return std::string(run.DryRun() ? "would finalize" : "finalized") + " the pending detach of " + names +
	       " (DETACH ... FINALIZE" + (move ? ", moved to schema " + pg::QuoteIdent(p.detach_schema) : "") + "); ";
}

} // namespace upkeep::maint
