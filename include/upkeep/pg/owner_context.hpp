/*
 * upkeep/pg/owner_context.hpp
 *
 * How every statement pg_upkeep runs against a user's table executes: as the
 * table's owner, inside PostgreSQL's security-restricted operation (as VACUUM,
 * ANALYZE and amcheck do), with a bounded lock_timeout and the search_path the
 * owner gets when logging in to this database (OwnerLoginSearchPath), all in
 * a new GUC nest level so nothing leaks into the caller's session.  An owner's
 * trigger, default or index expression thus never runs with the caller's (or
 * the worker's) privileges, and sees the owner's path, never the caller's: it
 * behaves as in the owner's own sessions, and no caller can redirect it.
 * pg_upkeep's own SQL in that context is fully qualified and does not depend
 * on that path (sql/15_hostile_search_path.sql gives owners a hostile one).
 *
 * The extension owner's context (extension.hpp, for pg_upkeep's own catalog
 * writes) and EnterPinnedSettings keep search_path pinned to pg_catalog,
 * pg_temp (or upkeep.debug_search_path, which replaces only that pin).
 *
 * Leaving is explicit.  If an error escapes instead, the (sub)transaction
 * abort restores the user id, security context and GUCs by itself.
 */
#pragma once

#include <string>
#include <type_traits>
#include <utility>

extern "C" {
#include "postgres.h"
}

namespace upkeep::pg {

struct OwnerContext {
	Oid saved_user;
	int saved_sec_context;
	int guc_nest_level;
};

/*
 * Opens a GUC nest level, pins search_path (PinnedSearchPath) and
 * lock_timeout, and, when `user` is valid, becomes `user` with the given extra
 * security flags.
 */
OwnerContext EnterUserContext(Oid user, int sec_flags);
/* Pins search_path and lock_timeout only (no user switch). */
OwnerContext EnterPinnedSettings();
/*
 * Becomes `owner` in a security-restricted operation, with the owner's login
 * search_path and lock_timeout bounded, in a new GUC nest level.
 */
OwnerContext EnterOwnerContext(Oid owner);

/*
 * The search_path `owner` gets when logging in to this database, as
 * PostgreSQL's process_settings() gives it: ALTER ROLE owner IN DATABASE,
 * else ALTER ROLE owner, else ALTER DATABASE, else ALTER ROLE ALL (the last
 * search_path entry of a setting array winning), else the server default
 * (configuration files, command line, else "$user", public).  Never the
 * caller's session, role or client settings.  "$user" then means the owner,
 * who is current_user in the context.  pg_temp is appended last unless the
 * path names it: the calling session's temporary tables never shadow the
 * owner's.  Kept per owner while an OwnerPathRun is open.
 */
std::string OwnerLoginSearchPath(Oid owner);

/*
 * While one is alive, looked-up login paths are reused: one catalog lookup per
 * owner per run (not per batch), and one read of the server default.  A change
 * made during the run applies from the next run.
 */
class OwnerPathRun {
  public:
	OwnerPathRun();
	~OwnerPathRun();
	OwnerPathRun(const OwnerPathRun &) = delete;
	OwnerPathRun &operator=(const OwnerPathRun &) = delete;
};
void LeaveOwnerContext(const OwnerContext &ctx);

/* Runs fn() inside an entered context and always leaves it. */
template <typename Fn>
auto
InContext(OwnerContext ctx, Fn &&fn) -> decltype(fn()) {
	try {
		if constexpr (std::is_void_v<decltype(fn())>) {
			fn();
			LeaveOwnerContext(ctx);
		} else {
			auto result = fn();
			LeaveOwnerContext(ctx);
			return result;
		}
	} catch (...) {
		LeaveOwnerContext(ctx);
		throw;
	}
}

/* Runs fn() as `owner` (see above) and always leaves the context. */
template <typename Fn>
auto
AsOwner(Oid owner, Fn &&fn) -> decltype(fn()) {
	return InContext(EnterOwnerContext(owner), std::forward<Fn>(fn));
}

/* The effective lock_timeout (ms) maintenance uses: upkeep.lock_timeout unless the session's is tighter. */
int EffectiveLockTimeoutMs();

/* Current user (GetUserId) and whether it may act as the owner of `relid` (owner, member, or superuser). */
Oid CurrentUser();
bool MayActAsOwner(Oid relid, Oid roleid);
/*
 * Whether roleid may run the maintenance of `relid` (its policy, as its
 * owner): MayActAsOwner, or from PostgreSQL 17 the MAINTAIN privilege on it
 * (GRANT MAINTAIN, pg_maintain), as for VACUUM and ANALYZE.  Changing the
 * policy, archive_table() and create_monthly_partition() stay MayActAsOwner.
 */
bool MayMaintain(Oid relid, Oid roleid);
bool IsSuperuser(Oid roleid);

} // namespace upkeep::pg
