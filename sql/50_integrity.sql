-- Integrity: table_fingerprint(), snapshot_fingerprints(), verify_backup_integrity().
SET client_min_messages = warning;
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
SET timezone = 'UTC';

--------------------------------------------------------------------------
-- table_fingerprint: order-independent, sensitive to every value
--------------------------------------------------------------------------
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE TYPE pair AS (a int, b text);
CREATE TABLE fp_a (id int, t text, n numeric, f float8, b bytea, j jsonb, arr int[], m mood, p pair, iv interval,
                   ts timestamptz, d date, u uuid, flag boolean);
INSERT INTO fp_a SELECT g, 'text ' || g, g / 7.0, g * 0.5, decode(md5(g::text), 'hex'), jsonb_build_object('g', g, 'x', 'y'),
                        ARRAY[g, g * 2], (ARRAY['sad', 'ok', 'happy']::mood[])[g % 3 + 1], ROW(g, 'p' || g)::pair,
                        g * interval '1 minute', timestamptz '2024-01-01 00:00+00' + g * interval '1 hour', date '2024-01-01' + g,
                        md5(g::text)::uuid, g % 2 = 0
                   FROM generate_series(1, 500) g;
INSERT INTO fp_a (id) VALUES (0);   -- a row of NULLs
-- the same rows in another order, in a table with a dropped column in the middle
CREATE TABLE fp_b (id int, gone int, t text, n numeric, f float8, b bytea, j jsonb, arr int[], m mood, p pair, iv interval,
                   ts timestamptz, d date, u uuid, flag boolean);
ALTER TABLE fp_b DROP COLUMN gone;
INSERT INTO fp_b SELECT * FROM fp_a ORDER BY random();
SELECT (SELECT row_count FROM upkeep.table_fingerprint('fp_a')) AS rows_a,
       (SELECT fingerprint FROM upkeep.table_fingerprint('fp_a')) = (SELECT fingerprint FROM upkeep.table_fingerprint('fp_b'))
         AS same_rows_other_order_same_fingerprint,
       length((SELECT fingerprint FROM upkeep.table_fingerprint('fp_a'))) AS hex_digits;
-- the session's settings do not matter
SET datestyle = 'SQL, DMY'; SET intervalstyle = 'sql_standard'; SET timezone = 'Asia/Kolkata'; SET extra_float_digits = 0; SET bytea_output = 'escape';
SELECT (SELECT fingerprint FROM upkeep.table_fingerprint('fp_a')) = (SELECT fingerprint FROM upkeep.table_fingerprint('fp_b'))
         AS same_under_other_settings;
RESET datestyle; RESET intervalstyle; SET timezone = 'UTC'; RESET extra_float_digits; RESET bytea_output;
CREATE TEMP TABLE fp_ref AS SELECT fingerprint FROM upkeep.table_fingerprint('fp_a');
CREATE FUNCTION changed() RETURNS boolean LANGUAGE sql AS
  $$ SELECT (SELECT fingerprint FROM upkeep.table_fingerprint('fp_b')) <> (SELECT fingerprint FROM fp_ref) $$;
-- any change of any value changes it, and undoing the change restores it
BEGIN; UPDATE fp_b SET n = n + 0.000001 WHERE id = 17; SELECT changed() AS numeric_changed; ROLLBACK;
BEGIN; UPDATE fp_b SET m = 'happy' WHERE id = 3 AND m <> 'happy'; SELECT changed() AS enum_changed; ROLLBACK;
BEGIN; UPDATE fp_b SET p = ROW(3, 'q3') WHERE id = 3; SELECT changed() AS composite_changed; ROLLBACK;
BEGIN; UPDATE fp_b SET arr = ARRAY[arr[2], arr[1]] WHERE id = 8; SELECT changed() AS array_order_changed; ROLLBACK;
BEGIN; UPDATE fp_b SET t = '' WHERE id = 0; SELECT changed() AS null_vs_empty; ROLLBACK;
BEGIN; UPDATE fp_b SET f = 'NaN' WHERE id = 5; SELECT changed() AS nan_changed; ROLLBACK;
-- NaN is one value however its bits are set: a computed NaN (here with the sign bit) and the NaN a
-- restore reads back from text must hash equal, inside arrays too
CREATE TABLE nan_computed (f8 float8[], f4 float4[], x float8, y float4);
INSERT INTO nan_computed VALUES (ARRAY['Infinity'::float8 - 'Infinity'::float8, 1], ARRAY['Infinity'::float4 - 'Infinity'::float4, NULL, 2],
                                 'Infinity'::float8 - 'Infinity'::float8, 'Infinity'::float4 - 'Infinity'::float4),
                                (ARRAY[ARRAY[1, 'Infinity'::float8 - 'Infinity'::float8], ARRAY[NULL, 3]], NULL, 1, 1);
CREATE TABLE nan_restored AS SELECT f8::text::float8[] AS f8, f4::text::float4[] AS f4, x::text::float8 AS x, y::text::float4 AS y FROM nan_computed;
SELECT float8send(c.f8[1]) <> float8send(r.f8[1]) AS f8_bits_differ, float4send(c.f4[1]) <> float4send(r.f4[1]) AS f4_bits_differ,
       (SELECT fingerprint FROM upkeep.table_fingerprint('nan_computed')) = (SELECT fingerprint FROM upkeep.table_fingerprint('nan_restored'))
         AS nan_in_arrays_hash_equal
  FROM nan_computed c, nan_restored r WHERE c.f4 IS NOT NULL AND r.f4 IS NOT NULL;
-- a NaN is still not a number: it differs from any other value in an array
BEGIN; UPDATE nan_restored SET f8 = '{0,1}' WHERE f4 IS NOT NULL;
SELECT (SELECT fingerprint FROM upkeep.table_fingerprint('nan_computed')) <> (SELECT fingerprint FROM upkeep.table_fingerprint('nan_restored')) AS nan_vs_zero;
ROLLBACK;
-- arrays of floats hash as they always did (fingerprints and manifests stored by 0.1.0 still verify)
CREATE TABLE float_arrays (f8 float8[], f4 float4[]);
INSERT INTO float_arrays VALUES ('{1.5,-0,Infinity,NULL,-Infinity,NaN}', '{2.5,NaN,-0}'), ('{{1,2},{3,NaN}}', '{}'), (NULL, '{NULL,NULL}');
SELECT * FROM upkeep.table_fingerprint('float_arrays');
-- swapping values between two rows, or between two columns of a row, changes it
BEGIN;
UPDATE fp_b SET t = CASE id WHEN 10 THEN 'text 11' ELSE 'text 10' END WHERE id IN (10, 11);
SELECT changed() AS swap_between_rows;
ROLLBACK;
CREATE TABLE fp_cols_ab (x text, y text);
INSERT INTO fp_cols_ab VALUES ('a', 'b');
CREATE TABLE fp_cols_ba (x text, y text);
INSERT INTO fp_cols_ba VALUES ('b', 'a');
SELECT (SELECT fingerprint FROM upkeep.table_fingerprint('fp_cols_ab')) <> (SELECT fingerprint FROM upkeep.table_fingerprint('fp_cols_ba')) AS swap_between_columns;
-- a duplicated row counts (XOR would cancel it out)
CREATE TABLE one_row (x int);
INSERT INTO one_row VALUES (1);
CREATE TABLE same_row_twice (x int);
INSERT INTO same_row_twice VALUES (1), (1);
CREATE TABLE same_row_thrice (x int);
INSERT INTO same_row_thrice VALUES (1), (1), (1);
SELECT (SELECT fingerprint FROM upkeep.table_fingerprint('one_row')) <> (SELECT fingerprint FROM upkeep.table_fingerprint('same_row_thrice')) AS duplicates_count,
       (SELECT fingerprint FROM upkeep.table_fingerprint('same_row_twice')) <> '00000000000000000000000000000000' AS no_cancellation;
-- an empty table
CREATE TABLE empty_t (x int);
SELECT * FROM upkeep.table_fingerprint('empty_t');
-- TOAST: a compressed, an out-of-line and an inline copy of the same values agree
CREATE TABLE toasted (id int, big text);
INSERT INTO toasted SELECT g, repeat(md5(g::text), 2000 + g) FROM generate_series(1, 20) g;
CREATE TABLE toasted_plain (id int, big text);
ALTER TABLE toasted_plain ALTER COLUMN big SET STORAGE EXTERNAL;
INSERT INTO toasted_plain SELECT * FROM toasted;
SELECT (SELECT fingerprint FROM upkeep.table_fingerprint('toasted')) = (SELECT fingerprint FROM upkeep.table_fingerprint('toasted_plain')) AS toast_independent,
       pg_column_size(big) < octet_length(big) AS compressed FROM toasted LIMIT 1;
-- a partitioned table's fingerprint is that of its rows
CREATE TABLE fp_parts (id int, d date NOT NULL) PARTITION BY RANGE (d);
SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('fp_parts', m::date) FROM generate_series('2024-01-01'::date, '2024-03-01', '1 month') m) s;
INSERT INTO fp_parts SELECT g, date '2024-01-01' + g % 90 FROM generate_series(1, 300) g;
CREATE TABLE fp_flat (id int, d date);
INSERT INTO fp_flat SELECT * FROM fp_parts;
SELECT (SELECT fingerprint FROM upkeep.table_fingerprint('fp_parts')) = (SELECT fingerprint FROM upkeep.table_fingerprint('fp_flat')) AS partitioned_equals_flat;
-- refusals
CREATE VIEW fp_view AS SELECT 1 AS x;
SELECT * FROM upkeep.table_fingerprint('fp_view');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT * FROM upkeep.table_fingerprint(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE ROLE regress_upkeep_fp_reader;
SET ROLE regress_upkeep_fp_reader;
SELECT * FROM upkeep.table_fingerprint('fp_a');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
GRANT SELECT (id, t) ON fp_a TO regress_upkeep_fp_reader;
SET ROLE regress_upkeep_fp_reader;
SELECT * FROM upkeep.table_fingerprint('fp_a');   -- some columns are not enough
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
CREATE TABLE secret (id int, owner_name name);
INSERT INTO secret VALUES (1, 'regress_upkeep_fp_reader'), (2, 'someone_else');
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY mine ON secret USING (owner_name = current_user);
GRANT SELECT ON secret TO regress_upkeep_fp_reader;
SET ROLE regress_upkeep_fp_reader;
SELECT * FROM upkeep.table_fingerprint('secret');   -- would reveal the hidden row
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT row_count FROM upkeep.table_fingerprint('secret');   -- the owner sees all rows

--------------------------------------------------------------------------
-- verify_backup_integrity
--------------------------------------------------------------------------
CREATE TABLE vlog (id bigint PRIMARY KEY, at timestamptz NOT NULL, v text);
INSERT INTO vlog SELECT g, timestamptz '2024-06-15 12:00+00' - g * interval '1 hour', 'v' || g FROM generate_series(1, 3000) g;
SELECT relid FROM upkeep.set_policy('vlog', 'at', '60 days', action => 'archive', batch_size => 400);
CALL upkeep.run_maintenance();
CREATE TABLE vparts (id bigint, d date NOT NULL) PARTITION BY RANGE (d);
SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('vparts', m::date) FROM generate_series('2024-04-01'::date, '2024-09-01', '1 month') m) s;
SELECT relid FROM upkeep.set_policy('vparts', retain => '1 year');
SELECT table_name, row_count FROM upkeep.snapshot_fingerprints() ORDER BY 1;
-- without amcheck: a warning says so; everything else is fine
SELECT check_name, object, status, regexp_replace(detail, '\d{4}-\d\d-\d\d [0-9:.+]+|LSN [0-9A-F/]+|\m[0-9a-f]{32}\M', 'X', 'g') AS detail
  FROM upkeep.verify_backup_integrity() ORDER BY 1, 2;
CREATE EXTENSION amcheck;
SELECT check_name, object, status FROM upkeep.verify_backup_integrity() WHERE check_name = 'amcheck' ORDER BY 2;
-- an archived row changed behind pg_upkeep's back: the archive and the batch are named
UPDATE vlog_archive SET v = 'tampered' WHERE id = 2500;
SELECT check_name, object, status, detail ~ '^batch \d+ archived at .*: manifest says \d+ rows hashing to [0-9a-f]{32}, the archive has \d+ rows hashing to [0-9a-f]{32}$' AS names_one_batch
  FROM upkeep.verify_backup_integrity() WHERE check_name = 'archive_manifest';
UPDATE vlog_archive SET v = 'v2500' WHERE id = 2500;
SELECT status FROM upkeep.verify_backup_integrity() WHERE check_name = 'archive_manifest';
-- an archived row deleted
DELETE FROM vlog_archive WHERE id = 2999;
SELECT status, detail ~ 'manifest says \d+ rows .* the archive has \d+ rows' AS counts_named
  FROM upkeep.verify_backup_integrity() WHERE check_name = 'archive_manifest';
-- a gap in a partition set, and rows waiting in DEFAULT
DROP TABLE vparts_2024_06;
CREATE TABLE vparts_default PARTITION OF vparts DEFAULT;
INSERT INTO vparts VALUES (1, '2024-06-10');
SELECT check_name, object, status, detail FROM upkeep.verify_backup_integrity() WHERE check_name = 'partition_set' ORDER BY status;
-- stored fingerprints vs current data: a missing row fails the check
DELETE FROM vlog WHERE id = (SELECT min(id) FROM vlog);
SELECT check_name, object, status, detail ~ 'then \d+ rows hashing to [0-9a-f]{32}, now \d+ rows?' AS explains
  FROM upkeep.verify_backup_integrity() WHERE check_name = 'fingerprint' ORDER BY 2;
-- an UNLOGGED table is not comparable: crash recovery empties it and physical backups leave its rows
-- behind (TRUNCATE does here what they do), so a difference is a warning that says so, not a failure
CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY, at timestamptz NOT NULL);
INSERT INTO scratch SELECT g, timestamptz '2024-06-15 12:00+00' - g * interval '1 hour' FROM generate_series(1, 10) g;
SELECT relid FROM upkeep.set_policy('scratch', 'at', '1 year');
SELECT count(*) FROM upkeep.snapshot_fingerprints();
SELECT object, status, detail ~ '^10 rows, identical' AS identical FROM upkeep.verify_backup_integrity() WHERE object = 'public.scratch';
TRUNCATE scratch;
SELECT object, status, regexp_replace(detail, '\d{4}-\d\d-\d\d [0-9:.+]+|LSN [0-9A-F/]+|\m[0-9a-f]{32}\M', 'X', 'g') AS detail
  FROM upkeep.verify_backup_integrity() WHERE object = 'public.scratch';
-- results for tables the caller may not read are not shown
SET ROLE regress_upkeep_fp_reader;
SELECT check_name, count(*) FROM upkeep.verify_backup_integrity() GROUP BY 1 ORDER BY 1;
RESET ROLE;

DROP EXTENSION amcheck;
DROP TABLE fp_a, fp_b, nan_computed, nan_restored, float_arrays, fp_cols_ab, fp_cols_ba, one_row, same_row_twice, same_row_thrice, empty_t, toasted, toasted_plain,
  fp_parts, fp_flat, secret, vlog, vlog_archive, vparts, scratch;
DROP VIEW fp_view;
DROP FUNCTION changed();
DROP TYPE mood, pair;
DROP ROLE regress_upkeep_fp_reader;
