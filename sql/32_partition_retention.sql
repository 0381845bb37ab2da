-- Partitioned policies: drop / detach whole expired partitions, premake.
SET client_min_messages = warning;
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE FUNCTION part_rows(p regclass) RETURNS TABLE(partition text, bounds text, rows bigint)
LANGUAGE plpgsql SET timezone = 'UTC' SET datestyle = 'ISO, YMD' AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT c.oid::regclass AS rel, pg_catalog.pg_get_expr(c.relpartbound, c.oid) AS b
             FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
            WHERE i.inhparent = p ORDER BY c.oid::regclass::text LOOP
    partition := r.rel::text; bounds := r.b;
    EXECUTE format('SELECT count(*) FROM %s', r.rel) INTO rows;
    RETURN NEXT;
  END LOOP;
END $$;

CREATE TABLE sales (id bigint, day date NOT NULL, amount numeric) PARTITION BY RANGE (day);
SELECT upkeep.create_monthly_partition('sales', d::date) FROM generate_series('2024-01-01'::date, '2024-06-01', '1 month') d;
CREATE TABLE sales_default PARTITION OF sales DEFAULT;
INSERT INTO sales SELECT g, '2024-01-01'::date + (g % 180), g FROM generate_series(1, 1800) g;
INSERT INTO sales VALUES (0, '2023-06-01', 1);   -- an old row in DEFAULT
ANALYZE sales;
SELECT relid, time_column, action FROM upkeep.set_policy('sales', retain => '3 months');
SELECT * FROM part_rows('sales');

-- the cutoff is 2024-03-15: January and February are wholly before it; March straddles it and stays
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(dry_run => true);
SELECT count(*) AS partitions_after_dry_run FROM pg_inherits WHERE inhparent = 'sales'::regclass;
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data();
SELECT * FROM part_rows('sales');
SELECT to_regclass('sales_2024_01') AS jan, to_regclass('sales_2024_02') AS feb;
-- rows of the straddling month older than the cutoff stay, as does DEFAULT
SELECT count(*) AS march_rows_before_cutoff FROM sales_2024_03 WHERE day < '2024-03-15';
SELECT run.table_name, run.action, run.rows, run.status, run.message FROM upkeep.run_log run WHERE run.table_name = 'public.sales';
-- dropped partitions' rows are the planner's estimate: statistics scaled to the pages there are now; a
-- partition analyzed while empty and filled since is counted, not reported as "0 rows"
CREATE TABLE stale (id int, day date NOT NULL) PARTITION BY RANGE (day);
SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('stale', d::date) FROM generate_series('2024-01-01'::date, '2024-06-01', '1 month') d) s;
ANALYZE stale;   -- every partition analyzed while empty
INSERT INTO stale SELECT g, '2024-01-01'::date + (g % 150) FROM generate_series(1, 1500) g;
SELECT relid FROM upkeep.set_policy('stale', retain => '3 months');
SELECT (SELECT count(*) FROM stale WHERE day < '2024-03-01') AS rows_in_expired_months;
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'stale');
SELECT upkeep.drop_policy('stale');
DROP TABLE stale;

-- one expired partition still referenced by a foreign key: the others go, that one is reported
CREATE TABLE refs (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('refs', d::date) FROM generate_series('2024-01-01'::date, '2024-06-01', '1 month') d) s;
ALTER TABLE refs_2024_02 ADD CONSTRAINT refs_feb_id UNIQUE (id);
INSERT INTO refs VALUES (7, '2024-02-10');
CREATE TABLE refs_child (id bigint REFERENCES refs_2024_02 (id));
INSERT INTO refs_child VALUES (7);
SELECT relid FROM upkeep.set_policy('refs', retain => '3 months', premake => 0);
CALL upkeep.run_maintenance(tbl => 'refs');
SELECT part_rows.partition FROM part_rows('refs');
SELECT action, status, rows, batches, message ~ 'refs_child' AS names_the_reference FROM upkeep.run_log
 WHERE table_name = 'public.refs' AND action LIKE 'DROP%';
DROP TABLE refs_child, refs;

-- a set never loses its newest partition, even when everything expired
CREATE TABLE old_set (day date NOT NULL) PARTITION BY RANGE (day);
SELECT upkeep.create_monthly_partition('old_set', d::date) FROM generate_series('2020-01-01'::date, '2020-03-01', '1 month') d;
SELECT relid FROM upkeep.set_policy('old_set', retain => '1 month', premake => 0);
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'old_set');
SELECT partition FROM part_rows('old_set');

-- hand-made bounds read right: MINVALUE and MAXVALUE, a gap, a DEFAULT, a timestamptz key
CREATE TABLE mixed (at timestamptz NOT NULL, v int) PARTITION BY RANGE (at);
CREATE TABLE mixed_ancient PARTITION OF mixed FOR VALUES FROM (MINVALUE) TO ('2023-01-01 00:00+00');
SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('mixed', d::date) FROM generate_series('2024-02-01'::date, '2024-06-01', '1 month') d) s;
CREATE TABLE mixed_future PARTITION OF mixed FOR VALUES FROM ('2024-09-01 00:00+00') TO (MAXVALUE);
CREATE TABLE mixed_default PARTITION OF mixed DEFAULT;
INSERT INTO mixed VALUES ('2022-05-01+00', 1), ('2023-06-01+00', 2), ('2024-02-10+00', 3), ('2030-01-01+00', 4);
SELECT relid FROM upkeep.set_policy('mixed', retain => '3 months', premake => 4);
-- ancient (upper bound 2023-01-01) and February 2024 expire; July and August are missing, September on is covered
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'mixed', dry_run => true);
CALL upkeep.run_maintenance(tbl => 'mixed');
SELECT * FROM part_rows('mixed');

-- detach: partitions leave the set but keep their rows, optionally in another schema
CREATE SCHEMA cold;
CREATE TABLE visits (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT upkeep.create_monthly_partition('visits', d::date) FROM generate_series('2024-01-01'::date, '2024-06-01', '1 month') d;
INSERT INTO visits SELECT g, timestamptz '2024-01-01 00:00+00' + g * interval '1 hour' FROM generate_series(0, 24 * 150) g;
SELECT relid, action, detach_schema FROM upkeep.set_policy('visits', retain => '4 months', action => 'detach', detach_schema => 'cold');
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'visits');
SELECT partition FROM part_rows('visits');
SELECT c.oid::regclass AS detached, c.relispartition, (SELECT count(*) FROM cold.visits_2024_01) AS jan_rows
  FROM pg_class c WHERE c.relnamespace = 'cold'::regnamespace AND c.relkind = 'r' ORDER BY c.oid::regclass::text;

--------------------------------------------------------------------------
-- CALL run_maintenance(): premake and gap filling, commits per batch
--------------------------------------------------------------------------
CREATE TABLE metrics (at timestamptz NOT NULL, v float8) PARTITION BY RANGE (at);
SELECT upkeep.create_monthly_partition('metrics', '2024-04-01');
SELECT upkeep.create_monthly_partition('metrics', '2024-06-01');   -- May is missing
SELECT relid, premake FROM upkeep.set_policy('metrics', retain => '12 months', premake => 2);
-- dry run: says what it would create, creates nothing
CALL upkeep.run_maintenance(dry_run => true, tbl => 'metrics');
SELECT count(*) AS partitions_after_dry_run FROM pg_inherits WHERE inhparent = 'metrics'::regclass;
CALL upkeep.run_maintenance(tbl => 'metrics');
SELECT partition, bounds FROM part_rows('metrics');
SELECT action, rows, status FROM upkeep.run_log WHERE table_name = 'public.metrics' ORDER BY id;
-- in the configured zone: Berlin months start at 22:00 or 23:00 UTC
CREATE TABLE metrics_berlin (at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT relid, timezone FROM upkeep.set_policy('metrics_berlin', retain => '1 year', premake => 1, timezone => 'Europe/Berlin');
CALL upkeep.run_maintenance(tbl => 'metrics_berlin');
SELECT partition, bounds FROM part_rows('metrics_berlin');
-- every policy once (premakes the other sets), then steady state: nothing to do, nothing logged
CALL upkeep.run_maintenance();
SELECT count(*) AS log_rows_before FROM upkeep.run_log \gset
CALL upkeep.run_maintenance();
SELECT count(*) - :log_rows_before AS new_log_rows_when_idle FROM upkeep.run_log;
-- a procedure that commits cannot run inside a transaction block; a dry run can
BEGIN;
CALL upkeep.run_maintenance();
\echo SQLSTATE :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
CALL upkeep.run_maintenance(dry_run => true);
COMMIT;

DROP TABLE sales, old_set, mixed, visits, metrics, metrics_berlin CASCADE;
DROP SCHEMA cold CASCADE;
DROP FUNCTION part_rows(regclass);
