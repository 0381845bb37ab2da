/*
 * upkeep/maint/fingerprint.hpp
 *
 * table_fingerprint(): an order-independent content hash of every row of a
 * table (see core/fingerprint.hpp for the combination and pg/row_hash.hpp
 * for the canonical encoding), computed in C++ over a table-AM scan.  A
 * partitioned table's fingerprint covers its leaf partitions, columns
 * matched by name, so it equals the fingerprint of the same rows in a plain
 * table with the same columns.
 */
#pragma once

#include <optional>
#include <string>

#include "upkeep/core/fingerprint.hpp"

extern "C" {
#include "postgres.h"
}

namespace upkeep::maint {

struct TableFingerprint {
	int64_t rows = 0;
	std::string hex;
	core::Fingerprint fp;
	bool unlogged = false; /* the table or one of its leaves is UNLOGGED: not comparable across a restore */
};

/*
 * The caller needs SELECT on every column; a table with row-level security
 * in force for the caller is refused (the hash would reveal rows it cannot
 * see).  Takes ACCESS SHARE, like SELECT.  An UNLOGGED table (or leaf)
 * during recovery, and another session's temporary table, are refused with
 * 0A000: this backend cannot read their rows.
 */
TableFingerprint FingerprintTable(Oid relid);

/*
 * The table itself or its first leaf partition that is UNLOGGED (qualified
 * name), nullopt when every one is logged or the table is gone.  Unlogged
 * rows are emptied by crash recovery, not carried by physical backups and
 * absent on a standby: their fingerprint proves nothing about a restore.
 */
std::optional<std::string> UnloggedPart(Oid relid);

/* RecoveryInProgress(): a standby (or a server still replaying WAL). */
bool InRecovery();

} // namespace upkeep::maint
