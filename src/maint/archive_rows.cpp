/*
 * src/maint/archive_rows.cpp
 *
 * Archival of a plain table, row batches.
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

/* Row batches: one atomic move statement per batch, checked, digested and recorded. */
void
ArchiveRows(TableRun &run, ArchivePlan &plan, const std::string &time_column, const Cutoff &cutoff, int batch_size,
            int64_t run_id) {
	if (run.DryRun()) {
		run.Note("cutoff " + cutoff.text + CascadeNote(plan.source.oid));
		run.Batch([&] { return CountExpiredRows(plan.source, time_column, cutoff); });
		return;
	}
	std::string why;
	const core::BatchMethod method = ChooseMethodFor(plan.source, time_column, &why);
	run.Note("cutoff " + cutoff.text + ", batches by " + why);
	ExpiredRowBatches batches(plan.source, time_column, cutoff, batch_size, method);
	const std::string cols = JoinQuoted(plan.columns);
	const int ncols = static_cast<int>(plan.columns.size());
	/*
	 * The rows are hashed as the archive holds them.  When source and archive
	 * columns have the same types and nothing on the archive can rewrite a row
	 * on its way in (BEFORE INSERT triggers, rules), those are the moved rows
	 * themselves, and the INSERT only reports how many it took; otherwise the
	 * INSERT's RETURNING is hashed, with the DELETE's count beside it (a LEFT
	 * JOIN, so the count arrives even when the archive took nothing).  Both
	 * are decided in each batch, under its lock on the archive, from the
	 * relcache (what the executor uses, whatever the transaction's snapshot):
	 * a trigger or a column type can change between the batches of a run.
	 * Either way the INSERT's own count is compared with the DELETE's.
	 */
	auto spec_for = [&](bool hash_moved) {
		pg::DigestSpec spec;
		spec.count_col = 1;
		spec.hash_first = hash_moved ? 2 : 3;
		spec.hash_count = ncols;
		spec.present_col = hash_moved ? 0 : 2;
		for (size_t i = 0; i < plan.columns.size(); i++)
			if (plan.columns[i] == time_column)
				spec.range_columns.push_back(spec.hash_first + static_cast<int>(i));
		for (size_t i = 0; i < plan.columns.size(); i++)
			if (!plan.key_column.empty() && plan.columns[i] == plan.key_column)
				spec.range_columns.push_back(spec.hash_first + static_cast<int>(i));
		return spec;
	};
	(void)RunExpiredBatches(run, batches, [&](const BatchPredicate &pred) -> int64_t {
		RefreshArchive(plan);
		const bool hash_moved = SameColumnTypes(plan.source.oid, plan.archive.oid) && !ArchiveRewritesNow(plan);
		const std::string moved = "WITH moved AS (DELETE FROM " + batches.Target() + " WHERE " + pred.where +
		                          " RETURNING " + cols + "), ins AS (INSERT INTO " + plan.archive.qualified + " (" +
		                          cols + ", archived_at) OVERRIDING SYSTEM VALUE SELECT " + cols +
		                          ", pg_catalog.now() FROM moved RETURNING ";
		const std::string sql = hash_moved
		                            ? moved + "1) SELECT (SELECT pg_catalog.count(*) FROM ins), " + cols + " FROM moved"
		                            : moved + cols +
		                                  ") SELECT m.n, i.* FROM (SELECT pg_catalog.count(*) AS n FROM moved) m "
		                                  "LEFT JOIN (SELECT true AS present, " +
		                                  cols + " FROM ins) i ON true";
		const pg::DigestSpec spec = spec_for(hash_moved);
		const bool has_key_range = spec.range_columns.size() > 1;
		pg::FaultPoint("archive-before-delete");
		pg::BatchDigest d = pg::WithFingerprintSettings([&] { return pg::ExecAndDigest(sql, pred.args, spec); });
		pg::FaultPoint("archive-after-insert");
		/* hash_moved: d.rows left the source and the archive took other_count; else the reverse */
		const int64_t removed = hash_moved ? d.rows : std::max<int64_t>(d.other_count, 0);
		const int64_t landed = hash_moved ? std::max<int64_t>(d.other_count, 0) : d.rows;
		if (removed != landed) {
			const std::string msg = "archive " + plan.archive.qualified + " took " + std::to_string(landed) +
			                        " of the " + std::to_string(removed) + " rows this batch removed from " +
			                        plan.source.qualified + "; the batch is rolled back";
			pg::Throw(ERRCODE_TRIGGERED_ACTION_EXCEPTION, msg,
			          "A BEFORE INSERT trigger or a rule on the archive dropped or redirected rows (an inheritance "
			          "routing trigger does that).",
			          "Archive into a table without such triggers or rules; a declaratively partitioned archive "
			          "routes rows itself.");
		}
		if (d.rows > 0) {
			std::optional<std::string> kmin, kmax;
			if (has_key_range) {
				kmin = d.extras[2];
				kmax = d.extras[3];
			}
			RecordManifest(run_id, plan, "rows", d.rows, kmin, kmax, time_column, d.extras[0], d.extras[1], d.hash, "");
		}
		return d.rows;
	});
}

} // namespace upkeep::maint
