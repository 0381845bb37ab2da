/*
 * upkeep/pg/owner_context.hpp
 *
 * How every statement pg_upkeep runs against a user's table executes: as the
 * table's owner, inside PostgreSQL's security-restricted operation (as VACUUM,
 * ANALYZE and amcheck do), with search_path pinned to pg_catalog, pg_temp and
 * a bounded lock_timeout, all in a new GUC nest level so nothing leaks into
 * the caller's session.  An owner's trigger, default or index expression thus
 * never runs with the caller's (or the worker's) privileges.
 *
 * Leaving is explicit.  If an error escapes instead, the (sub)transaction
 * abort restores the user id, security context and GUCs by itself.
 */
#pragma once

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
 * Opens a GUC nest level, pins search_path and lock_timeout, and, when
 * `user` is valid, becomes `user` with the given extra security flags.
 */
OwnerContext EnterUserContext(Oid user, int sec_flags);
/* Pins search_path and lock_timeout only (no user switch). */
OwnerContext EnterPinnedSettings();
/* Pins settings and becomes `owner` in a security-restricted operation. */
OwnerContext EnterOwnerContext(Oid owner);
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
bool IsSuperuser(Oid roleid);

} // namespace upkeep::pg
