-- Archival: archive_table() and archive policies.  Rows move exactly once.
SET client_min_messages = warning;
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';
CREATE ROLE regress_upkeep_arch_owner;
CREATE ROLE regress_upkeep_arch_other;
GRANT CREATE ON SCHEMA public TO regress_upkeep_arch_owner;

-- a source with an identity key, a generated column, a default, and a DELETE trigger
CREATE TABLE events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  at timestamptz NOT NULL,
  payload text DEFAULT 'none',
  size int GENERATED ALWAYS AS (length(payload)) STORED
);
CREATE INDEX ON events (at);
CREATE TABLE events_deleted (id bigint);
CREATE FUNCTION note_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.events_deleted VALUES (OLD.id); RETURN OLD; END $$;
CREATE TRIGGER note_delete AFTER DELETE ON events FOR EACH ROW EXECUTE FUNCTION note_delete();
INSERT INTO events (at, payload) SELECT timestamptz '2024-06-15 12:00+00' - g * interval '1 hour', repeat('x', g % 7)
  FROM generate_series(1, 2000) g;
ALTER TABLE events OWNER TO regress_upkeep_arch_owner;
ALTER TABLE events_deleted OWNER TO regress_upkeep_arch_owner;
CREATE TEMP TABLE before AS SELECT id, at, payload, size FROM events;

-- the owner archives rows older than 30 days; <source>_archive is created on first use
SET ROLE regress_upkeep_arch_owner;
SELECT upkeep.archive_table('events', older_than => '30 days', time_column => 'at', batch_size => 300) AS moved;
RESET ROLE;
-- every row is in exactly one place, with the same values
SELECT (SELECT count(*) FROM events) AS source, (SELECT count(*) FROM events_archive) AS archive,
       (SELECT count(*) FROM before) AS original,
       (SELECT count(*) FROM events e JOIN events_archive a USING (id)) AS in_both,
       (SELECT count(*) FROM before b WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.id = b.id)
                                         AND NOT EXISTS (SELECT 1 FROM events_archive a WHERE a.id = b.id)) AS in_neither,
       (SELECT count(*) FROM events_archive a JOIN before b USING (id)
         WHERE (a.at, a.payload, a.size) IS DISTINCT FROM (b.at, b.payload, b.size)) AS changed_values,
       (SELECT min(at) >= '2024-05-16 12:00+00' FROM events) AS only_recent_left,
       (SELECT count(*) FROM events_deleted) AS delete_trigger_fired;
-- the archive: the source's columns, archived_at, the source's primary key, the source's owner
SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod) AS type, a.attnotnull, a.attgenerated <> '' AS generated,
       a.attidentity <> '' AS identity
  FROM pg_attribute a WHERE a.attrelid = 'events_archive'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum;
SELECT pg_catalog.pg_get_constraintdef(oid) AS primary_key FROM pg_constraint WHERE conrelid = 'events_archive'::regclass AND contype = 'p';
SELECT pg_catalog.pg_get_userbyid(relowner) AS owner, relpersistence FROM pg_class WHERE oid = 'events_archive'::regclass;
-- one manifest row per batch: counts add up, key and time ranges, a content hash
SELECT count(*) AS batches, sum(row_count) AS rows, bool_and(length(content_hash) = 32) AS hashed,
       bool_and(method = 'rows') AS by_rows, min(key_min::bigint) AS first_key, max(key_max::bigint) AS last_key,
       max(row_count) <= 300 AS bounded, count(DISTINCT content_hash) = count(*) AS distinct_hashes,
       min(columns::text) AS columns
  FROM upkeep.archive_manifest WHERE archive = 'events_archive'::regclass;
-- nothing left: a second call moves nothing and records nothing
SELECT upkeep.archive_table('events', older_than => '30 days', time_column => 'at') AS moved_again;
SELECT count(*) AS manifest_rows FROM upkeep.archive_manifest;

--------------------------------------------------------------------------
-- an existing archive is checked up front
--------------------------------------------------------------------------
CREATE TABLE src (id int PRIMARY KEY, at timestamptz NOT NULL, note varchar(20), amount numeric(10, 2));
INSERT INTO src SELECT g, timestamptz '2024-06-15 12:00+00' - g * interval '1 day', 'n' || g, g FROM generate_series(1, 100) g;
-- compatible: wider types, an extra nullable column, an identity column, columns in another order;
-- archived_at NOT NULL without a default: pg_upkeep sets it to the batch's time itself
CREATE TABLE src_wide (amount numeric, note text, id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at timestamptz NOT NULL, extra text,
                       archived_at timestamptz NOT NULL);
SELECT upkeep.archive_table('src', 'src_wide', '60 days', 'at') AS moved_to_wide;
SELECT count(*) AS wide_rows, min(id), max(id), count(*) FILTER (WHERE archived_at = (SELECT max(m.archived_at) FROM upkeep.archive_manifest m
       WHERE m.archive = 'src_wide'::regclass)) AS stamped_with_the_batch_time FROM src_wide;
-- an archive whose BEFORE INSERT trigger rewrites rows: the manifest hashes what the archive stored
CREATE TABLE src_shouting (id int PRIMARY KEY, at timestamptz NOT NULL, note varchar(20), amount numeric(10, 2),
                           archived_at timestamptz NOT NULL DEFAULT now());
CREATE FUNCTION public.shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.note := upper(NEW.note); RETURN NEW; END $$;
CREATE TRIGGER shout BEFORE INSERT ON src_shouting FOR EACH ROW EXECUTE FUNCTION public.shout();
SELECT upkeep.archive_table('src', 'src_shouting', '50 days', 'at') AS moved_to_shouting;
SELECT min(note) AS stored_as FROM src_shouting;
SELECT status FROM upkeep.verify_backup_integrity() WHERE check_name = 'archive_manifest' AND object = 'public.src_shouting';
-- incompatible: every mismatch is listed, nothing moves
CREATE TABLE src_bad (id text, at timestamptz NOT NULL, amount numeric GENERATED ALWAYS AS (1) STORED, must int NOT NULL);
SELECT upkeep.archive_table('src', 'src_bad', '30 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS src_rows_unchanged FROM src;
CREATE TEMP TABLE src_temp (LIKE src);
\set VERBOSITY sqlstate
SELECT upkeep.archive_table('src', 'src_temp', '30 days', 'at');   -- (the temp schema's name varies)
\set VERBOSITY default
CREATE UNLOGGED TABLE src_unlogged (LIKE src);
SELECT upkeep.archive_table('src', 'src_unlogged', '30 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE src_foreign_owner (LIKE src);
ALTER TABLE src_foreign_owner OWNER TO regress_upkeep_arch_other;
SELECT upkeep.archive_table('src', 'src_foreign_owner', '30 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.archive_table('src', 'pg_catalog.pg_class', '30 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.archive_table('pg_catalog.pg_class', NULL, '30 days', 'relname');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the rule set_policy applies: no temporary table, no TOAST table (their schemas' names vary)
CREATE TEMP TABLE arch_temp (at timestamptz);
\set VERBOSITY sqlstate
SELECT upkeep.archive_table('arch_temp', NULL, '30 days', 'at');
SELECT upkeep.archive_table(c.reltoastrelid::pg_catalog.regclass, NULL, '30 days', 'at')
  FROM pg_catalog.pg_class c WHERE c.oid = 'src_wide'::pg_catalog.regclass AND c.reltoastrelid <> 0;
\set VERBOSITY default
DROP TABLE arch_temp;
SELECT upkeep.archive_table('src', 'src', '30 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- bad arguments
SELECT upkeep.archive_table(NULL, NULL, '30 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.archive_table('src', NULL, NULL, 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.archive_table('src', NULL, '0 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.archive_table('src', NULL, '-5 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.archive_table('src', NULL, '30 days', 'at', 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.archive_table('src', NULL, '30 days', 'note');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.archive_table('src', NULL, '30 days');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a non-owner is refused before anything happens (even with every privilege on both tables)
GRANT ALL ON src, src_wide TO regress_upkeep_arch_other;
SET ROLE regress_upkeep_arch_other;
SELECT upkeep.archive_table('src', 'src_wide', '30 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT (SELECT count(*) FROM src) AS src_rows, (SELECT count(*) FROM src_wide) AS wide_rows;
-- a squatter holding <source>_archive that is not the owner's is never adopted
CREATE TABLE squat (id int, at timestamptz NOT NULL);
ALTER TABLE squat OWNER TO regress_upkeep_arch_owner;
CREATE TABLE squat_archive (id int, at timestamptz NOT NULL, archived_at timestamptz DEFAULT now());
ALTER TABLE squat_archive OWNER TO regress_upkeep_arch_other;
SET ROLE regress_upkeep_arch_owner;
SELECT upkeep.archive_table('squat', older_than => '1 day', time_column => 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

--------------------------------------------------------------------------
-- archive policies run through cleanup_old_data() and run_maintenance()
--------------------------------------------------------------------------
CREATE TABLE orders (id bigint PRIMARY KEY, placed timestamptz NOT NULL, total numeric);
INSERT INTO orders SELECT g, timestamptz '2024-06-15 12:00+00' - g * interval '6 hours', g FROM generate_series(1, 800) g;
SELECT relid, action, archive_to FROM upkeep.set_policy('orders', 'placed', '90 days', action => 'archive', batch_size => 100);
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(dry_run => true, tbl => 'orders');
SELECT to_regclass('orders_archive') AS archive_before_real_run;
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'orders');
SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM orders_archive) AS conserved,
       (SELECT count(*) FROM orders_archive) AS archived;
-- the procedure: same work, a commit per batch (each batch its own archived_at)
UPDATE orders SET placed = placed - interval '30 days' WHERE id BETWEEN 200 AND 360;
CALL upkeep.run_maintenance(tbl => 'orders');
SELECT (SELECT count(*) FROM orders) + (SELECT count(*) FROM orders_archive) AS conserved,
       (SELECT count(*) FROM orders_archive) AS archived,
       (SELECT count(DISTINCT archived_at) FROM orders_archive) > 1 AS several_batches_committed;
SELECT sum(row_count) AS manifest_rows_total FROM upkeep.archive_manifest WHERE archive = 'orders_archive'::regclass;

--------------------------------------------------------------------------
-- a partitioned source moves whole partitions: no row is copied
--------------------------------------------------------------------------
CREATE TABLE readings (id bigint NOT NULL, at date NOT NULL, v float8, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('readings', d::date)
                        FROM generate_series('2024-01-01'::date, '2024-06-01', '1 month') d) s;
CREATE TABLE readings_old PARTITION OF readings FOR VALUES FROM (MINVALUE) TO ('2024-01-01');
INSERT INTO readings SELECT g, '2024-01-01'::date + (g % 180), g FROM generate_series(1, 3600) g;
INSERT INTO readings VALUES (0, '2019-05-05', 0);
ANALYZE readings;
CREATE TEMP TABLE file_nodes AS SELECT c.relname, c.relfilenode FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid
  WHERE i.inhparent = 'readings'::regclass;
SELECT relid, action FROM upkeep.set_policy('readings', retain => '3 months', action => 'archive');
-- partitions made before the archive policy carry no bounds CHECK; one made after it does
SELECT upkeep.create_monthly_partition('readings', '2024-07-01');
SELECT c.relname, k.conname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  LEFT JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'c'
 WHERE i.inhparent = 'readings'::regclass AND c.relname IN ('readings_2024_01', 'readings_2024_07') ORDER BY 1;
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'readings');
-- the archive is partitioned the same way and now holds the expired months, same files
SELECT c.oid::regclass AS partition, pg_get_expr(c.relpartbound, c.oid) AS bounds,
       c.relfilenode = f.relfilenode AS same_relfilenode, c.relnatts AS columns
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid LEFT JOIN file_nodes f ON f.relname = replace(c.relname::text, 'readings_archive', 'readings')
 WHERE i.inhparent = 'readings_archive'::regclass ORDER BY c.oid::regclass::text;
SELECT pg_get_partkeydef('readings_archive'::regclass) AS archive_partitioning;
-- partitions made before the policy were given a bounds CHECK first (NOT VALID, then VALIDATE: no scan under the move's lock)
SELECT c.relname, k.conname, k.convalidated, pg_get_constraintdef(k.oid) AS def FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
  JOIN pg_constraint k ON k.conrelid = c.oid AND k.contype = 'c'
 WHERE i.inhparent = 'readings_archive'::regclass ORDER BY 1;
SELECT action, rows, batches FROM upkeep.run_log WHERE table_name = 'public.readings' AND action LIKE 'ARCHIVE%';
SELECT (SELECT count(*) FROM readings) AS source, (SELECT count(*) FROM readings_archive) AS archive,
       (SELECT count(*) FROM readings_archive WHERE archived_at IS NULL) AS without_archived_at;
-- a moved partition counts: the manifest has its exact rows and their content hash (no rows are copied)
SELECT m.method, m.partition_name, m.time_min, m.time_max, m.row_count,
       m.row_count = (SELECT count(*) FROM readings_archive a WHERE a.tableoid = pg_catalog.to_regclass(m.partition_name)) AS exact,
       length(m.content_hash) = 32 AS hashed
  FROM upkeep.archive_manifest m WHERE m.archive = 'readings_archive'::regclass ORDER BY m.id;
SELECT status, detail FROM upkeep.verify_backup_integrity() WHERE check_name = 'archive_manifest' AND object = 'public.readings_archive';
-- and is as verifiable as a batch of rows: a changed or deleted row inside it fails the manifest check
UPDATE readings_archive SET v = -1 WHERE id = (SELECT min(id) FROM readings_archive WHERE at >= '2024-02-01' AND at < '2024-03-01');
SELECT status, regexp_replace(regexp_replace(detail, '[0-9a-f]{32}', '<hash>', 'g'), 'batch [0-9]+', 'batch <id>') AS detail
  FROM upkeep.verify_backup_integrity() WHERE check_name = 'archive_manifest' AND object = 'public.readings_archive';
UPDATE readings_archive SET v = id WHERE at >= '2024-02-01' AND at < '2024-03-01' AND v = -1;
-- the source's month names are free again
SELECT to_regclass('readings_2024_01') AS old_name;

--------------------------------------------------------------------------
-- rows removed from the source = rows that landed in the archive, per batch
--------------------------------------------------------------------------
CREATE TABLE lossy (id int PRIMARY KEY, at timestamptz NOT NULL);
INSERT INTO lossy SELECT g, timestamptz '2024-06-15 12:00+00' - g * interval '1 day' FROM generate_series(1, 100) g;
CREATE TABLE lossy_archive (LIKE lossy, archived_at timestamptz NOT NULL DEFAULT now());
-- a BEFORE INSERT trigger that drops the odd rows on their way into the archive
CREATE FUNCTION public.drop_odd() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.id % 2 = 1 THEN RETURN NULL; END IF; RETURN NEW; END $$;
CREATE TRIGGER drop_odd BEFORE INSERT ON lossy_archive FOR EACH ROW EXECUTE FUNCTION public.drop_odd();
SELECT upkeep.archive_table('lossy', 'lossy_archive', '30 days', 'at', batch_size => 20);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM lossy) AS source_rows_kept, (SELECT count(*) FROM lossy_archive) AS archive_rows,
       (SELECT count(*) FROM upkeep.archive_manifest WHERE archive = 'lossy_archive'::regclass) AS manifests;
-- the same through a policy: that table fails with the message, nothing is lost, the others run
SELECT relid FROM upkeep.set_policy('lossy', 'at', '30 days', action => 'archive', archive_to => 'lossy_archive', batch_size => 20);
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'lossy');
CALL upkeep.run_maintenance(tbl => 'lossy');
SELECT status, rows, message FROM upkeep.run_log WHERE table_name = 'public.lossy' ORDER BY id;
SELECT (SELECT count(*) FROM lossy) AS source_rows_kept, (SELECT count(*) FROM lossy_archive) AS archive_rows;
-- an inheritance archive whose routing trigger sends rows to a child and returns NULL: refused the same way
DROP TRIGGER drop_odd ON lossy_archive;
CREATE TABLE lossy_archive_child () INHERITS (lossy_archive);
CREATE FUNCTION public.route() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO public.lossy_archive_child VALUES (NEW.*); RETURN NULL; END $$;
CREATE TRIGGER route BEFORE INSERT ON lossy_archive FOR EACH ROW EXECUTE FUNCTION public.route();
SELECT upkeep.archive_table('lossy', 'lossy_archive', '30 days', 'at', batch_size => 20);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT (SELECT count(*) FROM lossy) AS source_rows_kept, (SELECT count(*) FROM ONLY lossy_archive_child) AS child_rows;
SELECT upkeep.drop_policy('lossy');
DROP TABLE lossy, lossy_archive CASCADE;
DROP FUNCTION public.drop_odd(), public.route();

--------------------------------------------------------------------------
-- an archive that would route rows back into the source is refused
--------------------------------------------------------------------------
CREATE TABLE circle (id int, at timestamptz NOT NULL, archived_at timestamptz) PARTITION BY RANGE (at);
CREATE TABLE circle_old PARTITION OF circle FOR VALUES FROM (MINVALUE) TO ('2024-01-01');
CREATE TABLE circle_new PARTITION OF circle FOR VALUES FROM ('2024-01-01') TO (MAXVALUE);
-- circle_new is a partition of circle: archiving circle_new into circle would put the rows back into circle_new
SELECT upkeep.archive_table('circle_new', 'circle', '30 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT relid FROM upkeep.set_policy('circle_new', 'at', '30 days', action => 'archive', archive_to => 'circle');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- an inheritance child as the source of its parent, and a child as the archive of its parent
CREATE TABLE heir_parent (id int, at timestamptz NOT NULL, archived_at timestamptz);
CREATE TABLE heir_child () INHERITS (heir_parent);
SELECT upkeep.archive_table('heir_child', 'heir_parent', '30 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE heir_top (id int, at timestamptz NOT NULL);
CREATE TABLE heir_below (archived_at timestamptz) INHERITS (heir_top);
SELECT upkeep.archive_table('heir_top', 'heir_below', '30 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS policies_made FROM upkeep.policy WHERE relid::text IN ('circle_new', 'heir_child', 'heir_top');
DROP TABLE circle, heir_parent, heir_top CASCADE;

--------------------------------------------------------------------------
-- archived_at is required (pg_upkeep sets it) and must be a timestamptz
--------------------------------------------------------------------------
CREATE TABLE stampless (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE stampless_archive (LIKE stampless);
SELECT upkeep.archive_table('stampless', 'stampless_archive', '30 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT relid FROM upkeep.set_policy('stampless', 'at', '30 days', action => 'archive', archive_to => 'stampless_archive');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ALTER TABLE stampless_archive ADD COLUMN archived_at date;
SELECT upkeep.archive_table('stampless', 'stampless_archive', '30 days', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DROP TABLE stampless, stampless_archive;

DROP TABLE src_shouting;
DROP FUNCTION public.shout();
DROP TABLE events, events_archive, events_deleted, src, src_wide, src_bad, src_unlogged, src_foreign_owner, squat,
  squat_archive, orders, orders_archive, readings, readings_archive CASCADE;
DROP FUNCTION note_delete();
REVOKE ALL ON SCHEMA public FROM regress_upkeep_arch_owner;
DROP ROLE regress_upkeep_arch_owner, regress_upkeep_arch_other;
