/*
 * upkeep/pg/pause.hpp
 *
 * Sleeping between batches without going deaf: the wait ends early on the
 * process latch (SIGTERM, a cancel), and postmaster death ends the process.
 */
#pragma once

namespace upkeep::pg {

/* Waits `ms` milliseconds on the process latch, then serves pending interrupts (a cancel throws PgError). */
void PauseInterruptibly(int ms);

} // namespace upkeep::pg
