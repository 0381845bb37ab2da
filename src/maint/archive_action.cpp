/*
 * src/maint/archive_action.cpp
 *
 * The archive action of a policy (and of archive_table()): rows older than
 * the cutoff move from a table into its archive, exactly once, whatever
 * fails -- by row batches (archive_rows.cpp) or whole partitions
 * (archive_partitions.cpp), each batch with its manifest
 * (archive_manifest.cpp).
 *
 * Plain source: every batch is ONE statement,
 *     WITH moved AS (DELETE FROM src WHERE <batch> RETURNING cols),
 *          ins   AS (INSERT INTO archive (cols, archived_at)
 *                    SELECT cols, now() FROM moved RETURNING ...)
 *     SELECT <the other side's row count>, cols FROM <moved or ins>
 * so a row is in the source or in the archive, never both, never neither:
 * the statement is atomic, and a crash at any instant rolls the whole batch
 * back.  The rows the DELETE removed must equal the rows the archive took:
 * a BEFORE INSERT trigger or rule on the archive that drops or redirects
 * rows makes the batch roll back with an error instead of losing them.  The
 * batch predicate is a key range evaluated by the DELETE itself (no
 * SELECT-then-DELETE): a row updated to a newer time meanwhile fails the
 * re-check and stays.  The rows are hashed as the archive stored them, as
 * they stream out of the statement (bounded memory whatever the batch
 * size), and the batch is recorded in upkeep.archive_manifest in the same
 * transaction.  Source and archive are followed by OID: each batch locks
 * both and takes their current names.
 *
 * Partitioned source: whole expired partitions move (DETACH, ADD COLUMN
 * archived_at with a default -- metadata only --, ATTACH to the archive),
 * keeping their relfilenode: no row is copied.  Partitions pg_upkeep made
 * carry a CHECK equal to their bounds, so ATTACH does not scan them either.
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

namespace {

/*
 * The archive action; `checked`: what archive_table() already checked on the
 * way down (null for a policy run, which checks it here, once).
 */
void
ArchiveAction(TableRun &run, const ArchiveChecked *checked) {
	const Policy &p = run.GetPolicy();
	const pg::RelInfo &source = run.Rel();
	const pg::KeyKind kind = checked ? checked->time_kind : TimeColumnKind(source.oid, p.time_column, nullptr);
	const Cutoff cutoff = PolicyCutoff(p, kind, PolicyTimeZone(p));
	bool created = false;
	const Oid archive = checked && checked->archive != InvalidOid
	                        ? checked->archive
	                        : ResolveArchive(source, p.archive_to, !run.DryRun(), &created);
	if (archive == InvalidOid) {
		/* dry run before the default archive exists: report what would move */
		run.Note("would create " + pg::QuoteQualified(source.nspname, DefaultArchiveName(source)) +
		         (source.relkind != RELKIND_PARTITIONED_TABLE ? CascadeNote(source.oid) : std::string()));
		if (source.relkind != RELKIND_PARTITIONED_TABLE)
			run.Batch([&] { return CountExpiredRows(source, p.time_column, cutoff); });
		return;
	}
	ArchivePlan plan = PlanArchive(source, archive);
	run.SetLabel(core::RetentionLabel(core::Action::Archive, p.retain) + " to " + plan.archive.qualified);
	run.Note("cutoff " + cutoff.text);
	const int64_t run_id = run.RunId();
	if (source.relkind == RELKIND_PARTITIONED_TABLE)
		ArchivePartitions(run, plan, cutoff, run_id, checked && checked->source_key ? &*checked->source_key : nullptr);
	else
		ArchiveRows(run, plan, p.time_column, cutoff, p.batch_size, run_id);
}

} // namespace

void
RunArchiveAction(TableRun &run) {
	ArchiveAction(run, nullptr);
}

void
RunArchiveAction(TableRun &run, const ArchiveChecked &checked) {
	ArchiveAction(run, &checked);
}

} // namespace upkeep::maint
