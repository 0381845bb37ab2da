-- One table's failure never stops another's maintenance, and a failed table
-- reports exactly what it kept (trust issue, items 3 and 9).
SET client_min_messages = warning;
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
SET timezone = 'UTC';
-- policies of earlier tests stay; this file looks only at its own tables (fi_*)
TRUNCATE upkeep.run_log;
CREATE FUNCTION fill(t regclass, n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('INSERT INTO %s (id, at) SELECT g, timestamptz ''2024-06-15 12:00+00'' - g * interval ''1 day'' FROM generate_series(1, %s) g ON CONFLICT DO NOTHING', t, n);
END $$;

--------------------------------------------------------------------------
-- a failure in the third batch: cleanup_old_data() keeps nothing of that
-- table (its subtransaction rolled back) and says so, with the SQLSTATE
--------------------------------------------------------------------------
CREATE TABLE fi_parent (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE INDEX ON fi_parent (at);
SELECT fill('fi_parent', 400);
CREATE TABLE fi_child (parent_id int REFERENCES fi_parent (id));
INSERT INTO fi_child VALUES (390);   -- the oldest batch is refused by the foreign key
CREATE TABLE fi_zz_logs (id int PRIMARY KEY, at timestamptz NOT NULL);
SELECT fill('fi_zz_logs', 100);
SELECT relid FROM upkeep.set_policy('fi_parent', 'at', '30 days', batch_size => 100);
SELECT relid FROM upkeep.set_policy('fi_zz_logs', 'at', '30 days');
SET upkeep.batch_method = 'pk';   -- key order: the failing row is in a later batch
SELECT table_name, regexp_replace(action, 'Key \(.*\)', 'Key (...)') AS action, rows_affected FROM upkeep.cleanup_old_data() WHERE table_name LIKE '%fi\_%' ORDER BY 1, 2;
SELECT (SELECT count(*) FROM fi_parent) AS parent_rows_kept, (SELECT count(*) FROM fi_zz_logs) AS other_table_rows;
SELECT table_name, status, rows, batches, left(message, 5) AS sqlstate FROM upkeep.run_log WHERE table_name LIKE '%fi\_%' ORDER BY id;
-- with per-batch commits the batches before the failure are kept, and counted
CALL upkeep.run_maintenance();
SELECT table_name, status, rows, batches, regexp_replace(message, 'Key \(.*\)', 'Key (...)') AS message
  FROM upkeep.run_log WHERE table_name = 'public.fi_parent' ORDER BY id DESC LIMIT 1;
SELECT count(*) AS parent_rows_left, count(*) FILTER (WHERE at < '2024-05-16 12:00+00') AS expired_left FROM fi_parent;
RESET upkeep.batch_method;
DROP TABLE fi_child;
TRUNCATE upkeep.run_log;

--------------------------------------------------------------------------
-- a failure while setting a table up (its owner may not create the
-- default archive): logged as failed, the other tables run, in
-- cleanup_old_data() and CALL run_maintenance() alike
--------------------------------------------------------------------------
CREATE ROLE regress_upkeep_fi_owner;
CREATE SCHEMA fi_locked;
GRANT USAGE ON SCHEMA fi_locked TO regress_upkeep_fi_owner;   -- no CREATE
CREATE TABLE fi_locked.orders (id int PRIMARY KEY, at timestamptz NOT NULL);
SELECT fill('fi_locked.orders', 60);
ALTER TABLE fi_locked.orders OWNER TO regress_upkeep_fi_owner;
SELECT relid FROM upkeep.set_policy('fi_locked.orders', 'at', '30 days', action => 'archive');
SELECT fill('fi_zz_logs', 100);
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data() WHERE table_name LIKE '%fi\_%' ORDER BY 1, 2;
SELECT fill('fi_zz_logs', 100);
CALL upkeep.run_maintenance();
SELECT table_name, action, status, rows FROM upkeep.run_log WHERE table_name LIKE '%fi\_%' ORDER BY id;
SELECT (SELECT count(*) FROM fi_locked.orders) AS orders_kept, (SELECT count(*) FROM fi_zz_logs) AS logs_left,
       to_regclass('fi_locked.orders_archive') AS archive;
SELECT upkeep.drop_policy('fi_locked.orders');
TRUNCATE upkeep.run_log;

--------------------------------------------------------------------------
-- a deferred foreign key: with per-batch commits the batch checks it at
-- once (PostgreSQL cannot defer inside the owner's restricted context), so
-- a violation fails that table with the violation, and the next table runs
--------------------------------------------------------------------------
CREATE TABLE fi_deferred (id int PRIMARY KEY, at timestamptz NOT NULL);
SELECT fill('fi_deferred', 60);
CREATE TABLE fi_deferred_ref (parent_id int REFERENCES fi_deferred (id) DEFERRABLE INITIALLY DEFERRED);
INSERT INTO fi_deferred_ref VALUES (50);
SELECT relid FROM upkeep.set_policy('fi_deferred', 'at', '30 days');
SELECT fill('fi_zz_logs', 100);
CALL upkeep.run_maintenance();
SELECT table_name, status, rows, regexp_replace(message, 'Key \(.*\)', 'Key (...)') AS message FROM upkeep.run_log WHERE table_name LIKE '%fi\_%' ORDER BY id;
SELECT (SELECT count(*) FROM fi_deferred) AS deferred_rows_kept, (SELECT count(*) FROM fi_zz_logs) AS logs_left;
-- unreferenced rows go: a deferred foreign key alone does not stop maintenance
DELETE FROM fi_deferred_ref;
CALL upkeep.run_maintenance(tbl => 'fi_deferred');
SELECT count(*) AS deferred_rows_left FROM fi_deferred;
SELECT upkeep.drop_policy('fi_deferred');
TRUNCATE upkeep.run_log;

--------------------------------------------------------------------------
-- a commit that fails (fault point "commit", inside our own commit): the
-- batch it carried is gone, that table fails, the session stays usable, the
-- next table runs
--------------------------------------------------------------------------
SELECT fill('fi_deferred', 60);
SELECT relid FROM upkeep.set_policy('fi_deferred', 'at', '30 days');
SELECT fill('fi_zz_logs', 100);
SET upkeep.fault_points = 'commit:error:3';   -- 1: run start, 2: fi_deferred's run_log row, 3: its first batch
CALL upkeep.run_maintenance();
RESET upkeep.fault_points;
SELECT table_name, status, rows, message FROM upkeep.run_log WHERE table_name LIKE '%fi\_%' ORDER BY id;
SELECT (SELECT count(*) FROM fi_deferred) AS deferred_rows_kept, (SELECT count(*) FROM fi_zz_logs) AS logs_left;
SELECT count(*) AS still_usable FROM upkeep.policy;
SELECT upkeep.drop_policy('fi_deferred');
TRUNCATE upkeep.run_log;

--------------------------------------------------------------------------
-- a failure in a table's set-up, by fault point: the next table runs
--------------------------------------------------------------------------
SELECT fill('fi_zz_logs', 100);
CREATE TABLE fi_aa_first (id int PRIMARY KEY, at timestamptz NOT NULL);
SELECT fill('fi_aa_first', 50);
SELECT relid FROM upkeep.set_policy('fi_aa_first', 'at', '30 days');
SET upkeep.fault_points = 'table-setup:error:1';
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data() WHERE table_name LIKE '%fi\_%' ORDER BY 1, 2;
SELECT fill('fi_aa_first', 50);
SELECT fill('fi_zz_logs', 100);
SET upkeep.fault_points = 'table-setup:error:1';
CALL upkeep.run_maintenance();
RESET upkeep.fault_points;
SELECT table_name, action, status, rows FROM upkeep.run_log WHERE table_name LIKE '%fi\_%' ORDER BY id;
SELECT (SELECT count(*) FROM fi_aa_first) AS first_rows, (SELECT count(*) FROM fi_zz_logs) AS logs_left;
TRUNCATE upkeep.run_log;

--------------------------------------------------------------------------
-- a failing ANALYZE after the deletes is reported for its table only
--------------------------------------------------------------------------
CREATE FUNCTION fi_bomb(int) RETURNS int LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN IF current_setting('fi.armed', true) = 'on' THEN RAISE EXCEPTION 'analyze bomb'; END IF; RETURN $1; END $$;
CREATE INDEX ON fi_aa_first (public.fi_bomb(id));
SELECT fill('fi_aa_first', 50);
SELECT fill('fi_zz_logs', 100);
SET fi.armed = 'on';
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data() WHERE table_name LIKE '%fi\_%' ORDER BY 1, 2;
RESET fi.armed;
SELECT table_name, action, status, message FROM upkeep.run_log WHERE action = 'ANALYZE' AND table_name LIKE '%fi\_%' ORDER BY id;

--------------------------------------------------------------------------
-- a cutoff at or after now deletes nothing: a policy stored before retain
-- was validated ('1 mon -29 days', as 0.1.0 accepted) fails on 2023-03-01
--------------------------------------------------------------------------
CREATE TABLE fi_march (id int PRIMARY KEY, at timestamptz NOT NULL);
INSERT INTO fi_march SELECT g, timestamptz '2023-03-01 12:00+00' - g * interval '1 hour' FROM generate_series(1, 100) g;
SELECT relid FROM upkeep.set_policy('fi_march', 'at', '1 day');
UPDATE upkeep.policy SET retain = '1 mon -29 days' WHERE relid = 'fi_march'::regclass;
SET upkeep.debug_now = '2023-03-01 12:00:00+00';
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'fi_march');
CALL upkeep.run_maintenance(tbl => 'fi_march');
SELECT status, message FROM upkeep.run_log WHERE table_name = 'public.fi_march' ORDER BY id;
SELECT count(*) AS march_rows_kept FROM fi_march;
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
SELECT upkeep.drop_policy('fi_march');
DROP TABLE fi_march;

DROP TABLE fi_parent, fi_zz_logs, fi_deferred, fi_deferred_ref, fi_aa_first, fi_locked.orders;
DROP SCHEMA fi_locked;
DROP ROLE regress_upkeep_fi_owner;
DROP FUNCTION fill(regclass, int), fi_bomb(int);
