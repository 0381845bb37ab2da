/*
 * pg_upkeep 0.2.0 -> 0.3.0 (ALTER EXTENSION pg_upkeep UPDATE).
 *
 * The same rules as the install script; the result equals a fresh 0.3.0
 * install (test/cluster/70_upgrade.sh compares the two catalogs).
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_upkeep UPDATE TO '0.3.0'" to load this file. \quit

------------------------------------------------------------------------------
-- 0.3.0: the fingerprint as a combinable, parallel-safe aggregate
------------------------------------------------------------------------------

-- upkeep.fingerprint_agg(a, b, c) over a table's columns, or upkeep.fingerprint_agg(t)
-- over its whole-row value, gives the same fingerprint as upkeep.table_fingerprint():
-- the same canonical row encoding, the row hashes summed modulo 2^128.  One
-- argument of a composite type is a whole row; any other arguments are a row's
-- columns (the fast form: no row value is built per row).  Sums combine exactly,
-- so parallel query splits a big table across workers.
-- The state is 24 bytes (sum low, sum high, rows; little-endian); its type is
-- bytea (its bytes travel between parallel workers as they are).  Citus does not
-- push it down (it checks a custom aggregate's argument types exactly): on Citus
-- tables table_fingerprint() sums upkeep.row_hash() instead.
CREATE FUNCTION upkeep.fingerprint_accum(state pg_catalog.bytea, VARIADIC "columns" "any")
RETURNS pg_catalog.bytea
LANGUAGE c STABLE CALLED ON NULL INPUT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'upkeep_fingerprint_accum';

CREATE FUNCTION upkeep.fingerprint_combine(a pg_catalog.bytea, b pg_catalog.bytea)
RETURNS pg_catalog.bytea
LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'upkeep_fingerprint_combine';

CREATE FUNCTION upkeep.fingerprint_final(state pg_catalog.bytea)
RETURNS pg_catalog.text
LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'upkeep_fingerprint_final';

CREATE FUNCTION upkeep.fingerprint_rows_final(state pg_catalog.bytea)
RETURNS pg_catalog.int8
LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'upkeep_fingerprint_rows';

CREATE AGGREGATE upkeep.fingerprint_agg(VARIADIC "any") (
  SFUNC = upkeep.fingerprint_accum,
  STYPE = pg_catalog.bytea,
  COMBINEFUNC = upkeep.fingerprint_combine,
  FINALFUNC = upkeep.fingerprint_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE upkeep.fingerprint_agg(VARIADIC "any") IS
  'table_fingerprint() as an aggregate: SELECT upkeep.fingerprint_agg(a, b, c) FROM tbl (every column in order), or fingerprint_agg(t) over whole rows; parallel-safe, combinable';

-- The rows the same aggregate counted (a fingerprint is a row count and a hash;
-- both from one pass when asked together, the state is shared).
CREATE AGGREGATE upkeep.fingerprint_rows(VARIADIC "any") (
  SFUNC = upkeep.fingerprint_accum,
  STYPE = pg_catalog.bytea,
  COMBINEFUNC = upkeep.fingerprint_combine,
  FINALFUNC = upkeep.fingerprint_rows_final,
  PARALLEL = SAFE
);
COMMENT ON AGGREGATE upkeep.fingerprint_rows(VARIADIC "any") IS
  'The row count of fingerprint_agg over the same rows';


-- One row's hash as a number in [0, 2^128): pg_catalog.sum() of it, modulo
-- 2^128, is the fingerprint.  table_fingerprint() uses it on Citus tables:
-- Citus pushes count(*) and sum() down to every shard, while it pushes a
-- custom aggregate down only when its argument types match exactly (a
-- shard's row type is not `record`).
CREATE FUNCTION upkeep.row_hash(r pg_catalog.record)
RETURNS pg_catalog.numeric
LANGUAGE c STABLE STRICT PARALLEL SAFE
AS 'MODULE_PATHNAME', 'upkeep_row_hash';
COMMENT ON FUNCTION upkeep.row_hash(pg_catalog.record) IS
  'One row''s fingerprint hash as a number: sum(upkeep.row_hash(t)) modulo 2^128 is the table''s fingerprint';

-- The size of a managed table: pg_total_relation_size, or for a Citus table whose
-- rows are in shards, their size (citus_total_relation_size); the coordinator's own
-- relation is an empty shell.
CREATE FUNCTION upkeep._table_size(tbl pg_catalog.regclass)
RETURNS pg_catalog.int8
LANGUAGE c STABLE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_table_size';


-- upkeep.status shows that size (same columns: views built on it keep working)
CREATE OR REPLACE VIEW upkeep.status WITH (security_invoker = true) AS
SELECT p.relid                                                   AS table_name,
       p.action,
       p.retain,
       p.enabled,
       pg_catalog.pg_size_pretty(upkeep._table_size(p.relid))         AS table_size,
       s.cutoff,
       s.expired_estimate                                        AS rows_past_cutoff,
       s.partitions,
       s.premade,
       s.default_rows                                            AS rows_in_default,
       last.finished_at                                          AS last_run,
       last.status                                               AS last_result,
       last.rows                                                 AS last_rows,
       last.message                                              AS last_message,
       cur.action                                                AS running_action,
       cur.started_at                                            AS running_since,
       cur.batches                                               AS running_batches,
       cur.rows                                                  AS running_rows,
       COALESCE(st.next_due,
                last.started_at OPERATOR(pg_catalog.+) p.run_every,
                pg_catalog.now())                                AS next_run_due
  FROM upkeep.policy p
  LEFT JOIN LATERAL upkeep._policy_status(p.relid) s ON true
  LEFT JOIN LATERAL (SELECT l.finished_at, l.started_at, l.status, l.rows, l.message
                       FROM upkeep.run_log l
                      WHERE l.relid OPERATOR(pg_catalog.=) p.relid::pg_catalog.oid
                        AND l.status OPERATOR(pg_catalog.<>) 'running'
                      ORDER BY l.id DESC LIMIT 1) last ON true
  LEFT JOIN LATERAL (SELECT l.action, l.started_at, l.batches, l.rows
                       FROM upkeep.run_log l
                      WHERE l.relid OPERATOR(pg_catalog.=) p.relid::pg_catalog.oid
                        AND l.status OPERATOR(pg_catalog.=) 'running'
                      ORDER BY l.id DESC LIMIT 1) cur ON true
  LEFT JOIN upkeep.policy_state st ON st.relid OPERATOR(pg_catalog.=) p.relid::pg_catalog.oid;


-- The new routines belong to the role that owns the extension's other routines
-- (the installer), not to whichever superuser ran ALTER EXTENSION UPDATE: a
-- fresh install and an updated one must not differ.
DO $owner$
DECLARE
  r record;
BEGIN
  FOR r IN
    SELECT pg_catalog.format('%s %s OWNER TO %I',
                             CASE WHEN p.prokind OPERATOR(pg_catalog.=) 'a' THEN 'ALTER AGGREGATE' ELSE 'ALTER FUNCTION' END,
                             p.oid::pg_catalog.regprocedure, pg_catalog.pg_get_userbyid(o.proowner)) AS stmt
      FROM pg_catalog.pg_proc p,
           pg_catalog.pg_proc o
     WHERE o.oid OPERATOR(pg_catalog.=) 'upkeep.table_fingerprint(pg_catalog.regclass)'::pg_catalog.regprocedure
       AND p.pronamespace OPERATOR(pg_catalog.=) 'upkeep'::pg_catalog.regnamespace
       AND p.proname OPERATOR(pg_catalog.=) ANY (ARRAY['fingerprint_accum', 'fingerprint_combine', 'fingerprint_final',
                                                       'fingerprint_rows_final', 'fingerprint_agg', 'fingerprint_rows',
                                                       'row_hash', '_table_size']::pg_catalog.name[])
       AND p.proowner OPERATOR(pg_catalog.<>) o.proowner
  LOOP
    EXECUTE r.stmt;
  END LOOP;
END
$owner$;

-- The extension's own privileges, as in the install script, granted after the owner
-- is set (pg_init_privs records them with their grantor: a fresh install's owner).
-- Hashing whole rows reveals nothing the caller cannot already SELECT (row-level
-- security and column privileges apply to the query that feeds it).
GRANT EXECUTE ON FUNCTION upkeep.fingerprint_accum(pg_catalog.bytea, VARIADIC "any") TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.fingerprint_combine(pg_catalog.bytea, pg_catalog.bytea) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.fingerprint_final(pg_catalog.bytea) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.fingerprint_rows_final(pg_catalog.bytea) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.fingerprint_agg(VARIADIC "any") TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.fingerprint_rows(VARIADIC "any") TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.row_hash(pg_catalog.record) TO PUBLIC;
REVOKE ALL ON FUNCTION upkeep._table_size(pg_catalog.regclass) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep._table_size(pg_catalog.regclass) TO PUBLIC;
