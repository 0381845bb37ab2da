/*
 * src/abi/module.cpp
 *
 * The library's magic block and _PG_init.  GUCs are defined on every load so
 * the SQL functions work without shared_preload_libraries; the background
 * launcher and the utility hook that serves it (utility_hook.hpp) are
 * installed only when the library is preloaded.
 */
extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "miscadmin.h"
}

#include "upkeep/bgw/launcher.hpp"
#include "upkeep/bgw/utility_hook.hpp"
#include "upkeep/pg/compat.hpp"
#include "upkeep/pg/guc.hpp"

#pragma GCC visibility push(default)
extern "C" {

UPKEEP_MODULE_MAGIC("pg_upkeep", UPKEEP_VERSION);

void _PG_init(void);

void
_PG_init(void) {
	upkeep::pg::DefineGucs();
	if (IsBinaryUpgrade)
		return;
	if (process_shared_preload_libraries_in_progress) {
		upkeep::bgw::RegisterLauncher();
		upkeep::bgw::InstallUtilityHook();
	}
}

} // extern "C"
#pragma GCC visibility pop
