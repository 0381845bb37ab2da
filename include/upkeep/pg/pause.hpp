/*
 * upkeep/pg/pause.hpp
 *
 * Sleeping between batches without going deaf: the wait ends early on the
 * process latch (SIGTERM, a cancel), and postmaster death ends the process.
 */
#pragma once

namespace upkeep::pg {

/*
 * Waits `ms` milliseconds on the process latch, serving interrupts whenever
 * it is set (a cancel throws PgError); a latch set for another reason does
 * not cut the pause short.
 */
void PauseInterruptibly(int ms);

} // namespace upkeep::pg
