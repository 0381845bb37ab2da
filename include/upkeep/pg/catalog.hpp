/*
 * upkeep/pg/catalog.hpp
 *
 * Read-only facts about relations, straight from the system caches: names,
 * kinds, owners, partition keys and partition bounds as the catalog stores
 * them (never guessed from names).  All calls go through PgCall.
 */
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

extern "C" {
#include "postgres.h"
}

namespace upkeep::pg {

struct RelInfo {
	Oid oid = InvalidOid;
	std::string name;    /* relname */
	std::string nspname; /* schema name */
	Oid nspoid = InvalidOid;
	char relkind = 0;     /* RELKIND_* */
	char persistence = 0; /* RELPERSISTENCE_* */
	Oid owner = InvalidOid;
	bool ispartition = false;
	bool has_acl = false;  /* relacl is not NULL: there are grants to copy */
	std::string qualified; /* quote_qualified_identifier(nspname, name) */
};

/* Relation facts by OID; nullopt if no such relation. */
std::optional<RelInfo> LookupRelation(Oid relid);
/* pg_class.reltuples (-1 when never vacuumed or analyzed; nullopt when there is no such relation), from the syscache.
 */
std::optional<double> RelTuples(Oid relid);
/* Same, but raises 42P01 naming the OID when it is gone. */
RelInfo GetRelation(Oid relid);

/* OID of schema.relname, InvalidOid when absent. */
Oid RelationByName(Oid nspoid, const std::string &relname);

/* The single-column partition key of a partitioned table. */
struct PartitionKey {
	char strategy = 0; /* PARTITION_STRATEGY_RANGE / LIST / HASH */
	int natts = 0;
	bool is_expression = false;
	int16_t attnum = 0;
	Oid type = InvalidOid; /* type of the key column */
	Oid base_type = InvalidOid;
	std::string column; /* attname */
};
PartitionKey GetPartitionKey(Oid parent);

/*
 * A range bound in the key's own unit: days since 2000-01-01 for date,
 * microseconds since 2000-01-01 for timestamp and timestamptz.  MINVALUE and
 * MAXVALUE map to the int64 extremes, which also order correctly against
 * the types' -infinity/+infinity encodings.
 */
struct RangeBound {
	int64_t value;
	static RangeBound
	Lowest() {
		return {std::numeric_limits<int64_t>::min()};
	}
	static RangeBound
	Highest() {
		return {std::numeric_limits<int64_t>::max()};
	}
};

struct ChildPartition {
	Oid oid = InvalidOid;
	std::string name;
	std::string qualified;
	bool is_default = false;
	RangeBound lower{0}, upper{0}; /* [lower, upper) */
	Oid owner = InvalidOid;
};

/* The DEFAULT partition of a partitioned table (InvalidOid: none). */
Oid DefaultPartitionOf(Oid parent);

/* Attached partitions of a range-partitioned table with a date/timestamp(tz) key, sorted by lower bound. */
std::vector<ChildPartition> ListRangePartitions(Oid parent);

/* Columns of a relation in attnum order, without dropped ones. */
struct Column {
	int16_t attnum;
	std::string name;
	Oid type;
	int32_t typmod;
	bool generated; /* GENERATED ALWAYS AS (...) STORED */
	bool identity;
	bool notnull;
	std::string type_sql; /* format_type_with_typemod */
};
std::vector<Column> GetColumns(Oid relid);

/* Quote one identifier / schema.name (PostgreSQL's quote_identifier rules). */
std::string QuoteIdent(const std::string &ident);
std::string QuoteQualified(const std::string &nsp, const std::string &name);

/* Role name for an OID, quoted for SQL; PUBLIC for InvalidOid. */
std::string RoleSql(Oid roleid);
std::string RoleName(Oid roleid);

/* Largest prefix length <= limit that does not split a character of the database encoding. */
size_t ClipToEncoding(const std::string &s, size_t limit);

bool InRecovery();

} // namespace upkeep::pg
