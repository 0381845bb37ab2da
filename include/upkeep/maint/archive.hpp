/*
 * upkeep/maint/archive.hpp
 *
 * Archival: moving expired rows into an archive table exactly once.
 */
#pragma once

#include <string>
#include <vector>

#include "upkeep/pg/catalog.hpp"

namespace upkeep::maint {

/*
 * Checks that `archive` can receive `source`'s rows: a permanent ordinary or
 * partitioned table (not temporary, unlogged, a catalog or pg_upkeep's own),
 * with the same owner, holding every source column with a compatible type
 * (same type and typmod or wider, or an implicit cast), and no extra NOT NULL
 * column without a default.  Throws a PgError listing every mismatch.
 */
void ValidateArchiveTarget(const pg::RelInfo &source, Oid archive);

/* Name of the archive pg_upkeep creates for a source: <source>_archive, fitted into 63 bytes. */
std::string DefaultArchiveName(const pg::RelInfo &source);

} // namespace upkeep::maint

namespace upkeep::maint {

/*
 * SQL entry point archive_table(): moves rows of `source` older than
 * now() - older_than into `archive` (InvalidOid: <source>_archive, created
 * on first use) in batches of `batch_size`, in the caller's transaction.
 * Returns the rows moved.  `older_than` is interval text; `time_column`
 * empty means the range partition key.  `source` is the relation the
 * entry point read, whose owner it has already checked (before any lock):
 * the checks on it are made once, here on the way down.
 */
int64_t ArchiveTable(const pg::RelInfo &source, Oid archive, const std::string &older_than,
                     const std::string &time_column, int batch_size);

/* The archive a policy or call moves rows to: `archive` if valid, else <source>_archive, created when absent. */
Oid ResolveArchive(const pg::RelInfo &source, Oid archive, bool create, bool *created);

} // namespace upkeep::maint
