-- pgTAP: retention invariants (in a transaction, rolled back).
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL upkeep.debug_now = '2024-06-15 12:00:00+00';
SELECT plan(24);

SELECT has_table('upkeep', 'policy', 'upkeep.policy exists');
SELECT has_table('upkeep', 'run_log', 'upkeep.run_log exists');
SELECT has_view('upkeep', 'status', 'upkeep.status exists');
SELECT has_function('upkeep', 'set_policy', 'set_policy exists');
SELECT has_function('upkeep', 'cleanup_old_data', ARRAY['boolean', 'regclass'], 'cleanup_old_data(boolean, regclass) exists');
SELECT function_returns('upkeep', 'cleanup_old_data', ARRAY['boolean', 'regclass'], 'setof record');
SELECT ok((SELECT prokind = 'p' FROM pg_proc WHERE oid = 'upkeep.run_maintenance(boolean, regclass)'::regprocedure),
          'run_maintenance is a procedure');
SELECT col_is_pk('upkeep', 'policy', 'relid', 'a policy per table');
SELECT ok((SELECT relrowsecurity FROM pg_class WHERE oid = 'upkeep.policy'::regclass), 'upkeep.policy has row-level security');
SELECT ok(NOT has_table_privilege('public', 'upkeep.policy', 'INSERT, UPDATE, DELETE'), 'PUBLIC cannot write policies');

CREATE TABLE tap_logs (id bigserial PRIMARY KEY, at timestamptz, v text);
CREATE INDEX ON tap_logs (at);
INSERT INTO tap_logs (at, v) SELECT timestamptz '2024-06-15 12:00+00' - g * interval '30 minutes', 'v' FROM generate_series(1, 4000) g;
INSERT INTO tap_logs (at, v) VALUES ('2024-05-16 12:00+00', 'exactly at the cutoff'), (NULL, 'no time');
SELECT lives_ok($$SELECT upkeep.set_policy('tap_logs', 'at', '30 days', batch_size => 250)$$, 'set_policy');
SELECT throws_ok($$SELECT upkeep.set_policy('tap_logs', 'v', '30 days')$$, '42804', NULL, 'text time column refused');
SELECT throws_ok($$SELECT upkeep.set_policy('tap_logs', 'at', '-1 day')$$, '22023', NULL, 'negative retain refused');
SELECT throws_ok($$SELECT upkeep.set_policy('tap_logs', 'at', '1 day', action => 'drop')$$, '42809', NULL, 'drop on a plain table refused');

SELECT results_eq($$SELECT rows_affected FROM upkeep.cleanup_old_data(true)$$,
                  $$SELECT count(*) FROM tap_logs WHERE at < '2024-05-16 12:00+00'$$, 'dry run counts exactly the expired rows');
SELECT is((SELECT count(*)::int FROM tap_logs), 4002, 'dry run changed nothing');
SELECT is((SELECT rows_affected FROM upkeep.cleanup_old_data() WHERE action LIKE 'DELETE%'), 2560::bigint, 'cleanup deletes them');
SELECT is((SELECT count(*)::int FROM tap_logs WHERE at < '2024-05-16 12:00+00'), 0, 'no expired row left');
SELECT is((SELECT count(*)::int FROM tap_logs WHERE at = '2024-05-16 12:00+00'), 2, 'the rows exactly at the cutoff stay');
SELECT is((SELECT count(*)::int FROM tap_logs WHERE at IS NULL), 1, 'the row without a time stays');
SELECT is((SELECT batches FROM upkeep.run_log WHERE table_name = 'public.tap_logs' ORDER BY id DESC LIMIT 1) > 1, true,
          'in several batches');
SELECT is((SELECT status FROM upkeep.run_log WHERE table_name = 'public.tap_logs' ORDER BY id DESC LIMIT 1), 'ok', 'logged ok');
SELECT is((SELECT last_result FROM upkeep.status WHERE table_name = 'tap_logs'::regclass), 'ok', 'the status view shows it');
SELECT throws_ok($$CALL upkeep.run_maintenance()$$, '2D000', NULL, 'run_maintenance refuses to run inside a transaction block');

SELECT * FROM finish();
ROLLBACK;
