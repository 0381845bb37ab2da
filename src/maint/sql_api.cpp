/*
 * src/maint/sql_api.cpp
 *
 * See upkeep/maint/sql_api.hpp.
 */
#include "upkeep/bgw/shmem.hpp"
#include "upkeep/maint/archive.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/sql_api.hpp"
#include "upkeep/pg/citus.hpp"
#include "upkeep/pg/catalog.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/report.hpp"
#include "upkeep/pg/spi.hpp"

namespace upkeep::maint {

void
RequirePrimary(const char *what) {
	if (pg::InRecovery()) {
		std::string msg = std::string(what) + " cannot run on a hot standby";
		pg::Throw(ERRCODE_READ_ONLY_SQL_TRANSACTION, msg, nullptr,
		          "Run maintenance on the primary; after a promotion it works here without a restart.");
	}
	if (pg::OnCitusWorkerNode()) {
		std::string msg = std::string(what) + " cannot run on a Citus worker node";
		pg::Throw(ERRCODE_FEATURE_NOT_SUPPORTED, msg,
		          "Policies and runs of a Citus cluster belong to the coordinator: a run here would change "
		          "distributed tables on every node and be recorded only in this node's run_log.",
		          "Run it on the coordinator.");
	}
}

std::vector<Outcome>
CleanupOldData(bool dry_run, Oid only) {
	RequirePrimary("upkeep.cleanup_old_data()");
	pg::SpiConnect();
	std::vector<Outcome> out = RunMaintenance(RunOptions::CleanupOldData(dry_run, only));
	pg::SpiFinish();
	return out;
}

void
RunMaintenanceProcedure(bool dry_run, Oid only, bool nonatomic) {
	RequirePrimary("upkeep.run_maintenance()");
	if (!nonatomic && !dry_run)
		pg::Throw(ERRCODE_INVALID_TRANSACTION_TERMINATION,
		          "upkeep.run_maintenance() commits after every batch and cannot run inside a transaction block",
		          nullptr,
		          "CALL it outside BEGIN ... COMMIT, or use SELECT * FROM upkeep.cleanup_old_data() to work inside "
		          "your transaction.");
	/*
	 * A procedure has no SET clause to undo the pinned search_path: a dry run
	 * (one transaction, possibly the caller's) pops it here; a real run's
	 * connection pops it in SpiFinish.
	 */
	const int nest = dry_run ? pg::OpenGucLevel() : 0;
	pg::SpiConnect(!dry_run);
	(void)RunMaintenance(RunOptions::Procedure(dry_run, only));
	pg::SpiFinish();
	if (dry_run)
		pg::CloseGucLevel(nest);
}

void
SetPolicyEntry(const PolicyArgs &args) {
	RequirePrimary("upkeep.set_policy()");
	pg::SpiConnect();
	SetPolicy(args);
	pg::SpiFinish();
	/* the worker schedules a new or changed policy as soon as it is committed, not a naptime later */
	pg::PgCall([] { bgw::WakeWorkerAtCommit(); });
}

bool
DropPolicyEntry(Oid relid) {
	RequirePrimary("upkeep.drop_policy()");
	pg::SpiConnect();
	bool dropped = DropPolicy(relid);
	pg::SpiFinish();
	return dropped;
}

int64_t
ArchiveTableEntry(Oid source, std::optional<Oid> archive, std::optional<std::string> older_than,
                  std::optional<std::string> time_column, int batch_size) {
	RequirePrimary("upkeep.archive_table()");
	pg::SpiConnect();
	const pg::RelInfo rel = pg::GetRelation(source);
	RequireOwner(rel);
	auto policies = LoadPolicies(source);
	const Policy *p = policies.empty() ? nullptr : &policies.front();
	if (!older_than) {
		if (!p)
			pg::Throw(ERRCODE_NULL_VALUE_NOT_ALLOWED, "older_than is required", nullptr,
			          "Pass older_than => '90 days', or set a policy on the table whose retain it then uses.");
		older_than = p->retain;
	}
	if (!time_column && p)
		time_column = p->time_column;
	if (!archive && p && p->action == core::Action::Archive && p->archive_to != InvalidOid)
		archive = p->archive_to;
	int64_t moved = ArchiveTable(rel, archive.value_or(InvalidOid), *older_than, time_column.value_or(""), batch_size);
	pg::SpiFinish();
	return moved;
}

Oid
CreateMonthlyPartitionEntry(Oid parent, int32_t pg_date) {
	const core::YearMonth ym = PartitionMonthArg(pg_date);
	RequirePrimary("upkeep.create_monthly_partition()");
	pg::SpiConnect();
	std::string moved;
	const Oid child = CreateMonthlyPartition(parent, ym, &moved);
	pg::SpiFinish();
	if (!moved.empty())
		pg::Notice(moved);
	return child;
}

std::optional<int64_t>
TableSizeEntry(Oid relid) {
	pg::SpiConnect();
	std::optional<int64_t> bytes = TableBytes(relid);
	pg::SpiFinish();
	return bytes;
}

std::optional<PolicyStatus>
PolicyStatusEntry(Oid relid) {
	pg::SpiConnect();
	std::optional<PolicyStatus> st = GetPolicyStatus(relid);
	pg::SpiFinish();
	return st;
}

TableFingerprint
TableFingerprintEntry(Oid relid) {
	return FingerprintTable(relid); /* reads the table directly, no SPI */
}

std::vector<StoredFingerprint>
SnapshotFingerprintsEntry() {
	pg::SpiConnect();
	std::vector<StoredFingerprint> rows = SnapshotFingerprints();
	pg::SpiFinish();
	return rows;
}

std::vector<CheckResult>
VerifyBackupIntegrityEntry() {
	pg::SpiConnect();
	std::vector<CheckResult> rows = VerifyBackupIntegrity();
	pg::SpiFinish();
	return rows;
}

bool
WakeWorkerEntry() {
	return pg::PgCall([] { return bgw::WakeWorkerForCurrentDatabase(); });
}

} // namespace upkeep::maint
