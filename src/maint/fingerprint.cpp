/*
 * src/maint/fingerprint.cpp
 *
 * See upkeep/maint/fingerprint.hpp.  The scan loop is a C-style frame run
 * under one PgCall per relation: its only C++ state (the hasher and the
 * running sum) lives in the caller's frame, above the longjmp landing.
 */
#include <stdexcept>
#include <vector>

#include "upkeep/maint/fingerprint.hpp"
#include "upkeep/pg/catalog.hpp"
#include "upkeep/pg/citus.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/row_hash.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "access/table.h"
#include "access/xlog.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/partition.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/rls.h"
#include "utils/snapmgr.h"
}

namespace upkeep::maint {

namespace {

/*
 * Scans one heap relation, adding every row's hash.  C-style frame (may
 * ereport).  Each row is hashed in a memory context reset after it: output
 * functions and detoasting allocate as they go, and what they leave behind
 * must not add up over the table (on an error the context goes with its
 * parent).
 */
void
ScanRelation(Relation rel, pg::RowHasher *hasher, core::Fingerprint *fp) {
	Snapshot snapshot = GetActiveSnapshot();
	TableScanDesc scan = table_beginscan(rel, snapshot, 0, NULL);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	MemoryContext row_cxt =
	    AllocSetContextCreate(CurrentMemoryContext, "upkeep fingerprint row", ALLOCSET_DEFAULT_SIZES);
	uint64 n = 0;
	while (table_scan_getnextslot(scan, ForwardScanDirection, slot)) {
		fp->Add(hasher->HashSlot(slot, row_cxt));
		if ((++n & 0x3FF) == 0)
			CHECK_FOR_INTERRUPTS();
	}
	MemoryContextDelete(row_cxt);
	ExecDropSingleTupleTableSlot(slot);
	table_endscan(scan);
}

/* Leaf partitions (plain tables) under a partitioned table, locked ACCESS SHARE.  C-style. */
int
LeafPartitions(Oid relid, Oid **out) {
	List *all = find_all_inheritors(relid, AccessShareLock, NULL);
	Oid *arr = (Oid *)palloc(sizeof(Oid) * (list_length(all) + 1));
	int n = 0;
	ListCell *lc;
	foreach (lc, all) {
		Oid child = lfirst_oid(lc);
		if (get_rel_relkind(child) == RELKIND_RELATION)
			arr[n++] = child;
	}
	list_free(all);
	*out = arr;
	return n;
}

/* The leaf relations of relid (itself unless partitioned), locked ACCESS SHARE by the lookup. */
std::vector<Oid>
Leaves(const pg::RelInfo &info) {
	std::vector<Oid> leaves;
	if (info.relkind == RELKIND_PARTITIONED_TABLE) {
		Oid *found = nullptr;
		int n = pg::PgCall([&] { return LeafPartitions(info.oid, &found); });
		leaves.assign(found, found + n);
		pg::PgCall([&] { pfree(found); });
	} else {
		leaves.push_back(info.oid);
	}
	return leaves;
}

/*
 * The fingerprint of a table whose rows live in Citus shards: one query,
 * count(*) and sum(upkeep.row_hash(t.*)) -- t.*: a column named t would win over
 * the bare alias -- which Citus runs on every shard (one
 * placement each) inside its distributed transaction and sums on the
 * coordinator.  The numeric sum is exact; modulo 2^128 it is the sum of the
 * row hashes, the same value a local scan of the same rows gives.  Each node
 * hashes text-output columns under the pinned settings whatever its own.
 */
TableFingerprint
FingerprintOnShards(const pg::RelInfo &info) {
	pg::SpiConnect();
	pg::SpiResult r =
	    pg::SpiExec("SELECT pg_catalog.count(*), "
	                "COALESCE(pg_catalog.sum(upkeep.row_hash(t.*)), 0::pg_catalog.numeric)::pg_catalog.text FROM " +
	                    info.qualified + " t",
	                {}, pg::SpiMode::ReadOnly);
	pg::SpiFinish();
	TableFingerprint result;
	result.rows = r.Int(0, 0);
	try {
		result.hex = core::Hash128::FromDecimalModulo(r.At(0, 1)).Hex();
	} catch (const std::invalid_argument &e) {
		pg::Throw(ERRCODE_DATA_EXCEPTION, "unexpected sum of row hashes from the shards of " + info.qualified,
		          e.what());
	}
	return result;
}

} // namespace

std::optional<std::string>
UnloggedPart(Oid relid) {
	auto info = pg::LookupRelation(relid);
	if (!info)
		return std::nullopt;
	if (info->persistence == RELPERSISTENCE_UNLOGGED)
		return info->qualified;
	for (Oid leaf : Leaves(*info)) {
		auto part = pg::LookupRelation(leaf);
		if (part && part->persistence == RELPERSISTENCE_UNLOGGED)
			return part->qualified;
	}
	return std::nullopt;
}

bool
InRecovery() {
	return pg::PgCall([] { return RecoveryInProgress(); });
}

TableFingerprint
FingerprintTable(Oid relid) {
	const pg::RelInfo info = pg::GetRelation(relid);
	if (info.relkind != RELKIND_RELATION && info.relkind != RELKIND_PARTITIONED_TABLE &&
	    info.relkind != RELKIND_MATVIEW) {
		std::string msg = "\"" + info.qualified + "\" is not a table";
		pg::Throw(ERRCODE_WRONG_OBJECT_TYPE, msg);
	}
	/* privileges first, before any lock: SELECT on every column, and no RLS hiding rows from the caller */
	const Oid user = pg::CurrentUser();
	bool allowed = pg::PgCall([&] {
		return pg_class_aclcheck(relid, user, ACL_SELECT) == ACLCHECK_OK ||
		       pg_attribute_aclcheck_all(relid, user, ACL_SELECT, ACLMASK_ALL) == ACLCHECK_OK;
	});
	if (!allowed) {
		std::string msg = "permission denied for table " + info.qualified;
		pg::Throw(ERRCODE_INSUFFICIENT_PRIVILEGE, msg, "table_fingerprint needs SELECT on every column.");
	}
	int rls = pg::PgCall([&] { return check_enable_rls(relid, InvalidOid, true); });
	if (rls == RLS_ENABLED) {
		std::string msg = "row-level security hides rows of " + info.qualified + " from you";
		pg::Throw(ERRCODE_INSUFFICIENT_PRIVILEGE, msg,
		          "A fingerprint over rows you cannot see would reveal them; run it as the owner or a role with "
		          "BYPASSRLS.");
	}

	if (pg::RowsOnShards(pg::CitusTableKind(relid)))
		return FingerprintOnShards(info);

	/* the column order of the table itself; leaves are matched by name */
	const auto cols = pg::GetColumns(relid);
	const std::vector<Oid> leaves = Leaves(info);

	/*
	 * Relations whose contents this backend cannot read: before any scan,
	 * with a reason (a scan would end in "could not open file").
	 */
	TableFingerprint result;
	const bool recovery = InRecovery();
	for (Oid leaf : leaves) {
		const pg::RelInfo part = leaf == relid ? info : pg::GetRelation(leaf);
		if (part.persistence == RELPERSISTENCE_UNLOGGED) {
			result.unlogged = true;
			if (recovery) {
				std::string msg = "cannot fingerprint unlogged table \"" + part.qualified + "\" during recovery";
				pg::Throw(ERRCODE_FEATURE_NOT_SUPPORTED, msg,
				          "Unlogged tables are not WAL-logged: a standby has no contents for them.",
				          "Fingerprint it on the primary.");
			}
		}
		if (part.persistence == RELPERSISTENCE_TEMP &&
		    !pg::PgCall([&] { return isTempOrTempToastNamespace(part.nspoid); })) {
			std::string msg = "cannot fingerprint temporary table \"" + part.qualified + "\" of another session";
			pg::Throw(ERRCODE_FEATURE_NOT_SUPPORTED, msg,
			          "Its rows live in the memory of the session that created it.");
		}
	}

	pg::WithFingerprintSettings([&] {
		for (Oid leaf : leaves) {
			std::vector<int> attnums;
			if (leaf == relid) {
				for (const auto &c : cols)
					attnums.push_back(c.attnum);
			} else {
				const auto leaf_cols = pg::GetColumns(leaf);
				for (const auto &c : cols)
					for (const auto &lcol : leaf_cols)
						if (lcol.name == c.name)
							attnums.push_back(lcol.attnum);
			}
			pg::FaultPoint("fingerprint-scan");
			Relation rel = pg::PgCall([&] { return table_open(leaf, AccessShareLock); });
			pg::RowHasher hasher(RelationGetDescr(rel), attnums);
			pg::PgCall([&] { ScanRelation(rel, &hasher, &result.fp); });
			pg::PgCall([&] { table_close(rel, NoLock); });
		}
	});
	result.rows = static_cast<int64_t>(result.fp.Rows());
	result.hex = result.fp.Hex();
	return result;
}

} // namespace upkeep::maint
