-- A hostile search_path: nothing pg_upkeep runs may resolve a function,
-- operator, aggregate, type or relation through the caller's search_path.
--
-- The role intruder has CREATE on public and plants look-alikes of
-- everything (15_hostile_search_path_plant.psql: every operator, function,
-- aggregate, relation and type of pg_catalog and upkeep, in public and in
-- this session's pg_temp), each of which records that it was used and tries
-- ALTER ROLE intruder SUPERUSER.  A superuser whose search_path puts public
-- first then calls every entry point (15_hostile_search_path_round.psql):
--   round 1: as shipped -- pg_upkeep pins search_path = pg_catalog, pg_temp
--            for its own statements; the tables' owners (the superuser and
--            regress_hostile_owner) log in with the default "$user", public,
--            so their context has public after pg_catalog;
--   round 2: with the test hook upkeep.debug_search_path = 'public, pg_catalog'
--            replacing that pin, and the database's search_path set to
--            public, pg_catalog, which is then every owner's login path (and
--            so the path of each table owner's context): any name
--            pg_upkeep's SQL leaves unqualified resolves to a look-alike,
--            wherever it runs.  This proves every name is qualified,
--            independent of the pin and of the owners' paths.
-- Then CREATE EXTENSION and ALTER EXTENSION UPDATE in a fresh database where
-- the same look-alikes wait.  After each: no probe fired, intruder is no
-- superuser.
SET client_min_messages = warning;
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
SET intervalstyle = 'postgres';
CREATE ROLE intruder;
CREATE ROLE regress_hostile_owner;
-- amcheck in a schema of its own (verify_backup_integrity calls it qualified)
CREATE SCHEMA hostile_amcheck;
CREATE EXTENSION amcheck SCHEMA hostile_amcheck;

-- refusal(statement): the SQLSTATE and message it fails with, run with the
-- caller's search_path (no SET clause: the rounds call it with public first)
CREATE SCHEMA hostile_check;
CREATE FUNCTION hostile_check.refusal(statement pg_catalog.text) RETURNS pg_catalog.text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
  RETURN pg_catalog.format('%s: %s', SQLSTATE, SQLERRM);
END
$$;

\i sql/15_hostile_search_path_plant.psql

-- Round 1: as shipped.
\i sql/15_hostile_search_path_round.psql

-- Round 2: every name pg_upkeep writes must be qualified.  The hook replaces
-- the pinned path in SPI, in the extension owner's context and in the worker;
-- a table owner's context has the owner's login path, which the database's
-- setting makes hostile (no owner here has a role setting of its own); the
-- event trigger gets the same path through its SET clause for the round.
\set regress_db :DBNAME
SET upkeep.debug_search_path = 'public, pg_catalog';
ALTER DATABASE :"regress_db" SET search_path = public, pg_catalog;
ALTER FUNCTION upkeep._forget_dropped_tables() SET search_path = public, pg_catalog;
\i sql/15_hostile_search_path_round.psql
ALTER FUNCTION upkeep._forget_dropped_tables() SET search_path = pg_catalog, pg_temp;
ALTER DATABASE :"regress_db" RESET search_path;
RESET upkeep.debug_search_path;
DISCARD TEMP;
ALTER ROLE intruder NOSUPERUSER;

-- The install script and the upgrade script, with the look-alikes waiting in a
-- fresh database (in public and in the installing session's pg_temp): no
-- probe fires, and nothing the scripts create depends on a look-alike (a
-- type, function, operator or relation captured at creation would show up
-- in pg_depend even if never called).
CREATE DATABASE regress_upkeep_hostile;
\c regress_upkeep_hostile
SET client_min_messages = warning;
\i sql/15_hostile_search_path_plant.psql
SET search_path = pg_catalog, pg_temp;
CREATE SCHEMA hostile_check;
CREATE VIEW hostile_check.lookalike_deps AS
  SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid
    FROM pg_depend d
    JOIN (SELECT 'pg_proc'::regclass AS cls, o.oid, o.pronamespace AS nsp FROM pg_proc o
          UNION ALL SELECT 'pg_operator'::regclass, o.oid, o.oprnamespace FROM pg_operator o
          UNION ALL SELECT 'pg_type'::regclass, o.oid, o.typnamespace FROM pg_type o
          UNION ALL SELECT 'pg_class'::regclass, o.oid, o.relnamespace FROM pg_class o) r
      ON r.cls = d.refclassid AND r.oid = d.refobjid
   WHERE r.nsp = 'public'::regnamespace OR r.nsp = pg_catalog.pg_my_temp_schema();
CREATE TABLE hostile_check.deps_before AS SELECT * FROM hostile_check.lookalike_deps;
CREATE VIEW hostile_check.members AS
  SELECT pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid) AS member
    FROM pg_depend d JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
   WHERE e.extname = 'pg_upkeep' AND d.deptype = 'e';

SET search_path = public, pg_catalog;
CREATE EXTENSION pg_upkeep;
SET search_path = pg_catalog, pg_temp;
SELECT e.extversion FROM pg_extension e WHERE e.extname = 'pg_upkeep';
SELECT pg_catalog.pg_describe_object(n.classid, n.objid, n.objsubid) AS object,
       pg_catalog.pg_describe_object(n.refclassid, n.refobjid, 0) AS uses_lookalike
  FROM (SELECT * FROM hostile_check.lookalike_deps EXCEPT SELECT * FROM hostile_check.deps_before) n ORDER BY 1, 2;
CREATE TABLE hostile_check.members_fresh AS SELECT * FROM hostile_check.members;
SELECT pg_catalog.count(*) > 0 AS installed FROM hostile_check.members_fresh;

SET search_path = public, pg_catalog;
DROP EXTENSION pg_upkeep;
CREATE EXTENSION pg_upkeep VERSION '0.1.0';
ALTER EXTENSION pg_upkeep UPDATE;  -- through every upgrade script to the default version
SET search_path = pg_catalog, pg_temp;
SELECT e.extversion FROM pg_extension e WHERE e.extname = 'pg_upkeep';
SELECT pg_catalog.pg_describe_object(n.classid, n.objid, n.objsubid) AS object,
       pg_catalog.pg_describe_object(n.refclassid, n.refobjid, 0) AS uses_lookalike
  FROM (SELECT * FROM hostile_check.lookalike_deps EXCEPT SELECT * FROM hostile_check.deps_before) n ORDER BY 1, 2;
-- the upgraded extension has the members of a fresh install
(SELECT member, 'only after the update' AS difference FROM hostile_check.members EXCEPT SELECT member, 'only after the update' FROM hostile_check.members_fresh)
UNION ALL
(SELECT member, 'only in a fresh install' FROM hostile_check.members_fresh EXCEPT SELECT member, 'only in a fresh install' FROM hostile_check.members)
ORDER BY 1;
SELECT what, by_role, pg_catalog.count(*) FROM public.upkeep_probe_log GROUP BY 1, 2 ORDER BY 1, 2;
SELECT last_value, is_called AS any_probe_fired FROM public.upkeep_probe_hits;
SELECT rolsuper AS intruder_is_superuser FROM pg_roles WHERE rolname = 'intruder';
DISCARD TEMP;
\c :regress_db
SET client_min_messages = warning;
DROP DATABASE regress_upkeep_hostile;

-- clean up for the tests that follow (what the rounds left in pg_upkeep's own tables too)
DELETE FROM upkeep.run_log;
DELETE FROM upkeep.fingerprint;
DELETE FROM upkeep.archive_manifest;
DELETE FROM upkeep.policy_state;
DROP OWNED BY intruder;
DROP OWNED BY regress_hostile_owner;
DROP ROLE intruder;
DROP ROLE regress_hostile_owner;
DROP EXTENSION amcheck;
DROP SCHEMA hostile_amcheck;
DROP SCHEMA hostile_check CASCADE;
