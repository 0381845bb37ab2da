-- No SQL-visible name of pg_upkeep is a keyword that needs double quotes
-- where it is written.  0.1.0 named the table argument of cleanup_old_data()
-- and run_maintenance() "only", a reserved word: run_maintenance(only => 'logs')
-- was a syntax error.  Checked over every name the extension shows (schema,
-- relations, columns, functions and procedures, their argument and result
-- column names, types, constraints, indexes, row-level security policies,
-- triggers, event triggers) against pg_get_keywords():
--   R (reserved)              quoted everywhere
--   T (type_func_name, e.g. LEFT, VERBOSE)  quoted where an identifier (ColId)
--                             stands: a column, schema or constraint name ...
--   C (col_name, e.g. TIME, INTERVAL)       quoted where a function, argument
--                             or type name stands (type_function_name)
-- A result column of a function is both: an argument name in RETURNS TABLE
-- and a column in SELECT ... FROM f().

CREATE SCHEMA sql_names;
CREATE FUNCTION sql_names.needs_quoting(name text, place text) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT k.catcode::text || ' (' || k.catdesc || ')'
    FROM pg_catalog.pg_get_keywords() k
   WHERE k.word = lower(name)
     AND (k.catcode = 'R'
          OR (k.catcode = 'T' AND place IN ('identifier', 'argument and column'))
          OR (k.catcode = 'C' AND place IN ('function', 'argument', 'argument and column')))
$$;

CREATE VIEW sql_names.upkeep_names AS
WITH members AS (
  SELECT d.classid, d.objid
    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
   WHERE d.refclassid = 'pg_catalog.pg_extension'::regclass AND e.extname = 'pg_upkeep' AND d.deptype = 'e'),
rels AS (
  SELECT c.oid, c.relname, c.relkind FROM pg_catalog.pg_class c WHERE c.relnamespace = 'upkeep'::regnamespace),
procs AS (
  SELECT p.* FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'upkeep'::regnamespace)
SELECT 'schema' AS kind, n.nspname::text AS name, n.nspname::text AS object, 'identifier' AS place
  FROM pg_catalog.pg_namespace n JOIN members m ON m.classid = 'pg_catalog.pg_namespace'::regclass AND m.objid = n.oid
UNION ALL
SELECT 'relation (' || r.relkind::text || ')', r.relname, r.relname, 'identifier' FROM rels r
UNION ALL
SELECT 'column', a.attname, r.relname, 'identifier'
  FROM rels r JOIN pg_catalog.pg_attribute a ON a.attrelid = r.oid AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT CASE p.prokind WHEN 'p' THEN 'procedure' ELSE 'function' END, p.proname, p.oid::regprocedure::text, 'function'
  FROM procs p
UNION ALL
SELECT 'argument', a.name, p.oid::regprocedure::text,
       CASE WHEN COALESCE(p.proargmodes[a.n], 'i') IN ('o', 't', 'b') THEN 'argument and column' ELSE 'argument' END
  FROM procs p, unnest(p.proargnames) WITH ORDINALITY a(name, n)
 WHERE a.name <> ''
UNION ALL
SELECT 'type', t.typname, t.typname, 'function' FROM pg_catalog.pg_type t WHERE t.typnamespace = 'upkeep'::regnamespace
UNION ALL
SELECT 'constraint', c.conname, c.conrelid::regclass::text, 'identifier'
  FROM pg_catalog.pg_constraint c WHERE c.connamespace = 'upkeep'::regnamespace
UNION ALL
SELECT 'policy', pol.polname, pol.polrelid::regclass::text, 'identifier'
  FROM pg_catalog.pg_policy pol JOIN rels r ON r.oid = pol.polrelid
UNION ALL
SELECT 'trigger', tg.tgname, tg.tgrelid::regclass::text, 'identifier'
  FROM pg_catalog.pg_trigger tg JOIN rels r ON r.oid = tg.tgrelid WHERE NOT tg.tgisinternal
UNION ALL
SELECT 'event trigger', et.evtname, et.evtname, 'identifier'
  FROM pg_catalog.pg_event_trigger et JOIN members m ON m.classid = 'pg_catalog.pg_event_trigger'::regclass AND m.objid = et.oid;

-- the check flags what it should (a negative control): "only" as an
-- argument, LEFT as a column, TIME as an argument; ROWS (unreserved) is fine
SELECT v.name, v.place, sql_names.needs_quoting(v.name, v.place) AS needs_quoting
  FROM (VALUES ('only', 'argument'), ('left', 'identifier'), ('left', 'argument'), ('time', 'argument'),
               ('time', 'identifier'), ('rows', 'argument and column')) v(name, place);

-- every kind of name is looked at
SELECT kind, count(*) > 0 AS checked FROM sql_names.upkeep_names GROUP BY kind ORDER BY kind;

-- no name of pg_upkeep needs quoting where it stands
SELECT kind, object, name, sql_names.needs_quoting(name, place) AS needs_quoting
  FROM sql_names.upkeep_names
 WHERE sql_names.needs_quoting(name, place) IS NOT NULL
 ORDER BY 1, 2, 3;

-- the table argument is tbl, written without quotes
SET client_min_messages = warning;
CREATE TABLE kw_t (id int, at timestamptz NOT NULL);
SELECT relid, action FROM upkeep.set_policy(tbl => 'kw_t', time_column => 'at', retain => '1 day');
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
CALL upkeep.run_maintenance(tbl => 'kw_t', dry_run => true);
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'kw_t', dry_run => true);
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(dry_run => true, tbl => 'kw_t');
-- a name that is no table: the call parsed, the argument was resolved
CALL upkeep.run_maintenance(tbl => 'x');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM upkeep.cleanup_old_data(tbl => 'x');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the old name is gone
SELECT * FROM upkeep.cleanup_old_data("only" => 'kw_t');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET upkeep.debug_now;
DROP TABLE kw_t;
RESET client_min_messages;
DROP SCHEMA sql_names CASCADE;
