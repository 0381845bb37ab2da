/*
 * upkeep/maint/partitions.hpp
 *
 * Monthly range partitions: create one month (create_monthly_partition) and
 * the checks shared with premake and retention.
 */
#pragma once

#include <optional>
#include <string>

#include "upkeep/core/manageable.hpp"
#include "upkeep/core/calendar.hpp"
#include "upkeep/pg/catalog.hpp"
#include "upkeep/pg/table_lock.hpp"
#include "upkeep/pg/time_keys.hpp"

namespace upkeep::maint {

/* A range-partitioned table with a single date/timestamp/timestamptz column key. */
struct PartitionedTable {
	pg::RelInfo rel;
	pg::PartitionKey key;
	pg::KeyKind kind;
};

/*
 * Validates that `rel` can hold monthly partitions; throws a PgError with the
 * right SQLSTATE otherwise (not partitioned, not RANGE, multi-column or
 * expression key, unsupported key type).
 */
PartitionedTable RequireMonthlyPartitionable(const pg::RelInfo &rel);

/*
 * The expired partitions of a set, from its children in bound order (as
 * pg::ListRangePartitions gives them): never the DEFAULT, never the newest
 * range partition (core::ExpiredPartitions).
 */
std::vector<pg::ChildPartition> ExpiredPartitionsOf(const std::vector<pg::ChildPartition> &children,
                                                    int64_t cutoff_key);

/* Throws 42501 unless the current user owns `rel` (or is a member of its owner, or superuser). */
void RequireOwner(const pg::RelInfo &rel);

/* Why pg_upkeep may not manage `rel` (core::ManageRefusal), or None. */
core::TableRefusal ManageRefusal(const pg::RelInfo &rel);
/*
 * Refuses a table pg_upkeep may not manage (set_policy, archive_table), with
 * the reason; `explain` adds a DETAIL saying why the rule is so.
 */
void RequireManageableTable(const pg::RelInfo &rel, bool explain = true);

/* create_monthly_partition()'s month: the one containing `pg_date`, which must be finite and partitionable. */
core::YearMonth PartitionMonthArg(int32_t pg_date);

/*
 * The partition of `parent_oid` for month `ym`, created if needed (inside
 * the caller's SPI connection; the SQL entry point is in sql_api.cpp).  The
 * zone is the policy's, else upkeep.partition_timezone.  `*moved` says what
 * was moved out of the DEFAULT partition, if anything.
 */
Oid CreateMonthlyPartition(Oid parent_oid, core::YearMonth ym, std::string *moved);

/*
 * Same, for a caller that already validated ownership and holds SHARE
 * UPDATE EXCLUSIVE on the parent and ACCESS EXCLUSIVE on its DEFAULT
 * partition, if any (premake: LockForPartitionChange).  Creates the table
 * apart and ATTACHes it.  Returns the partition and whether it was created
 * now.  `bounds_check`: give the new partition a CHECK repeating its bounds,
 * so it can later move to an archive without a validation scan (done for
 * sets whose policy archives).  `moved` (optional): what was moved out of
 * the DEFAULT partition ("moved N rows from default partition ... into
 * ..."), or empty -- for the caller to announce once its work is kept.
 */
Oid EnsureMonthPartitionLocked(const PartitionedTable &table, core::YearMonth ym, const std::string &tz,
                               bool bounds_check, bool *created, std::string *moved = nullptr);

/*
 * The CHECK constraint repeating a partition's bounds, which lets it be
 * attached elsewhere (to an archive) without a validation scan: its name,
 * <partition>_month_bounds (unquoted; one name per partition, because
 * PostgreSQL's DDL slows down with many same-named CHECKs in a schema), and
 * its expression for [lower, upper) given as SQL literals (lower empty:
 * MINVALUE).
 */
std::string BoundsConstraintName(const std::string &partition_name);
std::string BoundsCheck(const PartitionedTable &t, const std::string &lower_literal, const std::string &upper_literal);

/*
 * Before a partition change in a run (DROP, DETACH, a move to the archive,
 * premake's ATTACH): takes the locks PostgreSQL will take --
 * `parent` in `parent_mode`, each of `parts` and the parent's DEFAULT
 * partition ACCESS EXCLUSIVE, and `also` -- all at once or none, never
 * waiting while holding one (pg::LockAllOrNone), within upkeep.lock_timeout.
 * Then looks again by OID: `parts` come back with their current names, and
 * those that are no longer partitions of `parent` with the same bounds (or
 * are gone) are left out.  The parent's current description comes back too.
 */
struct PartitionChange {
	pg::RelInfo parent;
	std::vector<pg::ChildPartition> parts;
	size_t gone = 0; /* wanted, but changed or gone meanwhile */
};
PartitionChange LockForPartitionChange(Oid parent, int parent_mode, const std::vector<pg::ChildPartition> &parts,
                                       const std::vector<pg::RelLock> &also = {});

} // namespace upkeep::maint
