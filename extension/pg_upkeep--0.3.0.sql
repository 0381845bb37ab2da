/*
 * pg_upkeep 0.3.0 install script (a fresh install; extension/pg_upkeep--0.1.0--0.2.0.sql
 * and extension/pg_upkeep--0.2.0--0.3.0.sql bring an installed 0.1.0 or 0.2.0 to the
 * same state).
 *
 * Hardening against other roles of the database: the schema is created here with a
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
-- Policies
------------------------------------------------------------------------------

-- One row per managed table.  The table is recorded by OID (a regclass
-- column: pg_dump writes it as a name and the restore resolves it again).
-- Written only by set_policy/drop_policy, which check ownership and write as
-- the extension owner; ordinary roles can read the rows of tables they may
-- act on (row-level security), and write nothing.
CREATE TABLE upkeep.policy (
    relid          pg_catalog.regclass  NOT NULL PRIMARY KEY,
    time_column    pg_catalog.name      NOT NULL,
    retain         pg_catalog.interval  NOT NULL,
    action         pg_catalog.text      NOT NULL,
    archive_to     pg_catalog.regclass,
    detach_schema  pg_catalog.name,
    premake        pg_catalog.int4      NOT NULL DEFAULT 3,
    batch_size     pg_catalog.int4      NOT NULL DEFAULT 10000,
    run_every      pg_catalog.interval  NOT NULL DEFAULT '1 hour',
    timezone       pg_catalog.text,
    enabled        pg_catalog.bool      NOT NULL DEFAULT true,
    created_by     pg_catalog.regrole   NOT NULL,
    created_at     pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at     pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT policy_action_valid CHECK (action OPERATOR(pg_catalog.=) ANY (ARRAY['delete', 'archive', 'drop', 'detach'])),
    CONSTRAINT policy_retain_positive CHECK (retain OPERATOR(pg_catalog.>) '0'::pg_catalog.interval),
    CONSTRAINT policy_premake_valid CHECK (premake OPERATOR(pg_catalog.>=) 0),
    CONSTRAINT policy_batch_size_valid CHECK (batch_size OPERATOR(pg_catalog.>) 0),
    CONSTRAINT policy_run_every_positive CHECK (run_every OPERATOR(pg_catalog.>) '0'::pg_catalog.interval)
);
COMMENT ON TABLE upkeep.policy IS 'pg_upkeep retention policies, one per managed table (written by set_policy/drop_policy)';
SELECT pg_catalog.pg_extension_config_dump('upkeep.policy', '');
REVOKE ALL ON upkeep.policy FROM PUBLIC;
GRANT SELECT ON upkeep.policy TO PUBLIC;
ALTER TABLE upkeep.policy ENABLE ROW LEVEL SECURITY;
CREATE POLICY policy_visible_to_owners ON upkeep.policy FOR SELECT TO PUBLIC
  USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'));

-- Scheduling state of the background worker (not configuration: not dumped).
CREATE TABLE upkeep.policy_state (
    relid          pg_catalog.oid NOT NULL PRIMARY KEY,
    last_started   pg_catalog.timestamptz,
    last_finished  pg_catalog.timestamptz,
    last_status    pg_catalog.text,
    failures       pg_catalog.int4 NOT NULL DEFAULT 0,
    next_due       pg_catalog.timestamptz,
    -- internal: the summary of a partitioned policy's set after its last full
    -- run (see README "Steady state"), and the token of the partitions it was
    -- taken from; a run whose token still matches skips a set with nothing to do
    partitions_token pg_catalog.text,
    partitions_shape pg_catalog.text
);
REVOKE ALL ON upkeep.policy_state FROM PUBLIC;
GRANT SELECT ON upkeep.policy_state TO PUBLIC;
ALTER TABLE upkeep.policy_state ENABLE ROW LEVEL SECURITY;
CREATE POLICY policy_state_visible_to_owners ON upkeep.policy_state FOR SELECT TO PUBLIC
  USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'));

------------------------------------------------------------------------------
-- Run log
------------------------------------------------------------------------------

CREATE SEQUENCE upkeep.run_id_seq;
REVOKE ALL ON upkeep.run_id_seq FROM PUBLIC;
-- Run ids are recorded in archive_manifest (dumped): a restored copy must go
-- on numbering runs after the ones its manifests name.
SELECT pg_catalog.pg_extension_config_dump('upkeep.run_id_seq', '');

CREATE TABLE upkeep.run_log (
    id           pg_catalog.int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id       pg_catalog.int8 NOT NULL,
    relid        pg_catalog.oid,
    table_name   pg_catalog.text NOT NULL,
    action       pg_catalog.text NOT NULL,
    started_at   pg_catalog.timestamptz NOT NULL,
    finished_at  pg_catalog.timestamptz,
    rows         pg_catalog.int8 NOT NULL DEFAULT 0,
    batches      pg_catalog.int4 NOT NULL DEFAULT 0,
    status       pg_catalog.text NOT NULL,
    message      pg_catalog.text,
    run_by       pg_catalog.text NOT NULL,
    pid          pg_catalog.int4 NOT NULL,
    CONSTRAINT run_log_status_valid CHECK (status OPERATOR(pg_catalog.=) ANY (ARRAY['running', 'ok', 'skipped', 'failed']))
);
CREATE INDEX run_log_relid_started ON upkeep.run_log (relid, started_at);
CREATE INDEX run_log_finished ON upkeep.run_log (finished_at);
CREATE INDEX run_log_running ON upkeep.run_log (status) WHERE status OPERATOR(pg_catalog.=) 'running';
COMMENT ON TABLE upkeep.run_log IS 'One row per table and action of every pg_upkeep run; trimmed after upkeep.run_log_retain';
REVOKE ALL ON upkeep.run_log FROM PUBLIC;
GRANT SELECT ON upkeep.run_log TO PUBLIC;
ALTER TABLE upkeep.run_log ENABLE ROW LEVEL SECURITY;
CREATE POLICY run_log_visible_to_owners ON upkeep.run_log FOR SELECT TO PUBLIC
  USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) relid), 'USAGE'));

------------------------------------------------------------------------------
-- Policy API
------------------------------------------------------------------------------

CREATE FUNCTION upkeep._set_policy(tbl pg_catalog.regclass, time_column pg_catalog.name, retain pg_catalog.interval,
                                   action pg_catalog.text, archive_to pg_catalog.regclass, premake pg_catalog.int4,
                                   batch_size pg_catalog.int4, run_every pg_catalog.interval, timezone pg_catalog.text,
                                   detach_schema pg_catalog.name, enabled pg_catalog.bool)
RETURNS pg_catalog.void
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_set_policy';

CREATE FUNCTION upkeep.set_policy(tbl pg_catalog.regclass,
                                  time_column pg_catalog.name DEFAULT NULL,
                                  retain pg_catalog.interval DEFAULT NULL,
                                  action pg_catalog.text DEFAULT NULL,
                                  archive_to pg_catalog.regclass DEFAULT NULL,
                                  premake pg_catalog.int4 DEFAULT NULL,
                                  batch_size pg_catalog.int4 DEFAULT NULL,
                                  run_every pg_catalog.interval DEFAULT NULL,
                                  timezone pg_catalog.text DEFAULT NULL,
                                  detach_schema pg_catalog.name DEFAULT NULL,
                                  enabled pg_catalog.bool DEFAULT NULL)
RETURNS upkeep.policy
LANGUAGE sql VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  SELECT upkeep._set_policy(tbl, time_column, retain, action, archive_to, premake, batch_size, run_every, timezone,
                            detach_schema, enabled);
  SELECT p.* FROM upkeep.policy p WHERE p.relid OPERATOR(pg_catalog.=) tbl;
END;
COMMENT ON FUNCTION upkeep.set_policy IS
  'Create or update the retention policy of a table; NULL arguments keep the current value (or take the default)';

CREATE FUNCTION upkeep.drop_policy(tbl pg_catalog.regclass)
RETURNS pg_catalog.bool
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_drop_policy';

-- A dropped table takes its policy along (an OID must never come to name another table).
CREATE FUNCTION upkeep._forget_dropped_tables()
RETURNS pg_catalog.event_trigger
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  DELETE FROM upkeep.policy p USING pg_catalog.pg_event_trigger_dropped_objects() d
   WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
     AND d.objsubid OPERATOR(pg_catalog.=) 0
     AND p.relid::pg_catalog.oid OPERATOR(pg_catalog.=) d.objid;
  -- an archive dropped by its owner is retired with its manifests (a restore
  -- that lost it is caught by its stored fingerprint instead)
  DELETE FROM upkeep.archive_manifest m USING pg_catalog.pg_event_trigger_dropped_objects() d
   WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
     AND d.objsubid OPERATOR(pg_catalog.=) 0
     AND m.archive::pg_catalog.oid OPERATOR(pg_catalog.=) d.objid;
  DELETE FROM upkeep.policy_state s USING pg_catalog.pg_event_trigger_dropped_objects() d
   WHERE d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_class'::pg_catalog.regclass
     AND d.objsubid OPERATOR(pg_catalog.=) 0
     AND s.relid OPERATOR(pg_catalog.=) d.objid;
END
$$;
CREATE EVENT TRIGGER upkeep_forget_dropped_tables ON sql_drop
  EXECUTE FUNCTION upkeep._forget_dropped_tables();

------------------------------------------------------------------------------
-- Retention
------------------------------------------------------------------------------

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

------------------------------------------------------------------------------
-- Archival
------------------------------------------------------------------------------

-- One row per archived batch (method 'rows') or moved partition (method
-- 'partition'), written in the same transaction as the batch itself.
-- content_hash is the order-independent sum of the row hashes that
-- table_fingerprint() uses, over `columns` of the rows as the archive stored
-- them; verify_backup_integrity() recomputes it from the archive.
CREATE TABLE upkeep.archive_manifest (
    id              pg_catalog.int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    run_id          pg_catalog.int8,
    source          pg_catalog.oid,
    source_name     pg_catalog.text NOT NULL,
    archive         pg_catalog.regclass,
    archive_name    pg_catalog.text NOT NULL,
    archived_at     pg_catalog.timestamptz NOT NULL,
    method          pg_catalog.text NOT NULL,
    row_count       pg_catalog.int8 NOT NULL,
    key_column      pg_catalog.name,
    key_min         pg_catalog.text,
    key_max         pg_catalog.text,
    time_column     pg_catalog.name NOT NULL,
    time_min        pg_catalog.text,
    time_max        pg_catalog.text,
    columns         pg_catalog.name[] NOT NULL,
    content_hash    pg_catalog.text,
    partition_name  pg_catalog.text,
    CONSTRAINT archive_manifest_method_valid CHECK (method OPERATOR(pg_catalog.=) ANY (ARRAY['rows', 'partition'])),
    CONSTRAINT archive_manifest_hash_valid CHECK (method OPERATOR(pg_catalog.=) 'partition' OR content_hash IS NOT NULL)
);
CREATE INDEX archive_manifest_archive ON upkeep.archive_manifest (archive, archived_at);
COMMENT ON TABLE upkeep.archive_manifest IS 'One row per archived batch: rows, key and time range, content hash';
SELECT pg_catalog.pg_extension_config_dump('upkeep.archive_manifest', '');
-- The identity sequence too: pg_dump dumps a config table's rows but not the
-- state of a sequence it does not know to be configuration, so a restored copy
-- would number its next batch 1 again and collide with a restored key (23505).
SELECT pg_catalog.pg_extension_config_dump('upkeep.archive_manifest_id_seq', '');
REVOKE ALL ON upkeep.archive_manifest FROM PUBLIC;
GRANT SELECT ON upkeep.archive_manifest TO PUBLIC;
ALTER TABLE upkeep.archive_manifest ENABLE ROW LEVEL SECURITY;
CREATE POLICY archive_manifest_visible_to_owners ON upkeep.archive_manifest FOR SELECT TO PUBLIC
  USING (pg_catalog.pg_has_role((SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) archive), 'USAGE'));

CREATE FUNCTION upkeep.archive_table(source pg_catalog.regclass,
                                     archive pg_catalog.regclass DEFAULT NULL,
                                     older_than pg_catalog.interval DEFAULT NULL,
                                     time_column pg_catalog.name DEFAULT NULL,
                                     batch_size pg_catalog.int4 DEFAULT 10000)
RETURNS pg_catalog.int8
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_archive_table';
COMMENT ON FUNCTION upkeep.archive_table(pg_catalog.regclass, pg_catalog.regclass, pg_catalog.interval, pg_catalog.name, pg_catalog.int4) IS
  'Move rows older than now() - older_than into the archive, batch by batch, exactly once';

------------------------------------------------------------------------------
-- Integrity
------------------------------------------------------------------------------

-- Fingerprints taken by snapshot_fingerprints(), compared by
-- verify_backup_integrity().  Tables are named, not referenced by OID: a
-- restore must find them by name (a missing one is reported, not fatal to
-- the restore of this table).
CREATE TABLE upkeep.fingerprint (
    id           pg_catalog.int8 GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    relid        pg_catalog.oid,
    table_name   pg_catalog.text NOT NULL,
    row_count    pg_catalog.int8 NOT NULL,
    fingerprint  pg_catalog.text NOT NULL,
    taken_at     pg_catalog.timestamptz NOT NULL,
    wal_lsn      pg_catalog.pg_lsn NOT NULL,
    taken_by     pg_catalog.name NOT NULL
);
CREATE INDEX fingerprint_table ON upkeep.fingerprint (table_name, id);
COMMENT ON TABLE upkeep.fingerprint IS 'Table fingerprints stored by snapshot_fingerprints(), with time and WAL position';
SELECT pg_catalog.pg_extension_config_dump('upkeep.fingerprint', '');
SELECT pg_catalog.pg_extension_config_dump('upkeep.fingerprint_id_seq', '');  -- see archive_manifest_id_seq
REVOKE ALL ON upkeep.fingerprint FROM PUBLIC;
GRANT SELECT ON upkeep.fingerprint TO PUBLIC;
ALTER TABLE upkeep.fingerprint ENABLE ROW LEVEL SECURITY;
CREATE POLICY fingerprint_visible_to_readers ON upkeep.fingerprint FOR SELECT TO PUBLIC
  USING (pg_catalog.to_regclass(table_name) IS NOT NULL
         AND pg_catalog.has_table_privilege(pg_catalog.to_regclass(table_name), 'SELECT'));

CREATE FUNCTION upkeep.table_fingerprint(tbl pg_catalog.regclass)
RETURNS TABLE(row_count pg_catalog.int8, fingerprint pg_catalog.text)
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_table_fingerprint';
COMMENT ON FUNCTION upkeep.table_fingerprint(pg_catalog.regclass) IS
  'Order-independent 128-bit content hash of every row (XXH3-128 per row, summed modulo 2^128)';

CREATE FUNCTION upkeep.snapshot_fingerprints()
RETURNS TABLE(table_name pg_catalog.text, row_count pg_catalog.int8, fingerprint pg_catalog.text,
              taken_at pg_catalog.timestamptz, wal_lsn pg_catalog.pg_lsn)
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_snapshot_fingerprints';
COMMENT ON FUNCTION upkeep.snapshot_fingerprints() IS
  'Store the fingerprints of every managed table the caller owns and of its archive';

CREATE FUNCTION upkeep.verify_backup_integrity()
RETURNS TABLE(check_name pg_catalog.text, object pg_catalog.text, status pg_catalog.text, detail pg_catalog.text)
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_verify_backup_integrity';
COMMENT ON FUNCTION upkeep.verify_backup_integrity() IS
  'Archive manifests, amcheck, checksums, WAL archiving, partition sets, stored fingerprints: ok / warning / failed';

------------------------------------------------------------------------------
-- Status
------------------------------------------------------------------------------

CREATE FUNCTION upkeep._policy_status(tbl pg_catalog.regclass, OUT cutoff pg_catalog.text,
                                      OUT expired_estimate pg_catalog.int8, OUT partitions pg_catalog.int4,
                                      OUT premade pg_catalog.int4, OUT default_rows pg_catalog.int8)
RETURNS pg_catalog.record
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_policy_status';

-- The size of a managed table: pg_total_relation_size, or for a Citus table whose
-- rows are in shards, their size (citus_total_relation_size); the coordinator's own
-- relation is an empty shell.
CREATE FUNCTION upkeep._table_size(tbl pg_catalog.regclass)
RETURNS pg_catalog.int8
LANGUAGE c STABLE STRICT PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_table_size';

-- One row per policy the caller may see (row-level security of upkeep.policy
-- applies: security_invoker).  Estimates only; no table is scanned (on Citus the
-- size comes from every node).
CREATE VIEW upkeep.status WITH (security_invoker = true) AS
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
COMMENT ON VIEW upkeep.status IS 'Per policy: size, estimated rows past the cutoff, partitions, last and current run, next run due';
GRANT SELECT ON upkeep.status TO PUBLIC;

------------------------------------------------------------------------------
-- Background worker
------------------------------------------------------------------------------

-- Wakes this database's worker now instead of at its next upkeep.naptime
-- (tests, or after changing policies).  false when no worker serves it.
CREATE FUNCTION upkeep.wake_worker()
RETURNS pg_catalog.bool
LANGUAGE c VOLATILE PARALLEL UNSAFE
SET search_path = pg_catalog, pg_temp
AS 'MODULE_PATHNAME', 'upkeep_wake_worker';

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

REVOKE ALL ON ALL ROUTINES IN SCHEMA upkeep FROM PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.create_monthly_partition(pg_catalog.regclass, pg_catalog.date) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.set_policy(pg_catalog.regclass, pg_catalog.name, pg_catalog.interval, pg_catalog.text,
  pg_catalog.regclass, pg_catalog.int4, pg_catalog.int4, pg_catalog.interval, pg_catalog.text, pg_catalog.name,
  pg_catalog.bool) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep._set_policy(pg_catalog.regclass, pg_catalog.name, pg_catalog.interval, pg_catalog.text,
  pg_catalog.regclass, pg_catalog.int4, pg_catalog.int4, pg_catalog.interval, pg_catalog.text, pg_catalog.name,
  pg_catalog.bool) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.drop_policy(pg_catalog.regclass) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.cleanup_old_data(pg_catalog.bool, pg_catalog.regclass) TO PUBLIC;
GRANT EXECUTE ON PROCEDURE upkeep.run_maintenance(pg_catalog.bool, pg_catalog.regclass) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep._policy_status(pg_catalog.regclass) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep._table_size(pg_catalog.regclass) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.table_fingerprint(pg_catalog.regclass) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.snapshot_fingerprints() TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.verify_backup_integrity() TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.archive_table(pg_catalog.regclass, pg_catalog.regclass, pg_catalog.interval,
  pg_catalog.name, pg_catalog.int4) TO PUBLIC;

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

-- Hashing whole rows reveals nothing the caller cannot already SELECT (row-level
-- security and column privileges apply to the query that feeds it).
GRANT EXECUTE ON FUNCTION upkeep.fingerprint_accum(pg_catalog.bytea, VARIADIC "any") TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.fingerprint_combine(pg_catalog.bytea, pg_catalog.bytea) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.fingerprint_final(pg_catalog.bytea) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.fingerprint_rows_final(pg_catalog.bytea) TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.fingerprint_agg(VARIADIC "any") TO PUBLIC;
GRANT EXECUTE ON FUNCTION upkeep.fingerprint_rows(VARIADIC "any") TO PUBLIC;

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
GRANT EXECUTE ON FUNCTION upkeep.row_hash(pg_catalog.record) TO PUBLIC;
