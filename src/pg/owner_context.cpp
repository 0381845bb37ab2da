/*
 * src/pg/owner_context.cpp
 *
 * See upkeep/pg/owner_context.hpp.
 */
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/owner_context.hpp"

extern "C" {
#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_db_role_setting.h"
#include "catalog/pg_type.h"
#include "miscadmin.h"
#include "nodes/pg_list.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/guc_tables.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/varlena.h"
}

#include "upkeep/pg/compat.hpp"
#include "upkeep/pg/setting.hpp"

namespace upkeep::pg {

int
EffectiveLockTimeoutMs() {
	int ours = g_lock_timeout_ms;
	int session = LockTimeout;
	if (ours <= 0)
		return session;
	if (session > 0 && session < ours)
		return session;
	return ours;
}

namespace {

void
PinSettings(const char *search_path, int lock_timeout_ms) {
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", lock_timeout_ms);
	SetForLevel("search_path", search_path);
	SetForLevel("lock_timeout", buf);
}

OwnerContext
Enter(Oid user, int sec_flags, const char *search_path) {
	OwnerContext ctx{};
	int timeout = EffectiveLockTimeoutMs();
	PgCall([&] {
		GetUserIdAndSecContext(&ctx.saved_user, &ctx.saved_sec_context);
		ctx.guc_nest_level = NewGUCNestLevel();
		PinSettings(search_path, timeout);
		if (OidIsValid(user))
			SetUserIdAndSecContext(user, ctx.saved_sec_context | sec_flags);
	});
	return ctx;
}

/*
 * ---- The owner's login search_path ----
 *
 * What PostgreSQL's process_settings() applies when `owner` logs in to this
 * database: pg_db_role_setting rows (this database, owner), (any, owner),
 * (this database, any), (any, any), the first that sets search_path winning
 * (later sources override earlier ones at login); then the server default.
 */

/* The last search_path=... entry of one setconfig array (ProcessGUCArray: later entries win), or NULL.  C-style. */
char *
SearchPathInArray(ArrayType *array) {
	Datum *elems;
	bool *nulls;
	int n;
	char *found = NULL;
	deconstruct_array(array, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	for (int i = 0; i < n; i++) {
		if (nulls[i])
			continue;
		char *entry = TextDatumGetCString(elems[i]);
		/* ParseLongOption's split: name up to the first '=', '-' read as '_', names compared without case */
		const size_t eq = strcspn(entry, "=");
		if (entry[eq] != '=')
			continue; /* PostgreSQL skips such an entry too */
		entry[eq] = '\0';
		for (char *c = entry; *c; c++)
			if (*c == '-')
				*c = '_';
		if (pg_strcasecmp(entry, "search_path") == 0)
			found = entry + eq + 1;
	}
	return found;
}

/* search_path as set for (db, role) in pg_db_role_setting, or NULL.  C-style. */
char *
SearchPathSetting(Relation settings, Oid db, Oid role) {
	ScanKeyData keys[2];
	char *found = NULL;
	ScanKeyInit(&keys[0], Anum_pg_db_role_setting_setdatabase, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(db));
	ScanKeyInit(&keys[1], Anum_pg_db_role_setting_setrole, BTEqualStrategyNumber, F_OIDEQ, ObjectIdGetDatum(role));
	SysScanDesc scan = systable_beginscan(settings, DbRoleSettingDatidRolidIndexId, true, NULL, 2, keys);
	HeapTuple tuple;
	while (HeapTupleIsValid(tuple = systable_getnext(scan))) {
		bool isnull;
		Datum config = heap_getattr(tuple, Anum_pg_db_role_setting_setconfig, RelationGetDescr(settings), &isnull);
		if (!isnull) {
			char *value = SearchPathInArray(DatumGetArrayTypeP(config));
			if (value != NULL)
				found = value;
		}
	}
	systable_endscan(scan);
	return found;
}

/* The owner's search_path from pg_db_role_setting, most specific first; NULL if none sets it.  C-style. */
char *
LoginSearchPathSetting(Oid owner) {
	Relation settings = table_open(DbRoleSettingRelationId, AccessShareLock);
	char *found = SearchPathSetting(settings, MyDatabaseId, owner); /* ALTER ROLE owner IN DATABASE db */
	if (found == NULL)
		found = SearchPathSetting(settings, InvalidOid, owner); /* ALTER ROLE owner */
	if (found == NULL)
		found = SearchPathSetting(settings, MyDatabaseId, InvalidOid); /* ALTER DATABASE db */
	if (found == NULL)
		found = SearchPathSetting(settings, InvalidOid, InvalidOid); /* ALTER ROLE ALL */
	table_close(settings, AccessShareLock);
	return found;
}

/*
 * The server default: what a new session gets before any role or database
 * setting -- postgresql.conf (and its includes), postgresql.auto.conf, the
 * command line, else the built-in "$user", public.  C-style.
 *
 * PostgreSQL keeps no copy of it once a session's own settings replaced it,
 * so: while this session's reset value still comes from the files or the
 * command line, that value is the server default as loaded; otherwise (the
 * session's role, database or client set search_path -- the worker's and
 * pg_cron's connections included) the configuration files are read as
 * ProcessConfigFile reads them, the last entry winning.  In that second case
 * a search_path given only on the server's command line is not seen: the
 * files' value (or the built-in one) applies.
 */
char *
ServerDefaultSearchPath() {
	struct config_string *conf = (struct config_string *)compat::FindConfigVariable("search_path");
	if (conf == NULL || conf->gen.vartype != PGC_STRING)
		elog(ERROR, "search_path is not a known configuration parameter");
	if (conf->gen.reset_source <= PGC_S_ARGV)
		return pstrdup(conf->reset_val != NULL ? conf->reset_val : conf->boot_val);

	char *found = conf->boot_val != NULL ? pstrdup(conf->boot_val) : pstrdup("");
	ConfigVariable *head = NULL;
	ConfigVariable *tail = NULL;
	/* as ProcessConfigFileInternal: files that do not parse count for nothing (the parser logs why) */
	bool parsed = ParseConfigFile(ConfigFileName, true, NULL, 0, 0, LOG, &head, &tail);
	if (parsed && DataDir != NULL)
		parsed = ParseConfigFile(PG_AUTOCONF_FILENAME, false, NULL, 0, 0, LOG, &head, &tail);
	if (parsed)
		for (ConfigVariable *item = head; item != NULL; item = item->next)
			if (item->name != NULL && item->value != NULL && pg_strcasecmp(item->name, "search_path") == 0)
				found = item->value;
	return found;
}

/* Whether a search_path names pg_temp (unparsable: no; applying it then fails with PostgreSQL's error).  C-style. */
bool
NamesPgTemp(const char *path) {
	char *copy = pstrdup(path);
	List *names = NIL;
	bool named = false;
	if (SplitIdentifierString(copy, ',', &names)) {
		ListCell *lc;
		foreach (lc, names)
			if (strcmp((const char *)lfirst(lc), "pg_temp") == 0)
				named = true;
	}
	list_free(names);
	pfree(copy);
	return named;
}

/*
 * Looked-up paths, kept while an OwnerPathRun is open: one lookup per owner
 * (and one read of the server default) per run, not per batch.  Outside a
 * run nothing is kept.
 */
struct LoginPathCache {
	int runs_open = 0;
	std::optional<std::string> server_default;
	std::vector<std::pair<Oid, std::string>> owners;
};
LoginPathCache g_login_paths;

/*
 * Runs a C-style lookup that allocates freely in a scratch memory context and
 * returns its string (or NULL) copied out; the scratch context goes with
 * everything else it left.
 */
template <typename Lookup>
char *
InScratchContext(Lookup lookup) {
	MemoryContext scratch =
	    AllocSetContextCreate(CurrentMemoryContext, "pg_upkeep search_path lookup", ALLOCSET_SMALL_SIZES);
	MemoryContext old = MemoryContextSwitchTo(scratch);
	char *found = lookup();
	MemoryContextSwitchTo(old);
	char *copy = found != NULL ? pstrdup(found) : NULL;
	MemoryContextDelete(scratch);
	return copy;
}

/* A palloc'd string as std::optional (NULL: nullopt), freed. */
std::optional<std::string>
TakeString(char *palloced) {
	if (palloced == nullptr)
		return std::nullopt;
	std::string s(palloced);
	PgCall([&] { pfree(palloced); });
	return s;
}

std::string
ServerDefault() {
	if (g_login_paths.runs_open > 0 && g_login_paths.server_default)
		return *g_login_paths.server_default;
	std::string value = TakeString(PgCall([] { return InScratchContext(ServerDefaultSearchPath); })).value_or("");
	if (g_login_paths.runs_open > 0)
		g_login_paths.server_default = value;
	return value;
}

} // namespace

std::string
OwnerLoginSearchPath(Oid owner) {
	if (g_login_paths.runs_open > 0)
		for (const auto &entry : g_login_paths.owners)
			if (entry.first == owner)
				return entry.second;
	std::optional<std::string> path =
	    TakeString(PgCall([&] { return InScratchContext([owner] { return LoginSearchPathSetting(owner); }); }));
	if (!path)
		path = ServerDefault();
	/*
	 * The calling session's temporary schema is not the owner's: left
	 * implicit, PostgreSQL would search it first for tables.  Named last, a
	 * temporary table of the caller never shadows one of the owner's path.
	 */
	if (!PgCall([&] { return NamesPgTemp(path->c_str()); }))
		path = path->find_first_not_of(" \t\n\r") == std::string::npos ? std::string("pg_temp") : *path + ", pg_temp";
	if (g_login_paths.runs_open > 0)
		g_login_paths.owners.emplace_back(owner, *path);
	return *path;
}

OwnerPathRun::OwnerPathRun() {
	if (g_login_paths.runs_open++ == 0) {
		g_login_paths.server_default.reset();
		g_login_paths.owners.clear();
	}
}

OwnerPathRun::~OwnerPathRun() {
	if (--g_login_paths.runs_open == 0) {
		g_login_paths.server_default.reset();
		g_login_paths.owners.clear();
	}
}

OwnerContext
EnterUserContext(Oid user, int sec_flags) {
	return Enter(user, sec_flags, PinnedSearchPath());
}

OwnerContext
EnterPinnedSettings() {
	return EnterUserContext(InvalidOid, 0);
}

OwnerContext
EnterOwnerContext(Oid owner) {
	const std::string path = OwnerLoginSearchPath(owner);
	return Enter(owner, SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION, path.c_str());
}

void
LeaveOwnerContext(const OwnerContext &ctx) {
	PgCall([&] {
		AtEOXact_GUC(true, ctx.guc_nest_level);
		SetUserIdAndSecContext(ctx.saved_user, ctx.saved_sec_context);
	});
}

Oid
CurrentUser() {
	return GetUserId();
}

bool
MayActAsOwner(Oid relid, Oid roleid) {
	return PgCall([&] { return compat::RelationOwnerCheck(relid, roleid); });
}

bool
MayMaintain(Oid relid, Oid roleid) {
	return PgCall(
	    [&] { return compat::RelationOwnerCheck(relid, roleid) || compat::HoldsMaintainPrivilege(relid, roleid); });
}

bool
IsSuperuser(Oid roleid) {
	return PgCall([&] { return superuser_arg(roleid); });
}

} // namespace upkeep::pg
