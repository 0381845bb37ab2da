#pragma once
/*
 * include/upkeep/pg/compat.hpp
 *
 * What differs between the PostgreSQL majors pg_upkeep builds against --
 * 15, 17 and 18 -- in one place, as pg_cron and pgvector keep theirs.  The
 * rest of the tree calls these and never tests PG_VERSION_NUM itself; a new
 * major adds its #if here, nowhere else.
 *
 * Include it after the other PostgreSQL headers, and those after the
 * standard and C++ headers (port.h renames the printf family with macros,
 * which breaks <cstdio> included after it).  Everything here is C-style: from C++ frames, call it
 * inside PgCall like any PostgreSQL function.
 *
 * Not here because no #if is needed:
 *  - 18 removed pg_attribute_noreturn(): the bgworker mains use C++11's
 *    [[noreturn]], which every compiler we support understands.
 *  - 16+ build modules with -fvisibility=hidden and make PGDLLEXPORT mean
 *    default visibility; our shim's `#pragma GCC visibility push(default)`
 *    (on 15, where PGDLLEXPORT is empty, -fvisibility=hidden would otherwise
 *    hide every entry point) is right on 15 and harmless after.
 *  - 17's injection points: Debian builds its servers without
 *    --enable-injection-points (pg_config.h: USE_INJECTION_POINTS undefined)
 *    and does not package the injection_points test module, so the fault
 *    tests keep upkeep.fault_points (fault_point.hpp) on every major.
 */
extern "C" {
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_database.h"
#include "fmgr.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/guc_tables.h"
}

#if PG_VERSION_NUM < 150000 || PG_VERSION_NUM >= 190000
#error "pg_upkeep builds against PostgreSQL 15 to 18"
#endif

/*
 * The magic block.  18's PG_MODULE_MAGIC_EXT also records the module's name
 * and version, which pg_get_loaded_modules() shows (designated initialisers
 * in declaration order: g++ accepts them in C++17).
 */
#if PG_VERSION_NUM >= 180000
#define UPKEEP_MODULE_MAGIC(module_name, module_version)                                                               \
	PG_MODULE_MAGIC_EXT(.name = module_name, .version = module_version)
#else
#define UPKEEP_MODULE_MAGIC(module_name, module_version) PG_MODULE_MAGIC
#endif

namespace upkeep::pg::compat {

/*
 * Whether roleid may act as the owner of a table or a database: the owner, a
 * role with the owner's privileges (membership), or a superuser.  16 replaced
 * pg_class_ownercheck / pg_database_ownercheck with object_ownercheck.
 */
inline bool
RelationOwnerCheck(Oid relid, Oid roleid) {
#if PG_VERSION_NUM >= 160000
	return object_ownercheck(RelationRelationId, relid, roleid);
#else
	return pg_class_ownercheck(relid, roleid);
#endif
}

inline bool
DatabaseOwnerCheck(Oid dboid, Oid roleid) {
#if PG_VERSION_NUM >= 160000
	return object_ownercheck(DatabaseRelationId, dboid, roleid);
#else
	return pg_database_ownercheck(dboid, roleid);
#endif
}

/* This backend's local transaction id (17 moved it into PGPROC.vxid). */
inline LocalTransactionId
CurrentLocalXid() {
#if PG_VERSION_NUM >= 170000
	return MyProc->vxid.lxid;
#else
	return MyProc->lxid;
#endif
}

/*
 * 17's MAINTAIN privilege on a table (GRANT MAINTAIN ON t TO r, or membership
 * in pg_maintain): what VACUUM, ANALYZE, CLUSTER, REINDEX and LOCK TABLE ask
 * of a non-owner since 17.  Before 17 nobody holds it.
 */
inline bool
HoldsMaintainPrivilege(Oid relid, Oid roleid) {
#if PG_VERSION_NUM >= 170000
	return pg_class_aclcheck(relid, roleid, ACL_MAINTAIN) == ACLCHECK_OK;
#else
	(void)relid;
	(void)roleid;
	return false;
#endif
}

/* The privileges a table's ACL can hold, as aclexplode() names them. */
inline constexpr const char *kTablePrivileges[] = {
    "SELECT",   "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER",
#if PG_VERSION_NUM >= 170000
    "MAINTAIN",
#endif
};

/* Whether this backend holds `mode` itself on `tag` (17 added "or a stronger mode"; we ask for exactly this one). */
inline bool
HoldsLock(const LOCKTAG *tag, LOCKMODE mode) {
#if PG_VERSION_NUM >= 170000
	return LockHeldByMe(tag, mode, false);
#else
	return LockHeldByMe(tag, mode);
#endif
}

/*
 * The GUC variable named `name` (NULL when unknown), without placeholders or
 * errors.  15 has no exported lookup: scan get_guc_variables(); 16 exported
 * find_option() (and made get_guc_variables() build a palloc'd copy).
 */
inline struct config_generic *
FindConfigVariable(const char *name) {
#if PG_VERSION_NUM >= 160000
	return find_option(name, false, true, ERROR);
#else
	struct config_generic **vars = get_guc_variables();
	const int nvars = GetNumConfigOptions();
	for (int i = 0; i < nvars; i++)
		if (pg_strcasecmp(vars[i]->name, name) == 0)
			return vars[i];
	return NULL;
#endif
}

} // namespace upkeep::pg::compat
