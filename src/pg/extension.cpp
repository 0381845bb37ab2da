/*
 * src/pg/extension.cpp
 *
 * See upkeep/pg/extension.hpp.
 */
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/indexing.h"
#include "catalog/namespace.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/rel.h"
}

namespace upkeep::pg {

namespace {

/* pg_extension.extowner for pg_upkeep.  C-style. */
Oid
ReadExtensionOwner() {
	Oid ext = get_extension_oid("pg_upkeep", true);
	if (!OidIsValid(ext))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_OBJECT), errmsg("extension \"pg_upkeep\" is not installed")));
	Relation rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	ScanKeyInit(&key, Anum_pg_extension_oid, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(ext));
	SysScanDesc scan = systable_beginscan(rel, ExtensionOidIndexId, true, NULL, 1, &key);
	HeapTuple tup = systable_getnext(scan);
	Oid owner = HeapTupleIsValid(tup) ? ((Form_pg_extension)GETSTRUCT(tup))->extowner : InvalidOid;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return owner;
}

} // namespace

Oid
ExtensionOwner() {
	return PgCall([] { return ReadExtensionOwner(); });
}

Oid
ExtensionSchema() {
	return PgCall([] { return get_namespace_oid("upkeep", true); });
}

OwnerContext
EnterExtensionOwner() {
	return EnterUserContext(ExtensionOwner(), SECURITY_LOCAL_USERID_CHANGE);
}

} // namespace upkeep::pg
