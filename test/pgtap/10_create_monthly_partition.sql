-- pgTAP: create_monthly_partition invariants (runs in a transaction, rolled back).
BEGIN;
SET LOCAL client_min_messages = warning;
SELECT plan(35);

SELECT has_schema('upkeep');
SELECT has_function('upkeep', 'create_monthly_partition', ARRAY['regclass', 'date']);
SELECT function_returns('upkeep', 'create_monthly_partition', ARRAY['regclass', 'date'], 'regclass');
SELECT function_lang_is('upkeep', 'create_monthly_partition', ARRAY['regclass', 'date'], 'c');
SELECT ok(has_function_privilege('public', 'upkeep.create_monthly_partition(regclass, date)', 'EXECUTE'),
          'PUBLIC may execute create_monthly_partition (ownership is checked inside)');
SELECT ok(NOT has_function_privilege('public', 'upkeep._selftest_error_bridge(text)', 'EXECUTE'),
          'self-tests are not executable by PUBLIC');

CREATE TABLE tap_events (id bigint, at timestamptz NOT NULL, v text) PARTITION BY RANGE (at);

-- twelve months of 2025 in one go
SELECT is((SELECT count(*)::int FROM generate_series('2025-01-01'::date, '2025-12-01', '1 month') m,
                LATERAL upkeep.create_monthly_partition('tap_events', m::date) p), 12, 'twelve months created');
SELECT has_table('public', 'tap_events_2025_01', 'January partition exists');
SELECT has_table('public', 'tap_events_2025_12', 'December partition exists');
SELECT is((SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'tap_events'::regclass), 12, 'twelve partitions attached');

-- contiguous: each upper bound is the next lower bound, ordered by bound
SELECT is((SELECT count(*)::int FROM (
            SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) b,
                   lead(c.relname) OVER (ORDER BY c.relname) nxt
              FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'tap_events'::regclass) s
          WHERE nxt IS NOT NULL), 11, 'eleven neighbour pairs');
SELECT lives_ok($$INSERT INTO tap_events SELECT g, '2025-01-01+00'::timestamptz + (g || ' hours')::interval, 'x'
                   FROM generate_series(0, 365 * 24 - 1) g$$, 'every hour of 2025 has a partition');
SELECT throws_ok($$INSERT INTO tap_events VALUES (0, '2026-01-01+00', 'x')$$, '23514', NULL, 'nothing for 2026 yet');

-- idempotent, for every day of a month
SELECT is((SELECT count(DISTINCT upkeep.create_monthly_partition('tap_events', d::date))::int
             FROM generate_series('2025-03-01'::date, '2025-03-31', '1 day') d), 1,
          'every day of March maps to the same partition');
SELECT is(upkeep.create_monthly_partition('tap_events', '2025-03-31')::text, 'tap_events_2025_03', 'returns the existing partition');
SELECT is((SELECT count(*)::int FROM pg_inherits WHERE inhparent = 'tap_events'::regclass), 12, 'still twelve partitions');

-- owner
CREATE ROLE tap_owner;
GRANT CREATE ON SCHEMA public TO tap_owner;
CREATE TABLE tap_owned (at date NOT NULL) PARTITION BY RANGE (at);
ALTER TABLE tap_owned OWNER TO tap_owner;
SELECT lives_ok($$SELECT upkeep.create_monthly_partition('tap_owned', '2024-02-29')$$, 'superuser creates a leap-February partition');
SELECT table_owner_is('public', 'tap_owned_2024_02', 'tap_owner', 'the partition belongs to the parent''s owner');
SELECT is((SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'tap_owned_2024_02'),
          $$FOR VALUES FROM ('2024-02-01') TO ('2024-03-01')$$, 'leap February covers 29 days');

-- strangers are refused, with 42501, whatever the month
CREATE ROLE tap_stranger;
GRANT ALL ON tap_owned TO tap_stranger;
SET LOCAL ROLE tap_stranger;
SELECT throws_ok($$SELECT upkeep.create_monthly_partition('tap_owned', '2024-03-01')$$, '42501',
                 'must be owner of table public.tap_owned', 'non-owner refused');
SELECT throws_ok($$SELECT upkeep.create_monthly_partition('tap_owned', '2024-02-01')$$, '42501', NULL,
                 'non-owner refused even for an existing month');
RESET ROLE;

-- errors with their SQLSTATEs
SELECT throws_ok($$SELECT upkeep.create_monthly_partition(NULL, '2024-01-01')$$, '22004', NULL, 'NULL parent');
SELECT throws_ok($$SELECT upkeep.create_monthly_partition('tap_events', NULL)$$, '22004', NULL, 'NULL month');
SELECT throws_ok($$SELECT upkeep.create_monthly_partition('tap_events', 'infinity')$$, '22008', NULL, 'infinite month');
CREATE TABLE tap_plain (at date);
SELECT throws_ok($$SELECT upkeep.create_monthly_partition('tap_plain', '2024-01-01')$$, '42809', NULL, 'plain table');
CREATE TABLE tap_list (at date) PARTITION BY LIST (at);
SELECT throws_ok($$SELECT upkeep.create_monthly_partition('tap_list', '2024-01-01')$$, '0A000', NULL, 'LIST partitioning');
CREATE TABLE tap_multi (at date, b int) PARTITION BY RANGE (at, b);
SELECT throws_ok($$SELECT upkeep.create_monthly_partition('tap_multi', '2024-01-01')$$, '0A000', NULL, 'multi-column key');
CREATE TABLE tap_text (k text) PARTITION BY RANGE (k);
SELECT throws_ok($$SELECT upkeep.create_monthly_partition('tap_text', '2024-01-01')$$, '42804', NULL, 'text key');
CREATE TABLE tap_overlap (at date NOT NULL) PARTITION BY RANGE (at);
CREATE TABLE tap_overlap_q1 PARTITION OF tap_overlap FOR VALUES FROM ('2024-01-01') TO ('2024-04-01');
SELECT throws_ok($$SELECT upkeep.create_monthly_partition('tap_overlap', '2024-02-01')$$, '42P17', NULL, 'overlap');
CREATE TABLE tap_overlap_2024_05 (at date NOT NULL);
SELECT throws_ok($$SELECT upkeep.create_monthly_partition('tap_overlap', '2024-05-01')$$, '42P07', NULL, 'squatter');
SELECT hasnt_table('public', 'tap_overlap_2024_02', 'nothing half-made after the overlap error');
SELECT is((SELECT relispartition FROM pg_class WHERE relname = 'tap_overlap_2024_05'), false, 'the squatter was not adopted');

-- DEFAULT rows move, nothing lost, nothing duplicated
CREATE TABLE tap_def (id int NOT NULL, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE tap_def_default PARTITION OF tap_def DEFAULT;
INSERT INTO tap_def SELECT g, '2024-06-01'::date + (g % 90) FROM generate_series(1, 9000) g;
SELECT lives_ok($$SELECT upkeep.create_monthly_partition('tap_def', '2024-07-15')$$, 'July created over a full DEFAULT');
SELECT results_eq($$SELECT count(*), count(DISTINCT id) FROM tap_def$$, $$VALUES (9000::bigint, 9000::bigint)$$,
                  'nothing lost, nothing duplicated');
SELECT is((SELECT count(*)::int FROM ONLY tap_def_default WHERE at >= '2024-07-01' AND at < '2024-08-01'), 0,
          'no July row left in DEFAULT');

SELECT * FROM finish();
ROLLBACK;
