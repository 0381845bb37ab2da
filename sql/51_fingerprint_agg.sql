-- upkeep.fingerprint_agg(...) and upkeep.row_hash(record): the same fingerprint as
-- table_fingerprint() whatever the plan (serial, parallel workers), the session's
-- settings, the column order of partitions, and the sum of row hashes modulo 2^128;
-- over a table's columns (fingerprint_agg(a, b, c)) as over its whole rows (fingerprint_agg(t)).
SET client_min_messages = warning;
CREATE TABLE fa (id int8, at timestamptz, note text, span interval, arr int4[], n numeric, tags text[]);
INSERT INTO fa SELECT g, '2026-01-01'::timestamptz + g * interval '1 minute', pg_catalog.repeat('x', g % 40),
       g * interval '1 second', ARRAY[g, g + 1], g / 7.0, ARRAY['t' || g % 5]
  FROM pg_catalog.generate_series(1, 20000) g;
INSERT INTO fa VALUES (NULL, NULL, NULL, NULL, NULL, NULL, NULL);
CREATE TEMP TABLE want AS SELECT * FROM upkeep.table_fingerprint('fa');
SELECT row_count FROM want;

-- serial
SET max_parallel_workers_per_gather = 0;
SELECT upkeep.fingerprint_rows(f) = w.row_count AS rows_match, upkeep.fingerprint_agg(f) = w.fingerprint AS hash_match
  FROM fa f, want w GROUP BY w.row_count, w.fingerprint;
-- the columns form: every column in order, no row value built
SELECT upkeep.fingerprint_rows(id, at, note, span, arr, n, tags) = w.row_count AS cols_rows_match,
       upkeep.fingerprint_agg(id, at, note, span, arr, n, tags) = w.fingerprint AS cols_hash_match
  FROM fa, want w GROUP BY w.row_count, w.fingerprint;
-- a row whose columns are all NULL is a row (the whole row of a table never is NULL)
SELECT upkeep.fingerprint_rows(id, note) AS rows_with_all_null_row FROM fa WHERE id IS NULL OR id = 1;
-- the columns in another order, or one left out: another fingerprint
SELECT upkeep.fingerprint_agg(at, id, note, span, arr, n, tags) <> (SELECT fingerprint FROM want) AS order_matters,
       upkeep.fingerprint_agg(id, at, note, span, arr, n) <> (SELECT fingerprint FROM want) AS every_column_counts
  FROM fa;
-- one composite column is hashed as a row of its fields: the same as those fields given as columns
CREATE TYPE fa_pair AS (id int8, note text);
SELECT upkeep.fingerprint_agg(c) = upkeep.fingerprint_agg((c).id, (c).note) AS composite_is_its_fields
  FROM (SELECT ROW(id, note)::fa_pair AS c FROM fa) s;
-- a VARIADIC array is refused: the columns are given themselves
SELECT upkeep.fingerprint_agg(VARIADIC ARRAY[id, id]) FROM fa;
-- other settings for text-output columns (interval, arrays): still the same
SET DateStyle = 'German'; SET IntervalStyle = 'sql_standard'; SET TimeZone = 'Asia/Kathmandu'; SET extra_float_digits = 3;
SELECT upkeep.fingerprint_agg(f) = (SELECT fingerprint FROM want) AS same_under_other_settings FROM fa f;
SELECT upkeep.fingerprint_agg(id, at, note, span, arr, n, tags) = (SELECT fingerprint FROM want) AS cols_same_under_other_settings
  FROM fa;
-- the sum of row hashes modulo 2^128 is the fingerprint (as a number)
SELECT (SELECT pg_catalog.sum(upkeep.row_hash(f)) FROM fa f) OPERATOR(pg_catalog.%) (2::numeric OPERATOR(pg_catalog.^) 128)
       = (SELECT pg_catalog.sum((pg_catalog.get_byte(pg_catalog.decode(w.fingerprint, 'hex'), i)::numeric)
                                OPERATOR(pg_catalog.*) (256::numeric OPERATOR(pg_catalog.^) (15 - i)))
            FROM want w, pg_catalog.generate_series(0, 15) i) AS row_hash_sum_is_the_fingerprint;
RESET DateStyle; RESET IntervalStyle; RESET TimeZone; RESET extra_float_digits;

-- parallel: partial aggregates in workers, combined in the leader
SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0; SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT upkeep.fingerprint_agg(f) FROM fa f;
SELECT upkeep.fingerprint_rows(f) = w.row_count AS rows_match, upkeep.fingerprint_agg(f) = w.fingerprint AS hash_match
  FROM fa f, want w GROUP BY w.row_count, w.fingerprint;
EXPLAIN (COSTS OFF) SELECT upkeep.fingerprint_agg(id, at, note, span, arr, n, tags) FROM fa;
SELECT upkeep.fingerprint_rows(id, at, note, span, arr, n, tags) = w.row_count AS cols_rows_match,
       upkeep.fingerprint_agg(id, at, note, span, arr, n, tags) = w.fingerprint AS cols_hash_match
  FROM fa, want w GROUP BY w.row_count, w.fingerprint;
-- with other settings in the parallel workers too
SET IntervalStyle = 'iso_8601'; SET DateStyle = 'SQL, DMY';
SELECT upkeep.fingerprint_agg(id, at, note, span, arr, n, tags) = (SELECT fingerprint FROM want) AS cols_parallel_other_settings
  FROM fa;
RESET IntervalStyle; RESET DateStyle;
RESET max_parallel_workers_per_gather; RESET parallel_setup_cost; RESET parallel_tuple_cost; RESET min_parallel_table_scan_size;

-- a partitioned table whose partitions have other column orders: rows in the parent's row type
CREATE TABLE fp (at date NOT NULL, v text, n int) PARTITION BY RANGE (at);
CREATE TABLE fp1 PARTITION OF fp FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');
CREATE TABLE fp2 (n int, v text, at date NOT NULL);
ALTER TABLE fp ATTACH PARTITION fp2 FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');
INSERT INTO fp VALUES ('2026-01-05', 'a', 1), ('2026-02-05', 'b', 2), ('2026-02-06', NULL, NULL);
SELECT upkeep.fingerprint_agg(x) = (SELECT fingerprint FROM upkeep.table_fingerprint('fp')) AS partitioned_match,
       upkeep.fingerprint_rows(x) AS rows
  FROM fp x;
-- a dropped column is not part of the row
ALTER TABLE fp DROP COLUMN n; ALTER TABLE fp ADD COLUMN n int;
UPDATE fp SET n = 5 WHERE v = 'b';
SELECT upkeep.fingerprint_agg(x) = (SELECT fingerprint FROM upkeep.table_fingerprint('fp')) AS after_drop_match,
       upkeep.fingerprint_agg(at, v, n) = (SELECT fingerprint FROM upkeep.table_fingerprint('fp')) AS cols_after_drop_match
  FROM fp x;

-- no rows: all zeros, as table_fingerprint of an empty table
SELECT upkeep.fingerprint_agg(f), upkeep.fingerprint_rows(f) FROM fa f WHERE false;
-- a one-row change changes it
UPDATE fa SET note = 'changed' WHERE id = 7;
SELECT upkeep.fingerprint_agg(f) <> (SELECT fingerprint FROM want) AS change_seen FROM fa f;

-- reg* columns print through search_path: pinned too, so any session's path gives the same hash
CREATE TABLE fr (id int, rel regclass, typ regtype);
INSERT INTO fr VALUES (1, 'fa', 'int4'), (2, 'pg_class', 'text'), (3, NULL, NULL);
CREATE TEMP TABLE want_fr AS SELECT * FROM upkeep.table_fingerprint('fr');
SET search_path = pg_catalog;
SELECT upkeep.fingerprint_agg(f) = (SELECT fingerprint FROM want_fr) AS same_with_another_search_path,
       upkeep.fingerprint_agg(id, rel, typ) = (SELECT fingerprint FROM want_fr) AS cols_same_with_another_search_path
  FROM public.fr f;
RESET search_path;

-- a setting changed between two calls in one transaction changes nothing (the settings are checked
-- for every row, not once per call site)
DO $$
DECLARE
  r record;
  a numeric;
  b numeric;
BEGIN
  SELECT * INTO r FROM public.fa WHERE id = 3;
  -- first call with every pinned setting in force (nothing to pin), then one of them changed
  SET LOCAL DateStyle = 'ISO, YMD'; SET LOCAL IntervalStyle = 'postgres'; SET LOCAL TimeZone = 'UTC';
  SET LOCAL extra_float_digits = 1; SET LOCAL bytea_output = 'hex'; SET LOCAL search_path = pg_catalog, pg_temp;
  a := upkeep.row_hash(r);
  SET LOCAL IntervalStyle = 'sql_standard';
  b := upkeep.row_hash(r);
  RAISE WARNING 'row_hash the same across a change of IntervalStyle: %', a = b;
END $$;

-- the support functions refuse to be called outside the aggregate; a foreign state is refused
SELECT upkeep.fingerprint_accum(NULL, ROW(1));
SELECT upkeep.fingerprint_accum(NULL, 1, 'a'::text);
SELECT upkeep.fingerprint_combine('\x00'::bytea, '\x00'::bytea);
SELECT upkeep.fingerprint_final('\x00'::bytea);
RESET client_min_messages;
