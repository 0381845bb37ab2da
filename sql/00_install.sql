-- pg_upkeep installs into its own schema, owned by the extension, with
-- deliberate privileges.
CREATE EXTENSION pg_upkeep;

-- the schema belongs to the extension (plain CREATE SCHEMA in the script)
SELECT n.nspname, pg_catalog.pg_get_userbyid(n.nspowner) AS owner,
       d.deptype
  FROM pg_catalog.pg_namespace n
  JOIN pg_catalog.pg_depend d ON d.classid = 'pg_catalog.pg_namespace'::regclass AND d.objid = n.oid
 WHERE n.nspname = 'upkeep' AND d.refclassid = 'pg_catalog.pg_extension'::regclass;

SELECT extname, extrelocatable, extversion, n.nspname
  FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
 WHERE extname = 'pg_upkeep';

-- not relocatable
CREATE SCHEMA elsewhere;
ALTER EXTENSION pg_upkeep SET SCHEMA elsewhere;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP SCHEMA elsewhere;

-- every function pins search_path (the procedure run_maintenance cannot carry a SET
-- clause, since it commits; it pins search_path itself for every batch), except the
-- per-row functions of the fingerprint aggregate and row_hash: they run no SQL and
-- resolve no name, and a SET clause would save and restore settings for every row
SELECT p.oid::regprocedure AS function, p.proconfig
  FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'upkeep'::regnamespace
 ORDER BY p.oid::regprocedure::text;

-- EXECUTE: user-facing functions for PUBLIC, self-tests for superusers only
SELECT p.oid::regprocedure AS function,
       pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_execute
  FROM pg_catalog.pg_proc p
 WHERE p.pronamespace = 'upkeep'::regnamespace
 ORDER BY p.oid::regprocedure::text;

-- nobody but the extension can create objects in the schema
SELECT pg_catalog.has_schema_privilege('public', 'upkeep', 'CREATE') AS public_create,
       pg_catalog.has_schema_privilege('public', 'upkeep', 'USAGE') AS public_usage;

-- the library's GUCs exist with their defaults
SELECT name, setting, unit, context FROM pg_catalog.pg_settings WHERE name LIKE 'upkeep.%' ORDER BY name;

-- the prefix is reserved: typos are refused
SET upkeep.partition_timezon = 'UTC';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
