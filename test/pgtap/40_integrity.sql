-- pgTAP: fingerprints (in a transaction, rolled back).
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(10);

SELECT has_function('upkeep', 'table_fingerprint', ARRAY['regclass'], 'table_fingerprint exists');
SELECT has_function('upkeep', 'verify_backup_integrity', '{}'::name[], 'verify_backup_integrity exists');
SELECT has_table('upkeep', 'fingerprint', 'upkeep.fingerprint exists');

CREATE TABLE tap_a (id int, v text, n numeric);
INSERT INTO tap_a SELECT g, md5(g::text), g / 3.0 FROM generate_series(1, 1000) g;
CREATE TABLE tap_b (id int, v text, n numeric);
INSERT INTO tap_b SELECT * FROM tap_a ORDER BY v;
SELECT is((SELECT fingerprint FROM upkeep.table_fingerprint('tap_a')), (SELECT fingerprint FROM upkeep.table_fingerprint('tap_b')),
          'same rows, different physical order: same fingerprint');
SELECT is((SELECT row_count FROM upkeep.table_fingerprint('tap_a')), 1000::bigint, 'row count');
SELECT matches((SELECT fingerprint FROM upkeep.table_fingerprint('tap_a')), '^[0-9a-f]{32}$', '128 bits in hex');
UPDATE tap_b SET v = v || ' ' WHERE id = 500;
SELECT isnt((SELECT fingerprint FROM upkeep.table_fingerprint('tap_a')), (SELECT fingerprint FROM upkeep.table_fingerprint('tap_b')),
            'one changed value changes it');
UPDATE tap_b SET v = rtrim(v) WHERE id = 500;
SELECT is((SELECT fingerprint FROM upkeep.table_fingerprint('tap_a')), (SELECT fingerprint FROM upkeep.table_fingerprint('tap_b')),
          'undone, it is equal again');
SELECT throws_ok($$SELECT * FROM upkeep.table_fingerprint('pg_catalog.pg_stat_activity')$$, '42809', NULL, 'a view is refused');
SELECT ok((SELECT count(DISTINCT check_name) FROM upkeep.verify_backup_integrity()) >= 4, 'verify reports every kind of check');

SELECT * FROM finish();
ROLLBACK;
