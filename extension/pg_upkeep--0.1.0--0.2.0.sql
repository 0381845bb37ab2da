/*
 * pg_upkeep 0.1.0 -> 0.2.0 (ALTER EXTENSION pg_upkeep UPDATE).
 *
 * The same rules as the install script: every name is schema-qualified,
 * operators are written OPERATOR(pg_catalog.x), nothing uses CREATE OR
 * REPLACE or IF NOT EXISTS on an object another role could have made, and
 * the result equals a fresh 0.2.0 install (test/cluster/70_upgrade.sh
 * compares the two catalogs).
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_upkeep UPDATE TO '0.2.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Dump the state of the sequences that number configuration rows and runs
------------------------------------------------------------------------------

-- pg_dump dumps the rows of archive_manifest and fingerprint but, unless told,
-- not the state of their identity sequences: a restored copy numbered its next
-- batch or snapshot 1 again and failed with 23505 on the primary key.  Run ids
-- are recorded in the manifests, so upkeep.run_id_seq goes along too.
SELECT pg_catalog.pg_extension_config_dump('upkeep.run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('upkeep.archive_manifest_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('upkeep.fingerprint_id_seq', '');

------------------------------------------------------------------------------
-- The table argument of cleanup_old_data() and run_maintenance(): "only" -> tbl
------------------------------------------------------------------------------

-- ONLY is a reserved word: CALL upkeep.run_maintenance(only => 'logs') was a
-- syntax error unless the name was double-quoted.  The argument is now tbl,
-- as in set_policy().  CREATE OR REPLACE cannot rename a parameter, so each
-- routine is made again: the old one is set aside under a name of its own
-- (in our schema, where nobody else can create), the new one is created and
-- granted exactly as a fresh install does, the old one's owner and any
-- privileges a DBA changed on it are carried over, and the old one is
-- dropped.  A view or SQL-standard function of the DBA's that calls one of
-- them would stop the update, so it is looked for first and named (2BP01).

DO $dependents$
DECLARE
  users pg_catalog.text;
BEGIN
  SELECT pg_catalog.string_agg(pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid), ', '
                               ORDER BY pg_catalog.pg_describe_object(d.classid, d.objid, d.objsubid))
    INTO users
    FROM pg_catalog.pg_depend d
   WHERE d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
     AND d.refobjid OPERATOR(pg_catalog.=) ANY (ARRAY[
           'upkeep.cleanup_old_data(pg_catalog.bool,pg_catalog.regclass)'::pg_catalog.regprocedure::pg_catalog.oid,
           'upkeep.run_maintenance(pg_catalog.bool,pg_catalog.regclass)'::pg_catalog.regprocedure::pg_catalog.oid])
     AND d.deptype OPERATOR(pg_catalog.=) 'n';
  IF users IS NOT NULL THEN
    RAISE EXCEPTION USING
      ERRCODE = 'dependent_objects_still_exist',
      MESSAGE = 'pg_upkeep 0.2.0 renames the argument "only" of upkeep.cleanup_old_data() and upkeep.run_maintenance() '
                'to tbl, and these objects use them: ' OPERATOR(pg_catalog.||) users,
      HINT = 'Drop them, run ALTER EXTENSION pg_upkeep UPDATE again, and create them again (with tbl => where they '
             'named the argument).';
  END IF;
END
$dependents$;

ALTER FUNCTION upkeep.cleanup_old_data(pg_catalog.bool, pg_catalog.regclass) RENAME TO _cleanup_old_data_0_1_0;
ALTER PROCEDURE upkeep.run_maintenance(pg_catalog.bool, pg_catalog.regclass) RENAME TO _run_maintenance_0_1_0;

CREATE FUNCTION upkeep.cleanup_old_data(dry_run pg_catalog.bool DEFAULT false, tbl pg_catalog.regclass DEFAULT NULL)
RETURNS TABLE(table_name pg_catalog.text, action pg_catalog.text, rows_affected pg_catalog.int8,
              execution_time_ms pg_catalog.numeric)
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_cleanup_old_data';
COMMENT ON FUNCTION upkeep.cleanup_old_data(pg_catalog.bool, pg_catalog.regclass) IS
  'Apply every enabled policy (or only one) in the caller''s transaction, in bounded batches';

-- No SET clause: a procedure with one cannot commit.  search_path is pinned
-- inside, for every batch.
CREATE PROCEDURE upkeep.run_maintenance(dry_run pg_catalog.bool DEFAULT false, tbl pg_catalog.regclass DEFAULT NULL)
LANGUAGE c
AS 'MODULE_PATHNAME', 'upkeep_run_maintenance';
COMMENT ON PROCEDURE upkeep.run_maintenance(pg_catalog.bool, pg_catalog.regclass) IS
  'Premake partitions and apply retention, committing after every batch';

-- The owner of the old routine (the role that installed the extension, or
-- whom a DBA gave it to), before the grants below name it as grantor.
DO $owner$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT pg_catalog.format('%s %s OWNER TO %I',
                             CASE WHEN n.prokind OPERATOR(pg_catalog.=) 'p' THEN 'ALTER PROCEDURE' ELSE 'ALTER FUNCTION' END,
                             v.new_sig, pg_catalog.pg_get_userbyid(o.proowner)) AS stmt
      FROM (VALUES ('upkeep._cleanup_old_data_0_1_0(pg_catalog.bool,pg_catalog.regclass)',
                    'upkeep.cleanup_old_data(pg_catalog.bool,pg_catalog.regclass)'),
                   ('upkeep._run_maintenance_0_1_0(pg_catalog.bool,pg_catalog.regclass)',
                    'upkeep.run_maintenance(pg_catalog.bool,pg_catalog.regclass)')) v(old_sig, new_sig)
      JOIN pg_catalog.pg_proc o ON o.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure(v.old_sig)
      JOIN pg_catalog.pg_proc n ON n.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure(v.new_sig)
     WHERE o.proowner OPERATOR(pg_catalog.<>) n.proowner
  LOOP
    EXECUTE r.stmt;
  END LOOP;
END
$owner$;

-- The extension's own privileges, as in the install script (pg_init_privs
-- records these: pg_dump compares a member's privileges with them).
REVOKE ALL ON FUNCTION upkeep.cleanup_old_data(pg_catalog.bool, pg_catalog.regclass) FROM PUBLIC;
REVOKE ALL ON PROCEDURE upkeep.run_maintenance(pg_catalog.bool, pg_catalog.regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.cleanup_old_data(pg_catalog.bool, pg_catalog.regclass) TO PUBLIC;
GRANT EXECUTE ON PROCEDURE upkeep.run_maintenance(pg_catalog.bool, pg_catalog.regclass) TO PUBLIC;

-- Privileges a DBA changed on the old routine (its ACL differs from the one
-- the extension recorded in pg_init_privs): the new one gets the same ACL.
-- GRANT and REVOKE inside an extension script also rewrite pg_init_privs, so
-- the extension's own privileges are put back there afterwards: pg_dump goes
-- on dumping the DBA's changes as changes.
DO $privileges$
DECLARE
  r record;
  g record;
  kind pg_catalog.text;
BEGIN
  FOR r IN
    SELECT n.oid AS new_oid, v.new_sig, n.prokind,
           COALESCE(o.proacl, pg_catalog.acldefault('f', o.proowner)) AS old_acl,
           COALESCE(oi.initprivs, pg_catalog.acldefault('f', o.proowner)) AS old_init,
           ni.initprivs AS new_init
      FROM (VALUES ('upkeep._cleanup_old_data_0_1_0(pg_catalog.bool,pg_catalog.regclass)',
                    'upkeep.cleanup_old_data(pg_catalog.bool,pg_catalog.regclass)'),
                   ('upkeep._run_maintenance_0_1_0(pg_catalog.bool,pg_catalog.regclass)',
                    'upkeep.run_maintenance(pg_catalog.bool,pg_catalog.regclass)')) v(old_sig, new_sig)
      JOIN pg_catalog.pg_proc o ON o.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure(v.old_sig)
      JOIN pg_catalog.pg_proc n ON n.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure(v.new_sig)
      LEFT JOIN pg_catalog.pg_init_privs oi
             ON oi.objoid OPERATOR(pg_catalog.=) o.oid
            AND oi.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
            AND oi.objsubid OPERATOR(pg_catalog.=) 0
      LEFT JOIN pg_catalog.pg_init_privs ni
             ON ni.objoid OPERATOR(pg_catalog.=) n.oid
            AND ni.classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
            AND ni.objsubid OPERATOR(pg_catalog.=) 0
  LOOP
    CONTINUE WHEN r.old_acl OPERATOR(pg_catalog.=) r.old_init;
    kind := CASE WHEN r.prokind OPERATOR(pg_catalog.=) 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END;
    -- start from nothing, then grant what the old routine had, grantee by grantee
    EXECUTE pg_catalog.format('REVOKE ALL ON %s %s FROM PUBLIC', kind, r.new_sig);
    FOR g IN
      SELECT DISTINCT a.grantee FROM pg_catalog.aclexplode((SELECT p.proacl FROM pg_catalog.pg_proc p
                                                             WHERE p.oid OPERATOR(pg_catalog.=) r.new_oid)) a
       WHERE a.grantee OPERATOR(pg_catalog.<>) 0
    LOOP
      EXECUTE pg_catalog.format('REVOKE ALL ON %s %s FROM %I', kind, r.new_sig, pg_catalog.pg_get_userbyid(g.grantee));
    END LOOP;
    FOR g IN SELECT a.grantee, a.is_grantable FROM pg_catalog.aclexplode(r.old_acl) a LOOP
      EXECUTE pg_catalog.format('GRANT EXECUTE ON %s %s TO %s%s', kind, r.new_sig,
                                CASE WHEN g.grantee OPERATOR(pg_catalog.=) 0 THEN 'PUBLIC'
                                     ELSE pg_catalog.quote_ident(pg_catalog.pg_get_userbyid(g.grantee)) END,
                                CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
    UPDATE pg_catalog.pg_init_privs SET initprivs = r.new_init
     WHERE objoid OPERATOR(pg_catalog.=) r.new_oid
       AND classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
       AND objsubid OPERATOR(pg_catalog.=) 0;
  END LOOP;
END
$privileges$;

DROP FUNCTION upkeep._cleanup_old_data_0_1_0(pg_catalog.bool, pg_catalog.regclass);
DROP PROCEDURE upkeep._run_maintenance_0_1_0(pg_catalog.bool, pg_catalog.regclass);
