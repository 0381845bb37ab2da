/*
 * upkeep/maint/archive_move.hpp
 *
 * The pieces of archival shared by its files (archive_action.cpp, the
 * entry point of a move; archive_rows.cpp and archive_partitions.cpp, the
 * two ways rows move; archive_manifest.cpp, what each batch records;
 * archive_plan.cpp and archive_default.cpp).  Internal to maint/.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "upkeep/core/fingerprint.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/policy.hpp"
#include "upkeep/maint/table_run.hpp"
#include "upkeep/pg/catalog.hpp"

namespace upkeep::maint {

struct ArchivePlan {
	const pg::RelInfo &source;        /* the run's: refreshed by OID under each batch's lock */
	pg::RelInfo archive;              /* refreshed by OID under each batch's lock */
	std::vector<std::string> columns; /* source columns, in order: what moves and what is hashed */
	std::string key_column;           /* single-column primary key, for the manifest's key range */
};

/*
 * What archive_table() checked on its arguments before it took the table's
 * run lock (so that a refusal comes before any lock or run_id), handed to
 * the run so that it does not check the same thing again.  A policy run has
 * no such checks behind it and makes them itself, once (RunArchiveAction(run)).
 * What can change under a run between its batches -- the table followed by
 * OID, its owner, its policy, the archive's lock and name -- is still
 * re-checked at each batch (TableRun::Recheck, RefreshArchive).
 */
struct ArchiveChecked {
	pg::KeyKind time_kind = pg::KeyKind::Date;  /* TimeColumnKind of the time column */
	Oid archive = InvalidOid;                   /* the target ValidateArchiveTarget accepted; InvalidOid: none given,
	                                               <source>_archive is resolved (and validated) in the run */
	std::optional<PartitionedTable> source_key; /* RequireMonthlyPartitionable(source), when it was called */
};

/* archive_table()'s run: RunArchiveAction without the checks `checked` holds. */
void RunArchiveAction(TableRun &run, const ArchiveChecked &checked);

/* The plan of a move from `source` into `archive_oid`. */
ArchivePlan PlanArchive(const pg::RelInfo &source, Oid archive_oid);
/* Before a batch that writes into it: the archive, locked by OID, as it is named now. */
void RefreshArchive(ArchivePlan &plan);
/*
 * True when a row inserted into the archive can be dropped, redirected or
 * changed on its way in: BEFORE INSERT row triggers on it or its partitions,
 * or rules.  Called in a batch after RefreshArchive locked the archive
 * (CREATE TRIGGER and CREATE RULE wait for that lock): from the relcache
 * (what the executor will use, whatever the transaction's snapshot) for a
 * plain archive; a partitioned one from the catalog, its partitions too.
 */
bool ArchiveRewritesNow(const ArchivePlan &plan);
/* Every column of `source_oid` is in `archive_oid` with the same name, type and typmod. */
bool SameColumnTypes(Oid source_oid, Oid archive_oid);

/* Primary-key column names of a table, in key order. */
std::vector<std::string> PrimaryKeyColumns(Oid relid);
bool HasColumn(Oid relid, const std::string &name);
/* "a", "b": quoted identifiers, comma-separated */
std::string JoinQuoted(const std::vector<std::string> &names);

/* Creates <source>_archive as the source's owner: its columns, archived_at, its primary key; partitioned alike. */
Oid CreateDefaultArchive(const pg::RelInfo &source);

/* The manifest row of one batch moved. */
void RecordManifest(int64_t run_id, const ArchivePlan &plan, const std::string &method, int64_t rows,
                    const std::optional<std::string> &key_min, const std::optional<std::string> &key_max,
                    const std::string &time_column, const std::optional<std::string> &time_min,
                    const std::optional<std::string> &time_max, const std::optional<core::Hash128> &hash,
                    const std::string &partition_name);

/* Row batches: one atomic move statement per batch, checked, digested and recorded. */
void ArchiveRows(TableRun &run, ArchivePlan &plan, const std::string &time_column, const Cutoff &cutoff, int batch_size,
                 int64_t run_id);
/*
 * Whole partitions: DETACH from the source, add archived_at (metadata only),
 * ATTACH to the archive.  `source_key`: the source's partition key as
 * RequireMonthlyPartitionable returned it on the way down, or null (checked
 * here).
 */
void ArchivePartitions(TableRun &run, ArchivePlan &plan, const Cutoff &cutoff, int64_t run_id,
                       const PartitionedTable *source_key);

} // namespace upkeep::maint
