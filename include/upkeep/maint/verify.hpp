/*
 * upkeep/maint/verify.hpp
 *
 * snapshot_fingerprints() and verify_backup_integrity().
 */
#pragma once

#include <map>
#include <string>
#include <vector>

#include "upkeep/core/fingerprint.hpp"
#include "upkeep/pg/catalog.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "postgres.h"
}

namespace upkeep::maint {

struct StoredFingerprint {
	std::string table_name;
	int64_t rows;
	std::string fingerprint;
	std::string taken_at;
	std::string wal_lsn;
};

/*
 * One pass over an archive (or one of its partitions): per archived_at
 * (microseconds), the count and hash of its rows over `columns`, as the
 * manifests record them.  `group_by_time` false: one group for all rows.
 * `where` (with $n bound to `args`) narrows the scan.  Call with
 * pg::PinFingerprintSettings() in force.
 */
std::map<int64_t, core::Fingerprint> HashArchiveRows(const pg::RelInfo &archive,
                                                     const std::vector<std::string> &columns, bool group_by_time,
                                                     const std::string &where = {},
                                                     const std::vector<pg::SpiValue> &args = {});

/* Fingerprints every managed table the caller may act on, and its archive; stores and returns them. */
std::vector<StoredFingerprint> SnapshotFingerprints();

struct CheckResult {
	std::string check_name;
	std::string object;
	std::string status; /* ok | warning | failed */
	std::string detail;
};

/*
 * Every check, each independent of the others (a check that errors reports
 * 'failed' with the error, and the next one runs) -- except that a cancel,
 * statement_timeout or termination ends the call with its own error.
 * Objects the caller may not read are left out.
 */
std::vector<CheckResult> VerifyBackupIntegrity();

} // namespace upkeep::maint
