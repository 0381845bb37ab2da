/*
 * upkeep/maint/sql_api.hpp
 *
 * The C++ side of every SQL entry point, wired in this one place (the C
 * shim in src/abi only unpacks arguments, calls one function here inside
 * CppBoundary, and packs the result).  Each entry owns its SPI connection
 * and refuses to run on a standby where it would write.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "upkeep/maint/engine.hpp"
#include "upkeep/maint/fingerprint.hpp"
#include "upkeep/maint/policy.hpp"
#include "upkeep/maint/status.hpp"
#include "upkeep/maint/verify.hpp"

namespace upkeep::maint {

/* 25006 with a clear message on a hot standby (`what` names the function). */
void RequirePrimary(const char *what);

/* cleanup_old_data(): everything in the caller's transaction. */
std::vector<Outcome> CleanupOldData(bool dry_run, Oid only);

/* CALL run_maintenance(): `nonatomic` when called outside a transaction block (commits allowed). */
void RunMaintenanceProcedure(bool dry_run, Oid only, bool nonatomic);

/* set_policy() / drop_policy(). */
void SetPolicyEntry(const PolicyArgs &args);
bool DropPolicyEntry(Oid relid);

/* archive_table(): NULL arguments fall back to the table's policy where it has one. */
int64_t ArchiveTableEntry(Oid source, std::optional<Oid> archive, std::optional<std::string> older_than,
                          std::optional<std::string> time_column, int batch_size);

/* create_monthly_partition(): `pg_date` is a PostgreSQL date (days since 2000-01-01). */
Oid CreateMonthlyPartitionEntry(Oid parent, int32_t pg_date);

/* _policy_status(): nullopt when the table has no policy. */
std::optional<PolicyStatus> PolicyStatusEntry(Oid relid);
/* upkeep._table_size(): bytes of the table and its indexes and TOAST, over its shards on Citus (NULL: gone). */
std::optional<int64_t> TableSizeEntry(Oid relid);

/* table_fingerprint(), snapshot_fingerprints(), verify_backup_integrity(). */
TableFingerprint TableFingerprintEntry(Oid relid);
std::vector<StoredFingerprint> SnapshotFingerprintsEntry();
std::vector<CheckResult> VerifyBackupIntegrityEntry();

/* wake_worker(): whether there was a worker to wake. */
bool WakeWorkerEntry();

} // namespace upkeep::maint
