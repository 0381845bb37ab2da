/*
 * upkeep/pg/selftest.hpp
 *
 * Self-tests of the error bridge, callable from SQL by superusers only
 * (upkeep._selftest_error_bridge).  They exist so the regression suite can
 * prove both directions of the bridge in a real backend: an SPI error raised
 * under C++ frames that own heap objects, a C++ exception thrown by a nested
 * helper, and that no destructor is skipped however often that happens.
 */
#pragma once

#include <cstdint>

namespace upkeep::pg {

/*
 * Modes: "ok", "spi_error", "pg_error", "cpp_nested", "bad_alloc",
 * "subtransaction" (an SPI error rolled back in a subtransaction, then the
 * session keeps working), "heap_bytes" (bytes in use by malloc).
 */
int64_t SelftestErrorBridge(const char *mode);
/* Tracked C++ objects currently alive (must be 0 between calls). */
int64_t SelftestLiveObjects();

} // namespace upkeep::pg
