/*
 * src/pg/owner_context.cpp
 *
 * See upkeep/pg/owner_context.hpp.
 */
#include <string>
#include <type_traits>

#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/owner_context.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/guc.h"
}

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
PinSettings(int lock_timeout_ms) {
	char buf[32];
	snprintf(buf, sizeof(buf), "%d", lock_timeout_ms);
	(void)set_config_option("search_path", PinnedSearchPath(), PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
	                        0, false);
	(void)set_config_option("lock_timeout", buf, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

} // namespace

OwnerContext
EnterUserContext(Oid user, int sec_flags) {
	OwnerContext ctx{};
	int timeout = EffectiveLockTimeoutMs();
	PgCall([&] {
		GetUserIdAndSecContext(&ctx.saved_user, &ctx.saved_sec_context);
		ctx.guc_nest_level = NewGUCNestLevel();
		PinSettings(timeout);
		if (OidIsValid(user))
			SetUserIdAndSecContext(user, ctx.saved_sec_context | sec_flags);
	});
	return ctx;
}

OwnerContext
EnterPinnedSettings() {
	return EnterUserContext(InvalidOid, 0);
}

OwnerContext
EnterOwnerContext(Oid owner) {
	return EnterUserContext(owner, SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
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
	return PgCall([&] { return pg_class_ownercheck(relid, roleid); });
}

bool
IsSuperuser(Oid roleid) {
	return PgCall([&] { return superuser_arg(roleid); });
}

} // namespace upkeep::pg
