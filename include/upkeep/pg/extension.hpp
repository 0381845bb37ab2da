/*
 * upkeep/pg/extension.hpp
 *
 * The extension itself as an actor: its owner writes pg_upkeep's catalog
 * tables (policy, run_log, manifests), which ordinary roles cannot write.
 * Switching to it is a SECURITY_LOCAL_USERID_CHANGE for our own fixed
 * statements only (as pg_cron does for cron.job), never for user code.
 */
#pragma once

#include <utility>

extern "C" {
#include "postgres.h"
}

#include "upkeep/pg/owner_context.hpp"

namespace upkeep::pg {

/* Owner of the pg_upkeep extension in this database; 42704 if it is not installed. */
Oid ExtensionOwner();
/* OID of schema "upkeep" (InvalidOid when absent). */
Oid ExtensionSchema();

OwnerContext EnterExtensionOwner();

/* Runs fn() as the extension owner with search_path pinned; always switches back. */
template <typename Fn>
auto
AsExtensionOwner(Fn &&fn) -> decltype(fn()) {
	return InContext(EnterExtensionOwner(), std::forward<Fn>(fn));
}

} // namespace upkeep::pg
