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
};

/*
 * The caller needs SELECT on every column; a table with row-level security
 * in force for the caller is refused (the hash would reveal rows it cannot
 * see).  Takes ACCESS SHARE, like SELECT.
 */
TableFingerprint FingerprintTable(Oid relid);

} // namespace upkeep::maint
