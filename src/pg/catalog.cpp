/*
 * src/pg/catalog.cpp
 *
 * System-cache readers (see upkeep/pg/catalog.hpp).  Each helper in the
 * anonymous namespace is a C-style frame run under PgCall; it writes its
 * findings into a caller-owned struct.
 */
#include <algorithm>

#include "upkeep/pg/catalog.hpp"
#include "upkeep/pg/error_bridge.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "catalog/pg_attribute.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_class.h"
#include "catalog/pg_inherits.h"
#include "catalog/partition.h"
#include "catalog/pg_partitioned_table.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "nodes/primnodes.h"
#include "access/relation.h"
#include "access/table.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "storage/lmgr.h"
#include "utils/builtins.h"
#include "utils/partcache.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
}

namespace upkeep::pg {

namespace {

Oid
get_rel_namespace_safe(Oid relid) {
	return PgCall([&] { return get_rel_namespace(relid); });
}

/* Schema name by OID ("" when it vanished). */
std::string
SchemaName(Oid nspoid) {
	const char *nsp = PgCall([&] { return (const char *)get_namespace_name(nspoid); });
	return nsp ? std::string(nsp) : std::string();
}

struct RelRaw {
	bool found;
	NameData relname;
	NameData nspname;
	Oid nspoid;
	char relkind;
	char persistence;
	Oid owner;
	bool ispartition;
	bool has_acl;
};

void
ReadRel(Oid relid, RelRaw *out) {
	HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	out->found = HeapTupleIsValid(tup);
	if (!out->found)
		return;
	Form_pg_class form = (Form_pg_class)GETSTRUCT(tup);
	out->relname = form->relname;
	out->nspoid = form->relnamespace;
	out->relkind = form->relkind;
	out->persistence = form->relpersistence;
	out->owner = form->relowner;
	out->ispartition = form->relispartition;
	bool acl_null = true;
	(void)SysCacheGetAttr(RELOID, tup, Anum_pg_class_relacl, &acl_null);
	out->has_acl = !acl_null;
	ReleaseSysCache(tup);
	char *nsp = get_namespace_name(out->nspoid);
	namestrcpy(&out->nspname, nsp ? nsp : "");
}

} // namespace

std::string
QuoteIdent(const std::string &ident) {
	return PgCall([&] { return std::string(quote_identifier(ident.c_str())); });
}

std::string
QuoteQualified(const std::string &nsp, const std::string &name) {
	return QuoteIdent(nsp) + "." + QuoteIdent(name);
}

std::optional<RelInfo>
LookupRelation(Oid relid) {
	RelRaw raw{};
	PgCall([&] { ReadRel(relid, &raw); });
	if (!raw.found)
		return std::nullopt;
	RelInfo info;
	info.oid = relid;
	info.name = NameStr(raw.relname);
	info.nspname = NameStr(raw.nspname);
	info.nspoid = raw.nspoid;
	info.relkind = raw.relkind;
	info.persistence = raw.persistence;
	info.owner = raw.owner;
	info.ispartition = raw.ispartition;
	info.has_acl = raw.has_acl;
	info.qualified = QuoteQualified(info.nspname, info.name);
	return info;
}

std::optional<double>
RelTuples(Oid relid) {
	return PgCall([&]() -> std::optional<double> {
		HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
		if (!HeapTupleIsValid(tup))
			return std::nullopt;
		const double n = ((Form_pg_class)GETSTRUCT(tup))->reltuples;
		ReleaseSysCache(tup);
		return n;
	});
}

RelInfo
GetRelation(Oid relid) {
	auto info = LookupRelation(relid);
	if (!info) {
		std::string msg = "relation with OID " + std::to_string(relid) + " does not exist";
		Throw(ERRCODE_UNDEFINED_TABLE, msg);
	}
	return *info;
}

Oid
RelationByName(Oid nspoid, const std::string &relname) {
	return PgCall([&] { return get_relname_relid(relname.c_str(), nspoid); });
}

namespace {

struct KeyRaw {
	bool found;
	char strategy;
	int natts;
	int16 attnum;
	Oid type;
	Oid base_type;
	NameData column;
};

void
ReadKey(Oid parent, KeyRaw *out) {
	HeapTuple tup = SearchSysCache1(PARTRELID, ObjectIdGetDatum(parent));
	out->found = HeapTupleIsValid(tup);
	if (!out->found)
		return;
	Form_pg_partitioned_table form = (Form_pg_partitioned_table)GETSTRUCT(tup);
	out->strategy = form->partstrat;
	out->natts = form->partnatts;
	out->attnum = form->partnatts >= 1 ? form->partattrs.values[0] : 0;
	ReleaseSysCache(tup);
	if (out->natts == 1 && out->attnum != 0) {
		char *name = get_attname(parent, out->attnum, false);
		namestrcpy(&out->column, name);
		out->type = get_atttype(parent, out->attnum);
		out->base_type = getBaseType(out->type);
	}
}

} // namespace

PartitionKey
GetPartitionKey(Oid parent) {
	KeyRaw raw{};
	PgCall([&] { ReadKey(parent, &raw); });
	if (!raw.found)
		Throw(ERRCODE_WRONG_OBJECT_TYPE, "relation is not partitioned");
	PartitionKey key;
	key.strategy = raw.strategy;
	key.natts = raw.natts;
	key.attnum = raw.attnum;
	key.is_expression = (raw.natts == 1 && raw.attnum == 0);
	key.type = raw.type;
	key.base_type = raw.base_type;
	if (raw.natts == 1 && raw.attnum != 0)
		key.column = NameStr(raw.column);
	return key;
}

namespace {

/* Bound value of one PartitionRangeDatum as int64 in the key's unit. C-style. */
int64
BoundValue(PartitionRangeDatum *prd) {
	if (prd->kind == PARTITION_RANGE_DATUM_MINVALUE)
		return PG_INT64_MIN;
	if (prd->kind == PARTITION_RANGE_DATUM_MAXVALUE)
		return PG_INT64_MAX;
	Const *c = castNode(Const, prd->value);
	Oid base = getBaseType(c->consttype);
	if (base == DATEOID)
		return (int64)DatumGetInt32(c->constvalue);
	if (base == TIMESTAMPOID || base == TIMESTAMPTZOID)
		return DatumGetInt64(c->constvalue);
	elog(ERROR, "pg_upkeep: unsupported partition bound type %u", c->consttype);
	return 0;
}

struct ChildRaw {
	Oid oid;
	NameData name;
	bool is_default;
	int64 lower;
	int64 upper;
	Oid owner;
};

/* A range bound of the relcache's partition descriptor as int64 in the key's unit. C-style. */
int64
DescBoundValue(PartitionBoundInfo bi, int k, bool is_date) {
	if (bi->kind[k][0] == PARTITION_RANGE_DATUM_MINVALUE)
		return PG_INT64_MIN;
	if (bi->kind[k][0] == PARTITION_RANGE_DATUM_MAXVALUE)
		return PG_INT64_MAX;
	return is_date ? (int64)DatumGetInt32(bi->datums[k][0]) : DatumGetInt64(bi->datums[k][0]);
}

/*
 * Children of a single-column range-partitioned `parent` from its cached
 * partition descriptor: bounds already parsed, nothing read from pg_class's
 * relpartbound text.  A warm backend (the worker) then lists a set's
 * partitions without parsing a node tree per partition.  -1 when the parent
 * cannot be locked at once (someone holds ACCESS EXCLUSIVE: we never wait
 * here) or is not of that kind; the caller then reads the catalog.  C-style.
 */
int
ReadChildrenFromDesc(Oid parent, ChildRaw **out) {
	if (!ConditionalLockRelationOid(parent, AccessShareLock))
		return -1;
	Relation rel = try_relation_open(parent, NoLock);
	if (rel == NULL) {
		UnlockRelationOid(parent, AccessShareLock);
		return -1;
	}
	::PartitionKey key = rel->rd_rel->relkind == RELKIND_PARTITIONED_TABLE ? RelationGetPartitionKey(rel) : NULL;
	const Oid base = key != NULL && key->partnatts == 1 ? getBaseType(key->parttypid[0]) : InvalidOid;
	if (key == NULL || key->strategy != PARTITION_STRATEGY_RANGE ||
	    (base != DATEOID && base != TIMESTAMPOID && base != TIMESTAMPTZOID)) {
		relation_close(rel, AccessShareLock);
		return -1;
	}
	PartitionDesc pd = RelationGetPartitionDesc(rel, true);
	PartitionBoundInfo bi = pd->boundinfo;
	const int nparts = pd->nparts;
	ChildRaw *all = (ChildRaw *)palloc0(sizeof(ChildRaw) * (nparts > 0 ? nparts : 1));
	for (int j = 0; j < nparts; j++)
		all[j].oid = pd->oids[j];
	if (bi != NULL) {
		if (bi->default_index >= 0)
			all[bi->default_index].is_default = true;
		/* bound k is the upper bound of partition indexes[k]; its lower bound is bound k - 1 */
		for (int k = 0; k < bi->ndatums; k++) {
			const int j = bi->indexes[k];
			if (j < 0)
				continue;
			all[j].upper = DescBoundValue(bi, k, base == DATEOID);
			all[j].lower = k > 0 ? DescBoundValue(bi, k - 1, base == DATEOID) : PG_INT64_MIN;
		}
	}
	relation_close(rel, AccessShareLock);

	int n = 0;
	for (int j = 0; j < nparts; j++) {
		HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(all[j].oid));
		if (!HeapTupleIsValid(tup))
			continue;
		Form_pg_class form = (Form_pg_class)GETSTRUCT(tup);
		all[n] = all[j];
		all[n].name = form->relname;
		all[n].owner = form->relowner;
		n++;
		ReleaseSysCache(tup);
	}
	*out = all;
	return n;
}

/* Children of `parent` with their bounds, in a palloc'd array. C-style. */
int
ReadChildren(Oid parent, ChildRaw **out) {
	const int from_desc = ReadChildrenFromDesc(parent, out);
	if (from_desc >= 0)
		return from_desc;
	List *children = find_inheritance_children(parent, NoLock);
	int n = list_length(children);
	ChildRaw *arr = (ChildRaw *)palloc0(sizeof(ChildRaw) * (n > 0 ? n : 1));
	int i = 0;
	ListCell *lc;
	foreach (lc, children) {
		Oid child = lfirst_oid(lc);
		HeapTuple tup = SearchSysCache1(RELOID, ObjectIdGetDatum(child));
		if (!HeapTupleIsValid(tup))
			continue;
		Form_pg_class form = (Form_pg_class)GETSTRUCT(tup);
		bool isnull;
		Datum d = SysCacheGetAttr(RELOID, tup, Anum_pg_class_relpartbound, &isnull);
		if (isnull) {
			ReleaseSysCache(tup);
			continue;
		}
		PartitionBoundSpec *spec = castNode(PartitionBoundSpec, stringToNode(TextDatumGetCString(d)));
		ChildRaw *c = &arr[i++];
		c->oid = child;
		c->name = form->relname;
		c->owner = form->relowner;
		c->is_default = spec->is_default;
		if (!spec->is_default && spec->strategy == PARTITION_STRATEGY_RANGE) {
			c->lower = BoundValue(castNode(PartitionRangeDatum, linitial(spec->lowerdatums)));
			c->upper = BoundValue(castNode(PartitionRangeDatum, linitial(spec->upperdatums)));
		}
		ReleaseSysCache(tup);
	}
	list_free(children);
	*out = arr;
	return i;
}

} // namespace

Oid
DefaultPartitionOf(Oid parent) {
	return PgCall([&] { return get_default_partition_oid(parent); });
}

std::vector<ChildPartition>
ListRangePartitions(Oid parent) {
	ChildRaw *raw = nullptr;
	int n = PgCall([&] { return ReadChildren(parent, &raw); });
	std::vector<ChildPartition> out;
	out.reserve(n);
	for (int i = 0; i < n; i++) {
		ChildPartition c;
		c.oid = raw[i].oid;
		c.name = NameStr(raw[i].name);
		c.is_default = raw[i].is_default;
		c.lower.value = raw[i].lower;
		c.upper.value = raw[i].upper;
		c.owner = raw[i].owner;
		/* a partition may live in another schema than its parent */
		c.qualified = QuoteQualified(SchemaName(get_rel_namespace_safe(c.oid)), c.name);
		out.push_back(std::move(c));
	}
	PgCall([&] { pfree(raw); });
	std::sort(out.begin(), out.end(), [](const ChildPartition &a, const ChildPartition &b) {
		if (a.is_default != b.is_default)
			return !a.is_default; /* default partition last */
		return a.lower.value < b.lower.value;
	});
	return out;
}

namespace {

struct ColumnRaw {
	int16 attnum;
	NameData name;
	Oid type;
	int32 typmod;
	bool generated;
	bool identity;
	bool notnull;
	char *type_sql;
};

int
ReadColumns(Oid relid, ColumnRaw **out) {
	int natts = 0;
	HeapTuple reltup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(reltup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	natts = ((Form_pg_class)GETSTRUCT(reltup))->relnatts;
	ReleaseSysCache(reltup);
	ColumnRaw *arr = (ColumnRaw *)palloc0(sizeof(ColumnRaw) * (natts > 0 ? natts : 1));
	int n = 0;
	for (int16 att = 1; att <= natts; att++) {
		HeapTuple tup = SearchSysCache2(ATTNUM, ObjectIdGetDatum(relid), Int16GetDatum(att));
		if (!HeapTupleIsValid(tup))
			continue;
		Form_pg_attribute a = (Form_pg_attribute)GETSTRUCT(tup);
		if (!a->attisdropped) {
			ColumnRaw *c = &arr[n++];
			c->attnum = a->attnum;
			c->name = a->attname;
			c->type = a->atttypid;
			c->typmod = a->atttypmod;
			c->generated = a->attgenerated != '\0';
			c->identity = a->attidentity != '\0';
			c->notnull = a->attnotnull;
			c->type_sql = format_type_with_typemod(a->atttypid, a->atttypmod);
		}
		ReleaseSysCache(tup);
	}
	*out = arr;
	return n;
}

} // namespace

std::vector<Column>
GetColumns(Oid relid) {
	ColumnRaw *raw = nullptr;
	int n = PgCall([&] { return ReadColumns(relid, &raw); });
	std::vector<Column> cols;
	cols.reserve(n);
	for (int i = 0; i < n; i++)
		cols.push_back(Column{raw[i].attnum, NameStr(raw[i].name), raw[i].type, raw[i].typmod, raw[i].generated,
		                      raw[i].identity, raw[i].notnull, raw[i].type_sql});
	PgCall([&] {
		for (int i = 0; i < n; i++)
			pfree(raw[i].type_sql);
		pfree(raw);
	});
	return cols;
}

std::string
RoleName(Oid roleid) {
	return PgCall([&] { return std::string(GetUserNameFromId(roleid, false)); });
}

std::string
RoleSql(Oid roleid) {
	if (roleid == InvalidOid)
		return "PUBLIC";
	return QuoteIdent(RoleName(roleid));
}

size_t
ClipToEncoding(const std::string &s, size_t limit) {
	if (s.size() <= limit)
		return s.size();
	return static_cast<size_t>(PgCall([&] { return pg_mbcliplen(s.c_str(), (int)s.size(), (int)limit); }));
}

bool
InRecovery() {
	return PgCall([] { return RecoveryInProgress(); });
}

} // namespace upkeep::pg
