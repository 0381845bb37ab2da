-- pgTAP: archival invariants (in a transaction, rolled back).
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL upkeep.debug_now = '2024-06-15 12:00:00+00';
SELECT plan(16);

SELECT has_function('upkeep', 'archive_table', ARRAY['regclass', 'regclass', 'interval', 'name', 'integer'], 'archive_table exists');
SELECT has_table('upkeep', 'archive_manifest', 'upkeep.archive_manifest exists');
SELECT col_not_null('upkeep', 'archive_manifest', 'row_count', 'every manifest has a row count');

CREATE TABLE tap_orders (id int PRIMARY KEY, placed timestamptz NOT NULL, total numeric, note text DEFAULT 'x');
INSERT INTO tap_orders SELECT g, timestamptz '2024-06-15 12:00+00' - g * interval '3 hours', g * 1.5 FROM generate_series(1, 3000) g;
CREATE TEMP TABLE tap_before AS SELECT * FROM tap_orders;
SELECT is(upkeep.archive_table('tap_orders', older_than => '60 days', time_column => 'placed', batch_size => 333),
          (SELECT count(*) FROM tap_before WHERE placed < '2024-04-16 12:00+00'), 'archive_table returns the rows moved');
SELECT has_table('public', 'tap_orders_archive', 'the archive was created');
SELECT col_is_pk('public', 'tap_orders_archive', 'id', 'with the source''s primary key');
SELECT col_has_default('public', 'tap_orders_archive', 'archived_at', 'and archived_at with a default');
SELECT table_owner_is('public', 'tap_orders_archive', current_user, 'owned by the source''s owner');
SELECT is((SELECT count(*) FROM tap_orders) + (SELECT count(*) FROM tap_orders_archive), 3000::bigint, 'nothing lost, nothing invented');
SELECT is((SELECT count(*) FROM tap_orders o JOIN tap_orders_archive a USING (id)), 0::bigint, 'no row in both');
SELECT bag_eq($$SELECT id, placed, total, note FROM tap_orders_archive$$,
              $$SELECT id, placed, total, note FROM tap_before WHERE placed < '2024-04-16 12:00+00'$$, 'the archived rows are unchanged');
SELECT is((SELECT sum(row_count) FROM upkeep.archive_manifest WHERE archive = 'tap_orders_archive'::regclass),
          (SELECT count(*)::numeric FROM tap_orders_archive), 'manifests account for every archived row');
SELECT ok((SELECT bool_and(row_count <= 333) FROM upkeep.archive_manifest WHERE archive = 'tap_orders_archive'::regclass),
          'no batch larger than batch_size');
SELECT is((SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE check_name = 'archive_manifest' AND status <> 'ok'), 0::bigint,
          'verify finds the manifests consistent');
CREATE UNLOGGED TABLE tap_unlogged (LIKE tap_orders);
SELECT throws_ok($$SELECT upkeep.archive_table('tap_orders', 'tap_unlogged', '1 day', 'placed')$$, '22023', NULL, 'unlogged archive refused');
SELECT throws_ok($$SELECT upkeep.archive_table('tap_orders', NULL, '0 days', 'placed')$$, '22023', NULL, 'zero interval refused');

SELECT * FROM finish();
ROLLBACK;
