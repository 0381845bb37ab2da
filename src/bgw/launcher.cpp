/*
 * src/bgw/launcher.cpp
 *
 * Placeholder registration point: the launcher itself arrives with the
 * background-worker issue.  Registering nothing keeps preloading harmless.
 */
#include "upkeep/bgw/launcher.hpp"

namespace upkeep::bgw {

void
RegisterLauncher() {
}

} // namespace upkeep::bgw
