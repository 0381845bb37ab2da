/*
 * upkeep/bgw/launcher.hpp
 *
 * The launcher background worker: one per cluster, registered from _PG_init
 * when the library is preloaded; it starts one worker per database listed in
 * upkeep.databases.
 */
#pragma once

namespace upkeep::bgw {

/* Called from _PG_init under shared_preload_libraries. */
void RegisterLauncher();

} // namespace upkeep::bgw
