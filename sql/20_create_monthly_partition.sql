-- upkeep.create_monthly_partition(parent regclass, month date) RETURNS regclass
SET client_min_messages = notice;

-- helper: partitions of a parent with their bounds, rendered in UTC
CREATE FUNCTION parts(p regclass) RETURNS TABLE(partition text, owner name, bounds text)
LANGUAGE sql SET timezone = 'UTC' SET datestyle = 'ISO, YMD' AS $$
  SELECT c.oid::regclass::text, pg_catalog.pg_get_userbyid(c.relowner), pg_catalog.pg_get_expr(c.relpartbound, c.oid)
    FROM pg_catalog.pg_inherits i JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
   WHERE i.inhparent = p ORDER BY 1
$$;

--------------------------------------------------------------------------
-- date, timestamp and timestamptz keys
--------------------------------------------------------------------------
CREATE TABLE d_events (id int, day date NOT NULL) PARTITION BY RANGE (day);
CREATE TABLE ts_events (id int, at timestamp NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE tz_events (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);

SELECT upkeep.create_monthly_partition('d_events', '2024-01-17');
SELECT upkeep.create_monthly_partition('ts_events', '2024-01-31');
SELECT upkeep.create_monthly_partition('tz_events', '2024-01-01');
SELECT * FROM parts('d_events');
SELECT * FROM parts('ts_events');
SELECT * FROM parts('tz_events');

-- a leap February: 29 days, the 29th lands in February
SELECT upkeep.create_monthly_partition('d_events', '2024-02-29');
SELECT upkeep.create_monthly_partition('d_events', '2023-02-28');
SELECT * FROM parts('d_events');
INSERT INTO d_events VALUES (1, '2024-02-29'), (2, '2024-03-01'::date - 1), (3, '2023-02-28');
SELECT tableoid::regclass, id, day FROM d_events ORDER BY id;
-- 2024-03-01 has no partition yet (no DEFAULT either)
INSERT INTO d_events VALUES (4, '2024-03-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------
-- idempotent: the existing partition comes back unchanged
--------------------------------------------------------------------------
SELECT upkeep.create_monthly_partition('d_events', '2024-02-01') AS again,
       upkeep.create_monthly_partition('d_events', '2024-02-15') AS mid_month;
SELECT count(*) AS partitions FROM parts('d_events');

--------------------------------------------------------------------------
-- time zones: boundaries follow upkeep.partition_timezone, never TimeZone
--------------------------------------------------------------------------
SET timezone = 'America/New_York';
SELECT upkeep.create_monthly_partition('tz_events', '2024-03-10');   -- DST starts in New York that day
RESET timezone;
SELECT * FROM parts('tz_events');

SET upkeep.partition_timezone = 'Europe/Berlin';
CREATE TABLE berlin (at timestamptz NOT NULL) PARTITION BY RANGE (at);
SET timezone = 'America/New_York';
SELECT upkeep.create_monthly_partition('berlin', '2024-03-01');
SELECT upkeep.create_monthly_partition('berlin', '2024-04-01');    -- CEST from 2024-03-31
RESET timezone;
SELECT * FROM parts('berlin');
-- contiguous across the DST change
INSERT INTO berlin VALUES ('2024-03-31 23:59:59 Europe/Berlin'), ('2024-04-01 00:00:00 Europe/Berlin');
SELECT tableoid::regclass, at AT TIME ZONE 'Europe/Berlin' AS berlin_time FROM berlin ORDER BY at;
-- timestamp (without time zone) keys ignore the zone: plain calendar months
SELECT upkeep.create_monthly_partition('ts_events', '2024-04-01');
SELECT * FROM parts('ts_events');
RESET upkeep.partition_timezone;

-- the zone must be one PostgreSQL knows
SET upkeep.partition_timezone = 'Mars/Olympus_Mons';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- and only superusers choose it
CREATE ROLE regress_upkeep_tzuser;
SET ROLE regress_upkeep_tzuser;
SET upkeep.partition_timezone = 'Asia/Tokyo';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE regress_upkeep_tzuser;

--------------------------------------------------------------------------
-- names: quoting, injection, 63-byte limit
--------------------------------------------------------------------------
CREATE SCHEMA "Odd Schema";
CREATE TABLE "Odd Schema"."Mixed.Case ""Events""" (at date NOT NULL) PARTITION BY RANGE (at);
SELECT upkeep.create_monthly_partition('"Odd Schema"."Mixed.Case ""Events"""', '2024-05-05');
SELECT * FROM parts('"Odd Schema"."Mixed.Case ""Events"""');

-- a name that would inject SQL if it were spliced into a statement
CREATE TABLE victim (x int);
CREATE TABLE "ev); DROP TABLE victim; --" (at date NOT NULL) PARTITION BY RANGE (at);
SELECT upkeep.create_monthly_partition('"ev); DROP TABLE victim; --"', '2024-05-05');
SELECT * FROM parts('"ev); DROP TABLE victim; --"');
SELECT count(*) AS victim_still_there FROM victim;

-- a column name that needs quoting
CREATE TABLE quoted_key ("Event Time" timestamptz NOT NULL) PARTITION BY RANGE ("Event Time");
SELECT upkeep.create_monthly_partition('quoted_key', '2024-05-01');

-- two parents whose names share their first 60 bytes: shortened to 63 bytes, still distinct
CREATE TABLE a_very_long_partitioned_table_name_that_goes_on_and_on_and_ox (at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE a_very_long_partitioned_table_name_that_goes_on_and_on_and_oy (at date NOT NULL) PARTITION BY RANGE (at);
SELECT upkeep.create_monthly_partition('a_very_long_partitioned_table_name_that_goes_on_and_on_and_ox', '2024-06-01') AS x,
       upkeep.create_monthly_partition('a_very_long_partitioned_table_name_that_goes_on_and_on_and_oy', '2024-06-01') AS y;
SELECT c.relname, pg_catalog.octet_length(c.relname) AS bytes, i.inhparent::regclass AS parent
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_inherits i ON i.inhrelid = c.oid
 WHERE c.relname LIKE 'a_very_long%' ORDER BY 1;
-- idempotent for shortened names too
SELECT upkeep.create_monthly_partition('a_very_long_partitioned_table_name_that_goes_on_and_on_and_ox', '2024-06-30');

-- multibyte names are never cut inside a character
CREATE TABLE "évènements_très_très_très_très_très_très_longs" (at date NOT NULL) PARTITION BY RANGE (at);
SELECT upkeep.create_monthly_partition('"évènements_très_très_très_très_très_très_longs"', '2024-07-01');
SELECT c.relname, pg_catalog.octet_length(c.relname) <= 63 AS fits
  FROM pg_catalog.pg_class c WHERE c.relname LIKE 'évènements%' AND c.relispartition;

--------------------------------------------------------------------------
-- rows waiting in the DEFAULT partition move into the new partition
--------------------------------------------------------------------------
CREATE TABLE with_default (id int GENERATED ALWAYS AS IDENTITY, at timestamptz NOT NULL, doubled int GENERATED ALWAYS AS (id * 2) STORED, note text DEFAULT 'n/a', CHECK (id > 0)) PARTITION BY RANGE (at);
CREATE INDEX ON with_default (at);
CREATE TABLE with_default_def PARTITION OF with_default DEFAULT;
INSERT INTO with_default (at) SELECT '2024-08-01 00:00+00'::timestamptz + (g || ' hours')::interval FROM generate_series(0, 24 * 62 - 1, 7) g;
SELECT count(*) AS total, count(*) FILTER (WHERE at < '2024-09-01+00') AS august FROM with_default;
BEGIN;
SELECT upkeep.create_monthly_partition('with_default', '2024-08-10');
-- same transaction: everything is already where it belongs
SELECT tableoid::regclass, count(*), min(at) >= '2024-08-01+00' AS lo_ok, max(at) < '2024-09-01+00' AS hi_ok FROM with_default GROUP BY 1 ORDER BY 1;
COMMIT;
SELECT count(*) AS total_after, count(DISTINCT id) AS distinct_ids, bool_and(doubled = id * 2) AS generated_ok FROM with_default;
SELECT * FROM parts('with_default');
-- the moved partition has the parent's index and keeps the bounds CHECK that spared ATTACH a scan
-- (CHECK constraints only: 18 catalogs NOT NULL constraints in pg_constraint too)
SELECT indexrelid::regclass FROM pg_catalog.pg_index WHERE indrelid = 'with_default_2024_08'::regclass;
SELECT conname FROM pg_catalog.pg_constraint WHERE conrelid = 'with_default_2024_08'::regclass AND contype = 'c' ORDER BY 1;
-- a second month with nothing in DEFAULT for it: plain creation
SELECT upkeep.create_monthly_partition('with_default', '2024-11-01');
SELECT count(*) AS still_in_default FROM ONLY with_default_def;
-- made without moving rows, for a set that does not archive: no bounds CHECK
SELECT conname FROM pg_catalog.pg_constraint WHERE conrelid = 'with_default_2024_11'::regclass AND contype = 'c' ORDER BY 1;

-- A DEFAULT partition whose constraint proves the month empty is not scanned.
CREATE TABLE proven (at date NOT NULL, v text) PARTITION BY RANGE (at);
CREATE TABLE proven_def PARTITION OF proven DEFAULT;
ALTER TABLE proven_def ADD CONSTRAINT only_old CHECK (at < '2020-01-01');
INSERT INTO proven SELECT '2019-01-01'::date + g % 300, 'x' FROM generate_series(1, 1000) g;
-- (scans counted inside one transaction: pending statistics are not flushed in between)
BEGIN;
SELECT seq_scan AS scans_before FROM pg_catalog.pg_stat_xact_user_tables WHERE relid = 'proven_def'::regclass \gset
SELECT upkeep.create_monthly_partition('proven', '2024-01-01');
SELECT seq_scan - :scans_before AS default_scans_with_proof FROM pg_catalog.pg_stat_xact_user_tables WHERE relid = 'proven_def'::regclass;
ROLLBACK;
-- without the constraint PostgreSQL must scan it (once) to prove the month empty
ALTER TABLE proven_def DROP CONSTRAINT only_old;
BEGIN;
SELECT seq_scan AS scans_before FROM pg_catalog.pg_stat_xact_user_tables WHERE relid = 'proven_def'::regclass \gset
SELECT upkeep.create_monthly_partition('proven', '2024-01-01');
SELECT seq_scan - :scans_before AS default_scans_without_proof FROM pg_catalog.pg_stat_xact_user_tables WHERE relid = 'proven_def'::regclass;
COMMIT;

--------------------------------------------------------------------------
-- conflicts are errors and nothing is half-made
--------------------------------------------------------------------------
CREATE TABLE conflicts (at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE conflicts_mid PARTITION OF conflicts FOR VALUES FROM ('2024-03-15') TO ('2024-04-15');
CREATE TABLE conflicts_def PARTITION OF conflicts DEFAULT;
INSERT INTO conflicts VALUES ('2024-03-20'), ('2024-05-03');
CREATE TEMP TABLE rels_before AS SELECT oid, relname FROM pg_catalog.pg_class;
SELECT upkeep.create_monthly_partition('conflicts', '2024-03-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.create_monthly_partition('conflicts', '2024-04-30');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a plain table squatting on the name is never adopted, even if empty and well-shaped
CREATE TABLE conflicts_2024_05 (at date NOT NULL);
SELECT upkeep.create_monthly_partition('conflicts', '2024-05-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- ... nor a partition of another parent holding the name
DROP TABLE conflicts_2024_05;
CREATE TABLE other_parent (at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE conflicts_2024_05 PARTITION OF other_parent FOR VALUES FROM ('2024-05-01') TO ('2024-06-01');
SELECT upkeep.create_monthly_partition('conflicts', '2024-05-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- no relation appeared (other than the test's own other_parent and its partition), no row moved
SELECT c.relname FROM pg_catalog.pg_class c WHERE c.oid NOT IN (SELECT oid FROM rels_before) AND c.relname NOT LIKE 'pg_%' ORDER BY 1;
SELECT tableoid::regclass, at FROM conflicts ORDER BY at;
-- a partition with exactly the month's bounds made by hand is accepted as is
CREATE TABLE conflicts_june_by_hand PARTITION OF conflicts FOR VALUES FROM ('2024-06-01') TO ('2024-07-01');
SELECT upkeep.create_monthly_partition('conflicts', '2024-06-20');

--------------------------------------------------------------------------
-- tables that cannot hold monthly partitions, and bad arguments
--------------------------------------------------------------------------
CREATE TABLE plain_table (at date);
SELECT upkeep.create_monthly_partition('plain_table', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE by_list (at date NOT NULL) PARTITION BY LIST (at);
SELECT upkeep.create_monthly_partition('by_list', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE by_hash (id int) PARTITION BY HASH (id);
SELECT upkeep.create_monthly_partition('by_hash', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE two_cols (at date NOT NULL, id int NOT NULL) PARTITION BY RANGE (at, id);
SELECT upkeep.create_monthly_partition('two_cols', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE by_expr (at timestamp NOT NULL) PARTITION BY RANGE ((at::date));
SELECT upkeep.create_monthly_partition('by_expr', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE by_int (n int NOT NULL) PARTITION BY RANGE (n);
SELECT upkeep.create_monthly_partition('by_int', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE VIEW a_view AS SELECT 1 AS x;
SELECT upkeep.create_monthly_partition('a_view', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.create_monthly_partition(NULL, '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.create_monthly_partition('d_events', NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.create_monthly_partition('d_events', 'infinity');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.create_monthly_partition('d_events', '10000-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.create_monthly_partition('d_events', '0001-01-01 BC');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- the last partitionable month works for every key type (its upper bound is in year 10000)
SELECT upkeep.create_monthly_partition('d_events', '9999-12-31');
CREATE TABLE last_ts (at timestamp NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE last_tstz (at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT upkeep.create_monthly_partition('last_ts', '9999-12-01'), upkeep.create_monthly_partition('last_tstz', '9999-12-01');
SELECT * FROM parts('d_events') WHERE partition::text LIKE '%9999_12'
UNION ALL SELECT * FROM parts('last_ts') UNION ALL SELECT * FROM parts('last_tstz');
-- a table whose policy names its own zone gets its month bounds in that zone here too, as premake does
CREATE TABLE zoned (at timestamptz NOT NULL) PARTITION BY RANGE (at);
SELECT relid FROM upkeep.set_policy('zoned', retain => '12 months', timezone => 'America/New_York', premake => 0);
SELECT upkeep.create_monthly_partition('zoned', '2024-03-15');
-- New York midnights (05:00 UTC, and 04:00 UTC once DST began), not UTC ones
SELECT * FROM parts('zoned');
SELECT upkeep.drop_policy('zoned');
DROP TABLE last_ts, last_tstz, zoned;
SELECT upkeep.create_monthly_partition('no_such_table', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.create_monthly_partition(0, '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- a domain over date is a date key
CREATE DOMAIN business_day AS date CHECK (VALUE > '2000-01-01');
CREATE TABLE by_domain (at business_day NOT NULL) PARTITION BY RANGE (at);
SELECT upkeep.create_monthly_partition('by_domain', '2024-01-01');
SELECT * FROM parts('by_domain');
