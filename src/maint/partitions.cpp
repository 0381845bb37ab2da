/*
 * src/maint/partitions.cpp
 *
 * create_monthly_partition and the month-partition machinery.
 *
 * Order of operations (every step may fail; nothing is half-made because all
 * of it runs in the caller's transaction, or a subtransaction of it):
 *   1. ownership check on the catalog row, before any lock (a non-owner must
 *      not even queue a lock request on someone else's table);
 *   2. SHARE UPDATE EXCLUSIVE on the parent under a bounded lock_timeout: it
 *      blocks no reader or writer, but serialises partition DDL, so the set
 *      we read cannot change under us; then ownership is checked again;
 *   3. bounds read from the catalog (relpartbound), never from names: an
 *      exact match is returned as is, any overlap is an error;
 *   4. the name, fitted into 63 bytes, must be free: pg_upkeep never adopts
 *      a table it did not create;
 *   5. the DDL runs through SPI as the parent's owner in a security-restricted
 *      operation: the partition is made as a plain table shaped like the
 *      parent (CREATE TABLE ... (LIKE parent ...)), then attached (ALTER
 *      TABLE parent ATTACH PARTITION).  ATTACH needs only SHARE UPDATE
 *      EXCLUSIVE on the parent, where CREATE TABLE ... PARTITION OF takes
 *      ACCESS EXCLUSIVE: readers and writers of the set are never blocked,
 *      and an open report transaction does not make it fail.  ATTACH gives
 *      the table what PARTITION OF would (the parent's indexes, foreign keys,
 *      row triggers; CHECK constraints and columns become inherited, not
 *      local).  With a DEFAULT partition, ATTACH also takes ACCESS EXCLUSIVE
 *      on it (PostgreSQL re-checks it for rows of the month, skipping the
 *      scan when a constraint proves the range empty): that lock is taken
 *      together with the parent's, all or none, never queued.  If the
 *      default holds rows of the month, they are moved into the new table
 *      in one statement, which is then attached.
 */
#include <string>
#include <vector>

#include "upkeep/core/naming.hpp"
#include "upkeep/core/partition_plan.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/pg/citus.hpp"
#include "upkeep/maint/policy.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/report.hpp"
#include "upkeep/pg/setting.hpp"
#include "upkeep/pg/spi.hpp"
#include "upkeep/pg/subtransaction.hpp"

extern "C" {
#include "access/transam.h"
#include "catalog/pg_class.h"
#include "catalog/pg_partitioned_table.h"
#include "commands/tablespace.h"
#include "storage/lmgr.h"
#include "utils/date.h"
#include "utils/lsyscache.h"
}

#include "upkeep/pg/compat.hpp"

namespace upkeep::maint {

std::string
BoundsConstraintName(const std::string &partition_name) {
	return core::FitIdentifier(partition_name, "_month_bounds", [](std::string_view s, size_t limit) {
		return pg::ClipToEncoding(std::string(s), limit);
	});
}

std::string
BoundsCheck(const PartitionedTable &t, const std::string &lower_literal, const std::string &upper_literal) {
	const std::string key = pg::QuoteIdent(t.key.column);
	/* an empty lower literal: FROM (MINVALUE) */
	return key + " IS NOT NULL AND " +
	       (lower_literal.empty() ? std::string() : key + " OPERATOR(pg_catalog.>=) " + lower_literal + " AND ") + key +
	       " OPERATOR(pg_catalog.<) " + upper_literal;
}

namespace {

std::string
MonthText(core::YearMonth ym) {
	char buf[32];
	snprintf(buf, sizeof(buf), "%04lld-%02d", static_cast<long long>(ym.year), ym.month);
	return buf;
}

std::string
BoundText(pg::KeyKind kind, int64_t v) {
	if (v == std::numeric_limits<int64_t>::min())
		return "MINVALUE";
	if (v == std::numeric_limits<int64_t>::max())
		return "MAXVALUE";
	return pg::KeyLiteral(kind, v);
}

/* Grants of `parent` (except its owner's own) repeated on `child`: a new partition is as open as its parent, no more.
 */
void
CopyGrants(Oid parent, const std::string &child_sql) {
	pg::SpiResult acl = pg::SpiExec("SELECT a.grantee, pg_catalog.string_agg(a.privilege_type, ', ' ORDER BY "
	                                "a.privilege_type), a.is_grantable "
	                                "FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a "
	                                "WHERE c.oid OPERATOR(pg_catalog.=) $1 "
	                                "AND a.grantee OPERATOR(pg_catalog.<>) c.relowner "
	                                "GROUP BY a.grantee, a.is_grantable",
	                                {pg::SpiValue::Oid_(parent)}, pg::SpiMode::ReadOnly);
	for (const auto &row : acl.rows) {
		const Oid grantee = static_cast<Oid>(std::stoul(*row[0]));
		const std::string &privs = *row[1];
		/* privilege names come from aclexplode; still, only known keywords reach SQL text */
		std::string checked;
		size_t start = 0;
		while (start <= privs.size()) {
			size_t comma = privs.find(", ", start);
			std::string p = privs.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
			bool ok = false;
			for (const char *k : pg::compat::kTablePrivileges)
				ok = ok || p == k;
			if (ok)
				checked += (checked.empty() ? "" : ", ") + p;
			if (comma == std::string::npos)
				break;
			start = comma + 2;
		}
		if (checked.empty())
			continue;
		std::string sql = "GRANT " + checked + " ON TABLE " + child_sql + " TO " + pg::RoleSql(grantee);
		if (*row[2] == "t")
			sql += " WITH GRANT OPTION";
		pg::SpiExec(sql);
	}
}

/*
 * CREATE TABLE for a partition-to-be: a plain table with the parent's
 * columns, defaults, CHECK constraints, generation expressions, storage and
 * compression (LIKE) and, as CREATE TABLE ... PARTITION OF would, the
 * parent's tablespace if it has one.  Indexes, foreign keys and row triggers
 * come with ATTACH.  `check`: an extra table constraint, or empty.
 */
std::string
CreateLikeParentSql(const PartitionedTable &t, const std::string &child_sql, const std::string &check) {
	char tablespace[NAMEDATALEN] = {0};
	pg::PgCall([&] {
		const Oid spc = get_rel_tablespace(t.rel.oid);
		char *name = OidIsValid(spc) ? get_tablespace_name(spc) : nullptr;
		if (name != nullptr)
			strlcpy(tablespace, name, sizeof(tablespace));
	});
	return "CREATE TABLE " + child_sql + " (LIKE " + t.rel.qualified +
	       " INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED INCLUDING STORAGE INCLUDING COMPRESSION" +
	       (check.empty() ? std::string() : ", " + check) + ")" +
	       (tablespace[0] == '\0' ? std::string() : " TABLESPACE " + pg::QuoteIdent(tablespace));
}

/*
 * The DEFAULT partition holds rows of the month: move them into the new
 * (still plain) table in one atomic statement (DELETE ... RETURNING into
 * INSERT), then attach it.  The bounds CHECK, added while the table is empty
 * if it does not have it yet, lets ATTACH skip re-scanning it.  Returns the
 * rows moved.
 */
int64_t
AttachMovingDefaultRows(const PartitionedTable &t, const pg::ChildPartition &def, const std::string &child_name,
                        const std::string &child_sql, const pg::KeyValue &lower, const pg::KeyValue &upper,
                        const std::string &bounds, bool has_bounds_check) {
	const std::string key = pg::QuoteIdent(t.key.column);
	std::string cols;
	for (const auto &c : pg::GetColumns(t.rel.oid)) {
		if (c.generated)
			continue;
		cols += (cols.empty() ? "" : ", ") + pg::QuoteIdent(c.name);
	}
	if (!has_bounds_check)
		pg::SpiExec("ALTER TABLE " + child_sql + " ADD CONSTRAINT " + pg::QuoteIdent(BoundsConstraintName(child_name)) +
		            " CHECK (" + BoundsCheck(t, lower.literal, upper.literal) + ")");
	pg::SpiResult moved =
	    pg::SpiExec("WITH moved AS (DELETE FROM ONLY " + def.qualified + " WHERE " + key + " OPERATOR(pg_catalog.>=) " +
	                    lower.literal + " AND " + key + " OPERATOR(pg_catalog.<) " + upper.literal + " RETURNING " +
	                    cols + ") INSERT INTO " + child_sql + " (" + cols + ") SELECT " + cols + " FROM moved",
	                {}, pg::SpiMode::Write);
	pg::FaultPoint("partition-between-create-attach");
	/*
	 * On a distributed parent Citus distributes the attached table, copying
	 * its rows to the shards, and leaves the coordinator's local copy on disk
	 * (invisible, never freed), with notices telling the user to empty it:
	 * Citus's own function empties it here, and its notices are not shown.
	 */
	if (!pg::RowsOnShards(pg::CitusTableKind(t.rel.oid))) {
		pg::SpiExec("ALTER TABLE " + t.rel.qualified + " ATTACH PARTITION " + child_sql + " " + bounds);
		return static_cast<int64_t>(moved.processed);
	}
	const int level = pg::OpenGucLevel();
	pg::PgCall([] { pg::SetForLevel("client_min_messages", "warning"); });
	pg::SpiExec("ALTER TABLE " + t.rel.qualified + " ATTACH PARTITION " + child_sql + " " + bounds);
	pg::SpiExec("SELECT pg_catalog.truncate_local_data_after_distributing_table($1)",
	            {pg::SpiValue::RegClass(pg::RelationByName(t.rel.nspoid, child_name))}, pg::SpiMode::Write);
	pg::CloseGucLevel(level);
	return static_cast<int64_t>(moved.processed);
}

} // namespace

void
RequireOwner(const pg::RelInfo &rel) {
	if (!pg::MayActAsOwner(rel.oid, pg::CurrentUser())) {
		std::string msg = "must be owner of table " + rel.qualified;
		pg::Throw(ERRCODE_INSUFFICIENT_PRIVILEGE, msg,
		          "pg_upkeep acts only on tables whose owning role's privileges the caller has (the owner, or a member "
		          "that inherits them; a NOINHERIT member must SET ROLE first), as ALTER TABLE does.");
	}
}

core::TableRefusal
ManageRefusal(const pg::RelInfo &rel) {
	static_assert(core::kFirstNormalObjectId == FirstNormalObjectId);
	static_assert(core::kRelkindTable == RELKIND_RELATION && core::kRelkindPartitioned == RELKIND_PARTITIONED_TABLE);
	static_assert(core::kPersistenceTemp == RELPERSISTENCE_TEMP);
	core::RelationFacts t;
	t.nspname = rel.nspname;
	t.oid = rel.oid;
	t.in_extension_schema = rel.nspoid == pg::ExtensionSchema();
	t.relkind = rel.relkind;
	t.persistence = rel.persistence;
	return core::ManageRefusal(t);
}

void
RequireManageableTable(const pg::RelInfo &rel, bool explain) {
	auto fail = [&](int code, const std::string &msg, const char *detail) {
		pg::Throw(code, msg.c_str(), explain ? detail : nullptr);
	};
	switch (ManageRefusal(rel)) {
	case core::TableRefusal::None:
		return;
	case core::TableRefusal::SystemCatalog:
		fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "\"" + rel.qualified + "\" is a system catalog",
		     "pg_upkeep never manages system catalogs.");
		break;
	case core::TableRefusal::OwnTable:
		fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "\"" + rel.qualified + "\" belongs to pg_upkeep itself",
		     "pg_upkeep's own tables are trimmed by pg_upkeep (see upkeep.run_log_retain), not by policies.");
		break;
	case core::TableRefusal::NotATable:
		fail(ERRCODE_WRONG_OBJECT_TYPE, "\"" + rel.qualified + "\" is not a table",
		     "Policies apply to ordinary and partitioned tables.");
		break;
	case core::TableRefusal::Temporary:
		fail(ERRCODE_FEATURE_NOT_SUPPORTED, "\"" + rel.qualified + "\" is a temporary table",
		     "A policy must outlive the session that set it.");
		break;
	}
}

PartitionedTable
RequireMonthlyPartitionable(const pg::RelInfo &rel) {
	if (rel.relkind != RELKIND_PARTITIONED_TABLE) {
		std::string msg = "\"" + rel.qualified + "\" is not a partitioned table";
		pg::Throw(ERRCODE_WRONG_OBJECT_TYPE, msg,
		          "create_monthly_partition needs a table declared with PARTITION BY RANGE on a date, timestamp or "
		          "timestamptz column.");
	}
	PartitionedTable t{rel, pg::GetPartitionKey(rel.oid), pg::KeyKind::Date};
	if (t.key.strategy != PARTITION_STRATEGY_RANGE) {
		std::string msg = "\"" + rel.qualified + "\" is not partitioned by RANGE";
		std::string detail = std::string("Its partition strategy is ") +
		                     (t.key.strategy == PARTITION_STRATEGY_LIST ? "LIST" : "HASH") +
		                     "; monthly partitions need RANGE.";
		pg::Throw(ERRCODE_FEATURE_NOT_SUPPORTED, msg, detail);
	}
	if (t.key.natts != 1) {
		std::string msg = "\"" + rel.qualified + "\" has a " + std::to_string(t.key.natts) + "-column partition key";
		pg::Throw(ERRCODE_FEATURE_NOT_SUPPORTED, msg,
		          "Monthly partitions need a single-column key of type date, timestamp or timestamptz.");
	}
	if (t.key.is_expression) {
		std::string msg = "\"" + rel.qualified + "\" is partitioned by an expression";
		pg::Throw(ERRCODE_FEATURE_NOT_SUPPORTED, msg,
		          "Monthly partitions need a plain column key of type date, timestamp or timestamptz.");
	}
	if (!pg::ClassifyKeyType(t.key.type, &t.kind)) {
		std::string type = pg::SpiExec("SELECT pg_catalog.format_type($1, NULL)", {pg::SpiValue::Oid_(t.key.type)},
		                               pg::SpiMode::ReadOnly)
		                       .At(0, 0);
		std::string msg = "partition key column \"" + t.key.column + "\" of \"" + rel.qualified + "\" has type " + type;
		pg::Throw(ERRCODE_DATATYPE_MISMATCH, msg,
		          "Monthly partitions need a key of type date, timestamp or timestamptz.");
	}
	return t;
}

PartitionChange
LockForPartitionChange(Oid parent, int parent_mode, const std::vector<pg::ChildPartition> &parts,
                       const std::vector<pg::RelLock> &also) {
	std::vector<pg::RelLock> locks{{parent, parent_mode}};
	for (const auto &p : parts)
		locks.push_back({p.oid, pg::kAccessExclusiveLock});
	const Oid def = pg::DefaultPartitionOf(parent);
	if (def != InvalidOid)
		locks.push_back({def, pg::kAccessExclusiveLock});
	locks.insert(locks.end(), also.begin(), also.end());
	pg::LockAllOrNone(locks, pg::EffectiveLockTimeoutMs());

	PartitionChange change;
	auto now = pg::LookupRelation(parent);
	if (!now) {
		const std::string msg = "table with OID " + std::to_string(parent) + " was dropped during the run";
		pg::Throw(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, msg);
	}
	change.parent = *now;
	const auto current = pg::ListRangePartitions(parent);
	for (const auto &want : parts) {
		bool found = false;
		for (const auto &c : current)
			if (c.oid == want.oid && !c.is_default && c.lower.value == want.lower.value &&
			    c.upper.value == want.upper.value) {
				change.parts.push_back(c);
				found = true;
			}
		if (!found)
			change.gone++;
	}
	return change;
}

Oid
EnsureMonthPartitionLocked(const PartitionedTable &t, core::YearMonth ym, const std::string &tz, bool bounds_check,
                           bool *created, std::string *moved) {
	*created = false;
	if (moved != nullptr)
		moved->clear();
	const pg::KeyValue lower = pg::MonthStart(t.kind, ym, tz);
	const pg::KeyValue upper = pg::MonthStart(t.kind, core::AddMonths(ym, 1), tz);

	const pg::ChildPartition *def = nullptr;
	const auto children = pg::ListRangePartitions(t.rel.oid);
	for (const auto &c : children) {
		if (c.is_default) {
			def = &c;
			continue;
		}
		if (c.lower.value == lower.value && c.upper.value == upper.value)
			return c.oid; /* idempotent: exactly this month already exists */
		if (c.lower.value < upper.value && lower.value < c.upper.value) {
			std::string msg =
			    "partition " + c.qualified + " overlaps month " + MonthText(ym) + " of " + t.rel.qualified;
			std::string detail = "Existing bounds: FROM (" + BoundText(t.kind, c.lower.value) + ") TO (" +
			                     BoundText(t.kind, c.upper.value) + "); the month needs FROM (" + lower.literal +
			                     ") TO (" + upper.literal + ").";
			pg::Throw(ERRCODE_INVALID_OBJECT_DEFINITION, msg, detail);
		}
	}

	const std::string name = core::PartitionName(
	    t.rel.name, ym, [](std::string_view s, size_t limit) { return pg::ClipToEncoding(std::string(s), limit); });
	if (pg::RelationByName(t.rel.nspoid, name) != InvalidOid) {
		std::string msg = "relation " + pg::QuoteQualified(t.rel.nspname, name) +
		                  " already exists and is not the partition of " + t.rel.qualified + " for " + MonthText(ym);
		pg::Throw(ERRCODE_DUPLICATE_TABLE, msg, nullptr,
		          "pg_upkeep never adopts a table it did not create: rename or drop it, or attach it yourself with "
		          "the month's exact bounds.");
	}
	const std::string child_sql = pg::QuoteQualified(t.rel.nspname, name);
	const std::string bounds = "FOR VALUES FROM (" + lower.literal + ") TO (" + upper.literal + ")";
	/*
	 * For sets that archive, the partition carries a CHECK equal to its bounds
	 * (free on an empty table): once detached, it can be attached to the
	 * archive without a validation scan.  Not for the others: PostgreSQL's
	 * DDL slows down with every CHECK constraint in a schema.  (ATTACH of the
	 * new, empty table needs no such proof: scanning it costs nothing.)
	 */
	const std::string check = bounds_check ? "CONSTRAINT " + pg::QuoteIdent(BoundsConstraintName(name)) + " CHECK (" +
	                                             BoundsCheck(t, lower.literal, upper.literal) + ")"
	                                       : std::string();
	const std::string attach = "ALTER TABLE " + t.rel.qualified + " ATTACH PARTITION " + child_sql + " " + bounds;

	pg::AsOwner(t.rel.owner, [&] {
		pg::SpiExec(CreateLikeParentSql(t, child_sql, check));
		if (def == nullptr) {
			pg::SpiExec(attach);
		} else {
			auto failure = pg::TrySubtransaction([&] { pg::SpiExec(attach); });
			if (failure) {
				if (failure->SqlErrCode() != ERRCODE_CHECK_VIOLATION)
					throw *failure;
				const int64_t rows =
				    AttachMovingDefaultRows(t, *def, name, child_sql, lower, upper, bounds, bounds_check);
				if (moved != nullptr)
					*moved = "moved " + std::to_string(rows) + (rows == 1 ? " row" : " rows") +
					         " from default partition " + def->qualified + " into " + child_sql;
			}
		}
		if (t.rel.has_acl)
			CopyGrants(t.rel.oid, child_sql);
	});
	*created = true;
	Oid child = pg::RelationByName(t.rel.nspoid, name);
	if (child == InvalidOid)
		pg::Throw(ERRCODE_INTERNAL_ERROR, "partition vanished right after its creation");
	return child;
}

core::YearMonth
PartitionMonthArg(int32_t pg_date) {
	if (DATE_NOT_FINITE(pg_date))
		pg::Throw(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "month must be a finite date");
	const core::YearMonth ym = core::MonthOf(core::FromPgDate(pg_date));
	if (!core::IsPartitionableMonth(ym)) {
		std::string msg = "month " + MonthText(ym) + " is outside the partitionable range 0001-01 .. 9999-12";
		pg::Throw(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, msg);
	}
	return ym;
}

Oid
CreateMonthlyPartition(Oid parent_oid, core::YearMonth ym, std::string *moved) {
	/* a set with a policy has its month bounds in the policy's zone: premake and this function agree */
	std::string tz;
	bool archives = false;
	{
		/*
		 * The policy's zone and action, by the policy table's key alone
		 * (LoadPolicies would also read every managed set's partition
		 * token: a cost that grows with the partitions in the database, paid
		 * on every call).
		 */
		pg::SpiResult r = pg::AsExtensionOwner([&] {
			return pg::SpiExec("SELECT p.timezone, p.action OPERATOR(pg_catalog.=) 'archive' FROM upkeep.policy p "
			                   "WHERE p.relid OPERATOR(pg_catalog.=) $1",
			                   {pg::SpiValue::RegClass(parent_oid)}, pg::SpiMode::ReadOnly);
		});
		if (!r.rows.empty()) {
			archives = r.BoolAt(0, 1);
			if (tz.empty() && !r.IsNull(0, 0))
				tz = r.At(0, 0);
		}
		if (tz.empty())
			tz = pg::g_partition_timezone;
	}
	/* 1. ownership from the catalog row, no lock yet */
	pg::RelInfo rel = pg::GetRelation(parent_oid);
	RequireOwner(rel);
	(void)RequireMonthlyPartitionable(rel);

	/*
	 * 2. bounded lock, then look again: the table may have changed hands or
	 * vanished meanwhile.  SHARE UPDATE EXCLUSIVE on the parent (ATTACH's
	 * lock) blocks no reader or writer, so waiting for it in the queue holds
	 * up nobody but other partition DDL.  A DEFAULT partition must be locked
	 * ACCESS EXCLUSIVE as well: that one is only tried, together with the
	 * parent's, never queued in front of the application's readers.
	 */
	return pg::InContext(pg::EnterPinnedSettings(), [&] {
		if (pg::DefaultPartitionOf(parent_oid) == InvalidOid)
			pg::PgCall([&] { LockRelationOid(parent_oid, ShareUpdateExclusiveLock); });
		else
			(void)LockForPartitionChange(parent_oid, pg::kShareUpdateExclusiveLock, {});
		rel = pg::GetRelation(parent_oid);
		RequireOwner(rel);
		const PartitionedTable t = RequireMonthlyPartitionable(rel);

		bool created = false;
		return EnsureMonthPartitionLocked(t, ym, tz, archives, &created, moved);
	});
}

std::vector<pg::ChildPartition>
ExpiredPartitionsOf(const std::vector<pg::ChildPartition> &children, int64_t cutoff_key) {
	std::vector<const pg::ChildPartition *> ranged;
	std::vector<int64_t> uppers;
	for (const auto &c : children)
		if (!c.is_default) {
			ranged.push_back(&c);
			uppers.push_back(c.upper.value);
		}
	std::vector<pg::ChildPartition> expired;
	for (size_t i : core::ExpiredPartitions(uppers, cutoff_key))
		expired.push_back(*ranged[i]);
	return expired;
}

} // namespace upkeep::maint
