/*
 * upkeep/pg/setting.hpp
 *
 * One setting changed for a GUC nest level: what a function's SET clause
 * does, for the statements pg_upkeep runs with pinned settings (search_path,
 * lock_timeout, the fingerprint's DateStyle and others, Citus's propagation
 * of SET LOCAL, client_min_messages).
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "utils/guc.h"
}

namespace upkeep::pg {

/*
 * Sets `name` to `value` at the innermost GUC nest level the caller opened
 * (NewGUCNestLevel, OpenGucLevel): the level's end (AtEOXact_GUC,
 * CloseGucLevel, or the abort of the (sub)transaction) gives back the value
 * it had.  C-style: ereports on an unknown setting or a refused value.
 */
inline void
SetForLevel(const char *name, const char *value) {
	(void)set_config_option(name, value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
}

} // namespace upkeep::pg
