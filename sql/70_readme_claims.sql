-- What the README promises a DBA, claim by claim, and the edges a DBA meets
-- (logical replication, foreign-key cascades, time-zone spellings).
SET client_min_messages = warning;
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE FUNCTION claims_locks_on(p regclass) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(l.relation::regclass::text || ' ' || l.mode, ', ' ORDER BY l.relation::regclass::text, l.mode)
    FROM pg_catalog.pg_locks l
   WHERE l.pid = pg_catalog.pg_backend_pid() AND l.locktype = 'relation'
     AND l.relation IN (SELECT p UNION ALL SELECT i.inhrelid FROM pg_catalog.pg_inherits i WHERE i.inhparent = p) $$;

--------------------------------------------------------------------------
-- create_monthly_partition "blocks no reader or writer": it takes SHARE
-- UPDATE EXCLUSIVE on the parent (ATTACH's lock), never ACCESS EXCLUSIVE
--------------------------------------------------------------------------
CREATE TABLE claims_ev (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT upkeep.create_monthly_partition('claims_ev', '2024-01-01');
BEGIN;
SELECT upkeep.create_monthly_partition('claims_ev', '2024-02-01');
-- the locks this transaction holds on the set: none exclusive on the parent or the existing partition
SELECT claims_locks_on('claims_ev');
ROLLBACK;
-- with a DEFAULT partition, ATTACH takes ACCESS EXCLUSIVE on the DEFAULT partition (and only there)
CREATE TABLE claims_ev_default PARTITION OF claims_ev DEFAULT;
BEGIN;
SELECT upkeep.create_monthly_partition('claims_ev', '2024-02-01');
SELECT claims_locks_on('claims_ev');
ROLLBACK;

-- the partition made apart and attached is what CREATE TABLE ... PARTITION OF makes
CREATE TABLE claims_ref (id int PRIMARY KEY);
CREATE TABLE claims_rich (id bigint GENERATED ALWAYS AS IDENTITY, at timestamptz NOT NULL DEFAULT now(),
  ref int REFERENCES claims_ref ON DELETE CASCADE, doubled bigint GENERATED ALWAYS AS (id * 2) STORED,
  note text COLLATE "C" DEFAULT 'x', big text COMPRESSION pglz, CHECK (id > 0),
  CONSTRAINT at_sane CHECK (at > '2000-01-01'), PRIMARY KEY (id, at), UNIQUE (ref, at)) PARTITION BY RANGE (at);
ALTER TABLE claims_rich ALTER COLUMN big SET STORAGE EXTERNAL;
CREATE INDEX ON claims_rich (lower(note));
CREATE INDEX claims_rich_partial ON claims_rich (at) WHERE note IS NOT NULL;
CREATE FUNCTION claims_trg() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER r_row BEFORE INSERT ON claims_rich FOR EACH ROW EXECUTE FUNCTION claims_trg();
CREATE TRIGGER r_stmt AFTER INSERT ON claims_rich FOR EACH STATEMENT EXECUTE FUNCTION claims_trg();
CREATE TABLE claims_refs_rich (rid bigint, rat timestamptz, FOREIGN KEY (rid, rat) REFERENCES claims_rich ON DELETE SET NULL);
CREATE ROLE regress_claims_reader;
GRANT SELECT ON claims_rich TO regress_claims_reader;
CREATE TABLE claims_rich_by_hand PARTITION OF claims_rich FOR VALUES FROM ('2024-01-01+00') TO ('2024-02-01+00');
SELECT upkeep.create_monthly_partition('claims_rich', '2024-02-01');
CREATE FUNCTION claims_shape(r regclass) RETURNS SETOF text LANGUAGE sql AS $$
  SELECT 'column ' || a.attname || ' ' || pg_catalog.format_type(a.atttypid, a.atttypmod) || ' notnull=' || a.attnotnull
         || ' local=' || a.attislocal || ' inh=' || a.attinhcount || ' identity=' || a.attidentity::text
         || ' generated=' || a.attgenerated::text || ' storage=' || a.attstorage::text || ' compression=' || a.attcompression::text
         || ' collation=' || a.attcollation || ' default=' || COALESCE(pg_catalog.pg_get_expr(d.adbin, d.adrelid), '-')
    FROM pg_catalog.pg_attribute a LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = r AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT 'constraint ' || replace(k.conname, c.relname, '<p>') || ' ' || k.contype::text || ' local=' || k.conislocal
         || ' inh=' || k.coninhcount || ' cloned=' || (k.conparentid <> 0) || ' ' || pg_catalog.pg_get_constraintdef(k.oid)
    FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid WHERE k.conrelid = r
  UNION ALL
  SELECT 'index ' || replace(pg_catalog.pg_get_indexdef(i.indexrelid), c.relname, '<p>')
         || ' attached=' || EXISTS (SELECT 1 FROM pg_catalog.pg_inherits x WHERE x.inhrelid = i.indexrelid)
    FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid WHERE i.indrelid = r
  UNION ALL
  SELECT 'trigger ' || t.tgname || ' internal=' || t.tgisinternal || ' cloned=' || (t.tgparentid <> 0) || ' enabled=' || t.tgenabled::text
    FROM pg_catalog.pg_trigger t WHERE t.tgrelid = r AND NOT t.tgisinternal
  UNION ALL
  SELECT 'internal triggers ' || count(*) FROM pg_catalog.pg_trigger t WHERE t.tgrelid = r AND t.tgisinternal
  UNION ALL
  SELECT 'referenced by ' || k.conrelid::regclass::text || ' ' || regexp_replace(k.conname, '\d+$', '') || ' cloned=' || (k.conparentid <> 0)
    FROM pg_catalog.pg_constraint k WHERE k.confrelid = r
  UNION ALL
  SELECT 'table owner=' || pg_catalog.pg_get_userbyid(c.relowner)
         || ' tablespace=' || c.reltablespace || ' am=' || c.relam || ' persistence=' || c.relpersistence::text
         || ' replident=' || c.relreplident::text || ' rls=' || c.relrowsecurity || ' options=' || COALESCE(c.reloptions::text, '-')
         || ' partition=' || c.relispartition
    FROM pg_catalog.pg_class c WHERE c.oid = r $$;
SELECT s AS only_by_hand FROM claims_shape('claims_rich_by_hand') s
EXCEPT SELECT s FROM claims_shape('claims_rich_2024_02') s ORDER BY 1;
SELECT s AS only_by_upkeep FROM claims_shape('claims_rich_2024_02') s
EXCEPT SELECT s FROM claims_shape('claims_rich_by_hand') s ORDER BY 1;
SELECT count(*) > 15 AS compared_enough FROM claims_shape('claims_rich_2024_02');
-- in the parent's tablespace, as PARTITION OF puts it
SET allow_in_place_tablespaces = on;
CREATE TABLESPACE regress_claims_ts LOCATION '';
CREATE TABLE claims_spaced (at date NOT NULL) PARTITION BY RANGE (at) TABLESPACE regress_claims_ts;
CREATE TABLE claims_spaced_by_hand PARTITION OF claims_spaced FOR VALUES FROM ('2024-01-01') TO ('2024-02-01');
SELECT upkeep.create_monthly_partition('claims_spaced', '2024-02-01');
SELECT c.relname, t.spcname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_tablespace t ON t.oid = c.reltablespace
 WHERE c.relname LIKE 'claims_spaced%' ORDER BY 1;
DROP TABLE claims_spaced;
DROP TABLESPACE regress_claims_ts;
RESET allow_in_place_tablespaces;
-- (and pg_upkeep repeats the parent's grants, which PARTITION OF does not: the partition is as open as its parent)
SELECT has_table_privilege('regress_claims_reader', 'claims_rich_2024_02', 'SELECT') AS reader_may_read_new,
       has_table_privilege('regress_claims_reader', 'claims_rich_by_hand', 'SELECT') AS reader_may_read_by_hand;

--------------------------------------------------------------------------
-- "a member of the owning role": a member that inherits the role's
-- privileges; a NOINHERIT member must SET ROLE first
--------------------------------------------------------------------------
CREATE ROLE regress_claims_owner;
CREATE ROLE regress_claims_noinherit NOINHERIT IN ROLE regress_claims_owner;
GRANT CREATE ON SCHEMA public TO regress_claims_owner;
CREATE TABLE claims_owned (at date NOT NULL) PARTITION BY RANGE (at);
ALTER TABLE claims_owned OWNER TO regress_claims_owner;
SET ROLE regress_claims_noinherit;
SELECT upkeep.create_monthly_partition('claims_owned', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT relid FROM upkeep.set_policy('claims_owned', retain => '1 year');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET ROLE regress_claims_owner;
SELECT upkeep.create_monthly_partition('claims_owned', '2024-01-01');
RESET ROLE;

--------------------------------------------------------------------------
-- time zones: names PostgreSQL knows, never POSIX specifications
--------------------------------------------------------------------------
SET upkeep.partition_timezone = 'UTC+3';     -- POSIX: three hours *behind* UTC
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET upkeep.partition_timezone = '+05';       -- POSIX again: five hours behind (SET TimeZone reads it as ahead)
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SET upkeep.partition_timezone = 'EST5EDT,M3.2.0,M11.1.0';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SHOW upkeep.partition_timezone;
-- names from pg_timezone_names are taken, in any letter case, including those that look like offsets
SET upkeep.partition_timezone = 'Etc/GMT-3';
-- EST5EDT is such a name where the time-zone database lists it (Debian 13 moved it to
-- tzdata-legacy): taken exactly when pg_timezone_names lists it, refused as POSIX otherwise
DO $$
DECLARE
  listed boolean;
  taken boolean := true;
BEGIN
  SELECT pg_catalog.count(*) OPERATOR(pg_catalog.>) 0 INTO listed
    FROM pg_catalog.pg_timezone_names WHERE name OPERATOR(pg_catalog.=) 'EST5EDT';
  BEGIN
    PERFORM pg_catalog.set_config('upkeep.partition_timezone', 'EST5EDT', true);
  EXCEPTION WHEN invalid_parameter_value THEN
    taken := false;
  END;
  IF taken OPERATOR(pg_catalog.<>) listed THEN
    RAISE EXCEPTION 'EST5EDT taken: %, listed in pg_timezone_names: %', taken, listed;
  END IF;
END $$;
SET upkeep.partition_timezone = 'europe/berlin';
SHOW upkeep.partition_timezone;
RESET upkeep.partition_timezone;
CREATE TABLE claims_zoned (at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT relid FROM upkeep.set_policy('claims_zoned', retain => '1 year', timezone => 'UTC+3');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT relid FROM upkeep.set_policy('claims_zoned', retain => '1 year', timezone => '+05');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT relid, timezone FROM upkeep.set_policy('claims_zoned', retain => '1 year', timezone => 'Asia/Karachi', premake => 0);
SELECT upkeep.drop_policy('claims_zoned');

--------------------------------------------------------------------------
-- run_log: "an action with nothing to do leaves no run_log row"
--------------------------------------------------------------------------
CREATE TABLE claims_quiet (id int PRIMARY KEY, at timestamptz NOT NULL);
INSERT INTO claims_quiet SELECT g, timestamptz '2024-06-15 12:00+00' - g * interval '1 hour' FROM generate_series(1, 100) g;
SELECT relid FROM upkeep.set_policy('claims_quiet', 'at', '30 days');
CREATE TABLE claims_quiet_arc (id int PRIMARY KEY, at timestamptz NOT NULL);
INSERT INTO claims_quiet_arc SELECT * FROM claims_quiet;
SELECT relid FROM upkeep.set_policy('claims_quiet_arc', 'at', '30 days', action => 'archive');
SELECT upkeep.archive_table('claims_quiet_arc') AS moved_first;   -- makes the archive; nothing to move
SELECT count(*) AS log_rows_before FROM upkeep.run_log \gset
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data() WHERE table_name LIKE 'public.claims_quiet%' ORDER BY 1;
CALL upkeep.run_maintenance(false, 'claims_quiet');
CALL upkeep.run_maintenance(false, 'claims_quiet_arc');
SELECT upkeep.archive_table('claims_quiet_arc') AS moved;
SELECT count(*) - :log_rows_before AS new_log_rows FROM upkeep.run_log;
-- work leaves its row, as before
INSERT INTO claims_quiet VALUES (1000, '2024-01-01+00');
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(false, 'claims_quiet');
SELECT table_name, action, rows, status FROM upkeep.run_log WHERE id > (SELECT max(id) - 1 FROM upkeep.run_log) ORDER BY id;
-- and so do partitions dropped even when they held no row
CREATE TABLE claims_parts (at date NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('claims_parts', d::date)
                        FROM generate_series(date '2023-01-01', date '2024-06-01', interval '1 month') d) s;
SELECT relid FROM upkeep.set_policy('claims_parts', retain => '12 months');
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(false, 'claims_parts');
SELECT count(*) AS log_rows, max(action) AS action, max(rows) AS rows FROM upkeep.run_log WHERE table_name = 'public.claims_parts';

--------------------------------------------------------------------------
-- "a row left running by a crashed run is marked failed by the next run":
-- cleanup_old_data() is a next run too
--------------------------------------------------------------------------
INSERT INTO upkeep.run_log (run_id, relid, table_name, action, started_at, status, run_by, pid)
  VALUES (0, 'claims_quiet'::regclass, 'public.claims_quiet', 'DELETE (>30 days)', now() - interval '1 hour', 'running', 'crashed', 999999);
SELECT count(*) AS rows FROM upkeep.cleanup_old_data(false, 'claims_quiet');
SELECT status, message FROM upkeep.run_log WHERE run_by = 'crashed';
-- (not by a dry run, and rolled back with the caller's transaction)
UPDATE upkeep.run_log SET status = 'running', message = NULL, finished_at = NULL WHERE run_by = 'crashed';
SELECT count(*) AS rows FROM upkeep.cleanup_old_data(true, 'claims_quiet');
BEGIN;
SELECT count(*) AS rows FROM upkeep.cleanup_old_data(false, 'claims_quiet');
ROLLBACK;
SELECT status FROM upkeep.run_log WHERE run_by = 'crashed';
DELETE FROM upkeep.run_log WHERE run_by = 'crashed';

--------------------------------------------------------------------------
-- dry_run "reports the partitions to drop/detach and the months to premake",
-- and names the tables foreign keys would change
--------------------------------------------------------------------------
SELECT relid FROM upkeep.set_policy('claims_parts', retain => '3 months');
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(true, 'claims_parts');
-- (the partitions premake would make are named by CALL run_maintenance(dry_run => true) in its NOTICEs:
-- test/cluster/15_dba_edges.sh)
SELECT upkeep.drop_policy('claims_parts');
-- ON DELETE CASCADE / SET NULL / SET DEFAULT change other tables: a dry run names them (recursively)
CREATE TABLE claims_orders (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE claims_items (id int PRIMARY KEY, order_id int REFERENCES claims_orders ON DELETE CASCADE);
CREATE TABLE claims_item_notes (item_id int REFERENCES claims_items ON DELETE CASCADE);
CREATE TABLE claims_audit (order_id int REFERENCES claims_orders ON DELETE SET NULL);
CREATE TABLE claims_strict (order_id int REFERENCES claims_orders);   -- NO ACTION: changes nothing, fails instead
CREATE TABLE claims_tree (id int PRIMARY KEY, parent int REFERENCES claims_tree ON DELETE CASCADE,
                          order_id int REFERENCES claims_orders ON DELETE SET DEFAULT);
INSERT INTO claims_orders SELECT g, timestamptz '2024-06-15 12:00+00' - g * interval '10 days' FROM generate_series(1, 10) g;
INSERT INTO claims_items SELECT g, g FROM generate_series(1, 10) g;
INSERT INTO claims_item_notes SELECT g FROM generate_series(1, 10) g;
SELECT relid FROM upkeep.set_policy('claims_orders', 'at', '30 days');
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(true, 'claims_orders');
SELECT relid FROM upkeep.set_policy('claims_orders', action => 'archive');
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(true, 'claims_orders');
-- the real run changes them, as PostgreSQL's own DELETE would
SELECT relid FROM upkeep.set_policy('claims_orders', action => 'delete');
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(false, 'claims_orders');
SELECT (SELECT count(*) FROM claims_items) AS items_left, (SELECT count(*) FROM claims_item_notes) AS notes_left;
SELECT upkeep.drop_policy('claims_orders');

--------------------------------------------------------------------------
-- premake counts partitions, not rows; each move out of DEFAULT is
-- announced once, for the move that was kept
--------------------------------------------------------------------------
CREATE TABLE claims_pm (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE claims_pm_default PARTITION OF claims_pm DEFAULT;
SELECT upkeep.create_monthly_partition('claims_pm', '2024-06-01');
INSERT INTO claims_pm VALUES (1, '2024-07-05+00'), (2, '2024-07-06+00');
CREATE TABLE claims_pm_2024_08 (x int);   -- its name taken: that month fails, the others are made
SELECT relid FROM upkeep.set_policy('claims_pm', retain => '12 months', premake => 3);
CALL upkeep.run_maintenance(false, 'claims_pm');
-- the count is of partitions; the failure's message still tells the move that was kept, once
-- (and its NOTICE comes once: test/cluster/15_dba_edges.sh)
SELECT action, rows, status, regexp_replace(message, '^(.{40}).*?(\(.*)$', '\1…\2') AS message
  FROM upkeep.run_log WHERE table_name = 'public.claims_pm' AND action LIKE 'PREMAKE%';
SELECT tableoid::regclass, id FROM claims_pm ORDER BY id;
-- a premake that succeeds has the move as its message
DROP TABLE claims_pm_2024_08;
INSERT INTO claims_pm VALUES (3, '2024-08-03+00');   -- waits in DEFAULT for August
CALL upkeep.run_maintenance(false, 'claims_pm');
SELECT action, rows, status, message FROM upkeep.run_log
 WHERE table_name = 'public.claims_pm' AND action LIKE 'PREMAKE%' ORDER BY id DESC LIMIT 1;
SELECT tableoid::regclass, id FROM claims_pm ORDER BY id;
SELECT upkeep.drop_policy('claims_pm');

--------------------------------------------------------------------------
-- archive targets: which refusal has which SQLSTATE
--------------------------------------------------------------------------
CREATE TABLE claims_src (id int PRIMARY KEY, at timestamptz NOT NULL, v text);
CREATE UNLOGGED TABLE claims_unlogged_arc (id int, at timestamptz, archived_at timestamptz);
CREATE TABLE claims_other_owner_arc (id int, at timestamptz, v text, archived_at timestamptz);
ALTER TABLE claims_other_owner_arc OWNER TO regress_claims_owner;
CREATE TABLE claims_bad_arc (id text, at date, archived_at date);
SELECT upkeep.archive_table('claims_src', 'claims_unlogged_arc', '30 days', 'at');     -- unlogged (and missing v): 22023
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.archive_table('claims_src', 'claims_other_owner_arc', '30 days', 'at');  -- another owner: 42501
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.archive_table('claims_src', 'claims_bad_arc', '30 days', 'at');          -- every column mismatch in one 42804
\echo SQLSTATE :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------
-- logical replication: verify_backup_integrity() warns about a publication
-- that publishes a managed set's partitions one by one
--------------------------------------------------------------------------
CREATE TABLE claims_pub (at date NOT NULL, v int) PARTITION BY RANGE (at);
SELECT upkeep.create_monthly_partition('claims_pub', '2024-06-01');
SELECT relid FROM upkeep.set_policy('claims_pub', retain => '12 months');
CREATE TABLE claims_pub_unmanaged (at date NOT NULL) PARTITION BY RANGE (at);
SELECT check_name, object, status FROM upkeep.verify_backup_integrity() WHERE check_name = 'publication';
SET client_min_messages = error;   -- (no subscriber: wal_level need not be logical to create them)
CREATE PUBLICATION claims_by_partition FOR TABLE claims_pub, claims_pub_unmanaged;
CREATE PUBLICATION claims_by_root FOR TABLE claims_pub WITH (publish_via_partition_root = true);
CREATE PUBLICATION claims_by_schema FOR TABLES IN SCHEMA public;
SET client_min_messages = warning;
SELECT check_name, object, status, detail FROM upkeep.verify_backup_integrity() WHERE check_name = 'publication' ORDER BY detail;
ALTER PUBLICATION claims_by_partition SET (publish_via_partition_root = true);
ALTER PUBLICATION claims_by_schema SET (publish_via_partition_root = true);
SELECT check_name, object, status FROM upkeep.verify_backup_integrity() WHERE check_name = 'publication' ORDER BY detail;
DROP PUBLICATION claims_by_partition, claims_by_root, claims_by_schema;
SELECT upkeep.drop_policy('claims_pub');

--------------------------------------------------------------------------
-- clean up
--------------------------------------------------------------------------
SELECT upkeep.drop_policy('claims_quiet'), upkeep.drop_policy('claims_quiet_arc');
DROP TABLE claims_ev, claims_rich, claims_refs_rich, claims_ref, claims_owned, claims_zoned, claims_quiet,
  claims_quiet_arc, claims_quiet_arc_archive, claims_parts, claims_orders, claims_items, claims_item_notes,
  claims_audit, claims_strict, claims_tree, claims_pm, claims_src, claims_unlogged_arc, claims_other_owner_arc,
  claims_bad_arc, claims_pub, claims_pub_unmanaged;
DROP FUNCTION claims_locks_on(regclass), claims_shape(regclass), claims_trg();
DELETE FROM upkeep.run_log WHERE table_name LIKE 'public.claims%';
REVOKE ALL ON SCHEMA public FROM regress_claims_owner;
DROP ROLE regress_claims_noinherit, regress_claims_owner, regress_claims_reader;
