/*
 * src/maint/archive_table.cpp
 *
 * archive_table(): the checks on its arguments, once, and one archive run
 * on the table in the caller's transaction.
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
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
}

namespace upkeep::maint {

int64_t
ArchiveTable(const pg::RelInfo &source, Oid archive_oid, const std::string &older_than, const std::string &time_column,
             int batch_size) {
	/* the source's owner: checked by the entry point, before any lock */
	if (archive_oid != InvalidOid)
		RequireOwner(pg::GetRelation(archive_oid));
	RequireManageableTable(source, false); /* the rule set_policy applies; archive_table's messages name no detail */
	if (batch_size <= 0)
		pg::Throw(ERRCODE_INVALID_PARAMETER_VALUE, "batch_size must be positive, not " + std::to_string(batch_size));

	Policy p;
	ArchiveChecked checked; /* what the run then need not check again */
	p.relid = source.oid;
	p.action = core::Action::Archive;
	p.retain = ValidateAge("older_than", older_than, kMaxRetainYears);
	p.batch_size = batch_size;
	p.archive_to = archive_oid;
	if (!time_column.empty())
		p.time_column = time_column;
	else if (source.relkind == RELKIND_PARTITIONED_TABLE) {
		checked.source_key = RequireMonthlyPartitionable(source);
		p.time_column = checked.source_key->key.column;
	} else
		pg::Throw(ERRCODE_NULL_VALUE_NOT_ALLOWED, "time_column is required for table " + source.qualified);
	checked.time_kind = TimeColumnKind(source.oid, p.time_column, nullptr);
	if (archive_oid != InvalidOid) {
		ValidateArchiveTarget(source, archive_oid);
		checked.archive = archive_oid;
	}

	const RunOptions opt = RunOptions::ArchiveTable();
	std::vector<Outcome> out;
	const int64_t run_id = NewRunId();
	const std::string run_by = RunByLabel(false);
	const std::string label = core::RetentionLabel(p.action, p.retain);
	/* one run per table: a worker, pg_cron or another call on it now means an immediate skip, not a wait */
	if (!pg::TryLockTable(source.oid, false)) {
		const std::string msg = "another pg_upkeep run is processing this table";
		LogOutcome(run_id, source.oid, source.qualified, label, core::Status::Skipped, msg, run_by);
		pg::Notice("upkeep: " + source.qualified + ": " + label + " [skipped: " + msg + "]");
		return 0;
	}
	pg::OwnerPathRun owner_paths; /* the owner's search_path looked up once, not per batch */
	TableRun run(opt, p, source, run_id, run_by, &out);
	return run.Direct(
	    label, [&] { RunArchiveAction(run, checked); }, p.action);
}

} // namespace upkeep::maint
