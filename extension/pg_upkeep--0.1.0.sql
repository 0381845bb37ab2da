/*
 * pg_upkeep 0.1.0 install script.
 *
 * Hardening (SPEC §5, RELIABILITY b.5/b.8): the schema is created here with a
 * plain CREATE SCHEMA, so the extension owns it and nobody else can plant
 * objects in it; every function pins search_path; every name is
 * schema-qualified; nothing uses CREATE OR REPLACE or IF NOT EXISTS.
 */

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pg_upkeep" to load this file. \quit

CREATE SCHEMA upkeep;
COMMENT ON SCHEMA upkeep IS 'pg_upkeep: partitions, retention, archival and integrity upkeep';
REVOKE ALL ON SCHEMA upkeep FROM PUBLIC;
GRANT USAGE ON SCHEMA upkeep TO PUBLIC;

------------------------------------------------------------------------------
-- Partitions
------------------------------------------------------------------------------

CREATE FUNCTION upkeep.create_monthly_partition(parent pg_catalog.regclass, month pg_catalog.date)
RETURNS pg_catalog.regclass
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_create_monthly_partition';
COMMENT ON FUNCTION upkeep.create_monthly_partition(pg_catalog.regclass, pg_catalog.date) IS
  'Create (or return) the range partition of parent for the calendar month containing month';

------------------------------------------------------------------------------
-- Self-tests of the C++/PostgreSQL error bridge (superuser only)
------------------------------------------------------------------------------

CREATE FUNCTION upkeep._selftest_error_bridge(mode pg_catalog.text)
RETURNS pg_catalog.int8
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_selftest_error_bridge';

CREATE FUNCTION upkeep._selftest_live_objects()
RETURNS pg_catalog.int8
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_selftest_live_objects';

------------------------------------------------------------------------------
-- Privileges: nothing is executable by default; user-facing functions are
-- granted to PUBLIC because each one checks, on every call, that the caller
-- owns the table it acts on (as ALTER TABLE does).
------------------------------------------------------------------------------

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA upkeep FROM PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.create_monthly_partition(pg_catalog.regclass, pg_catalog.date) TO PUBLIC;
