/*
 * upkeep/bgw/utility_hook.hpp
 *
 * A ProcessUtility hook, installed when the library is preloaded (so every
 * backend has it), that lets the worker follow what happens around it:
 *   - DROP DATABASE, ALTER DATABASE ... RENAME, ALTER DATABASE ... SET
 *     TABLESPACE and CREATE DATABASE ... TEMPLATE of a database a worker is
 *     connected to: PostgreSQL refuses them while another session is in that
 *     database ("is being accessed by other users").  Before the command runs
 *     (and only for a caller allowed to run it), the worker is asked to leave
 *     (at its next wake-up, at once when idle; SIGTERM after a second), the
 *     launcher is kept from starting another until the command's transaction
 *     has ended, and the command waits (at most ~11 s) until it has gone.
 *     Afterwards the launcher starts a worker only for a listed database
 *     that exists (not for a dropped one, nor one renamed out of the list);
 *   - CREATE / DROP EXTENSION pg_upkeep wake the database's worker when they
 *     commit: it starts (or stops) maintaining at once, not at its next
 *     naptime;
 *   - CREATE DATABASE, ALTER DATABASE, CREATE/ALTER ROLE wake the launcher
 *     when they commit: a configuration problem they may have fixed (a
 *     listed database missing or not accepting connections, upkeep.role
 *     missing or NOLOGIN) is checked again at once.
 */
#pragma once

namespace upkeep::bgw {

/* From _PG_init, preload only. */
void InstallUtilityHook();

} // namespace upkeep::bgw
