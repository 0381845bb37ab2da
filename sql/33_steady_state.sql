-- Steady state: after a full run, a partition set's summary is stored with a
-- token of its partitions; a later run with the same token and nothing to do
-- skips the set without reading its bounds.  Every change of the set, of the
-- policy or of the date must still be acted on.
SET client_min_messages = warning;
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
SET timezone = 'UTC';
SET datestyle = 'ISO, YMD';

CREATE FUNCTION months(p regclass) RETURNS text LANGUAGE sql AS $$
  SELECT string_agg(regexp_replace(c.relname, '^(metrics|sales)_', ''), ' ' ORDER BY c.relname)
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = p $$;
CREATE FUNCTION token_is_current(p regclass) RETURNS boolean LANGUAGE sql AS $$
  SELECT s.partitions_token = (SELECT md5(string_agg(i.inhrelid::text || ':' || i.xmin::text, ',' ORDER BY i.inhrelid))
                                 FROM pg_inherits i WHERE i.inhparent = p)
    FROM upkeep.policy_state s WHERE s.relid = p $$;
CREATE FUNCTION log_rows() RETURNS bigint LANGUAGE sql AS $$ SELECT count(*) FROM upkeep.run_log $$;

CREATE TABLE metrics (at timestamptz NOT NULL, v int) PARTITION BY RANGE (at);
SELECT upkeep.create_monthly_partition('metrics', '2024-03-01');
SELECT relid FROM upkeep.set_policy('metrics', retain => '2 months', premake => 2);

-- a dry run stores nothing
CALL upkeep.run_maintenance(dry_run => true);
SELECT count(partitions_shape) AS shapes_after_dry_run FROM upkeep.policy_state WHERE relid = 'metrics'::regclass;

-- the first run premakes June..August (March expires) and stores the summary of the set it left
CALL upkeep.run_maintenance();
SELECT months('metrics');
SELECT partitions_shape, token_is_current('metrics') FROM upkeep.policy_state WHERE relid = 'metrics'::regclass;

-- nothing to do: the run writes no run_log row and the report is the full run's
SELECT log_rows() AS log_before \gset
CALL upkeep.run_maintenance();
SELECT log_rows() - :log_before AS new_log_rows;
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'metrics');

-- the skip is taken from the stored summary: a forged one with the current token hides work ...
UPDATE upkeep.policy_state SET partitions_shape = 'v1 2 0 1 1 -9223372036854775808 9223372036854775807 9223372036854775807'
 WHERE relid = 'metrics'::regclass;
SET upkeep.debug_now = '2024-09-15 12:00:00+00';
CALL upkeep.run_maintenance();
SELECT months('metrics') AS untouched_under_forged_summary;
-- ... and any change of the set voids it: a partition made by hand changes the token
CREATE TABLE metrics_hand PARTITION OF metrics FOR VALUES FROM ('2025-06-01 00:00+00') TO ('2025-07-01 00:00+00');
SELECT token_is_current('metrics') AS forged_token_still_current;
CALL upkeep.run_maintenance();
-- cutoff 2024-07-15: June goes; September..November premade; the gap up to the hand-made June 2025 filled
SELECT months('metrics');
SELECT token_is_current('metrics');
DROP TABLE metrics_hand;
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
DROP TABLE metrics;

-- black box: every change is seen through the stored summary
CREATE TABLE sales (day date NOT NULL, amount int) PARTITION BY RANGE (day);
SELECT upkeep.create_monthly_partition('sales', '2024-05-01');
SELECT relid FROM upkeep.set_policy('sales', retain => '3 months', premake => 2);
CALL upkeep.run_maintenance();
CALL upkeep.run_maintenance();
SELECT months('sales');
-- a premade month dropped by hand comes back
DROP TABLE sales_2024_07;
CALL upkeep.run_maintenance();
SELECT months('sales') AS after_dropping_july;
-- an old month attached by hand (a backfill) is expired at once
CREATE TABLE sales_2023_01 (day date NOT NULL, amount int);
INSERT INTO sales_2023_01 VALUES ('2023-01-10', 1);
ALTER TABLE sales ATTACH PARTITION sales_2023_01 FOR VALUES FROM ('2023-01-01') TO ('2023-02-01');
CALL upkeep.run_maintenance();
SELECT months('sales') AS after_backfill, to_regclass('sales_2023_01') AS backfill;
-- detached and attached again: the same table and bounds, but a new pg_inherits row, so a new token
SELECT token_is_current('sales') AS token_current_before_reattach;
ALTER TABLE sales DETACH PARTITION sales_2024_08;
ALTER TABLE sales ATTACH PARTITION sales_2024_08 FOR VALUES FROM ('2024-08-01') TO ('2024-09-01');
SELECT token_is_current('sales') AS token_current_after_reattach;
CALL upkeep.run_maintenance();
SELECT token_is_current('sales') AS token_current_after_the_run, months('sales');
-- attached again with other bounds: August is missing and its name taken; it fails alone, October is still made
ALTER TABLE sales DETACH PARTITION sales_2024_08;
ALTER TABLE sales ATTACH PARTITION sales_2024_08 FOR VALUES FROM ('2024-09-01') TO ('2024-10-01');
SELECT relid FROM upkeep.set_policy('sales', premake => 4);
CALL upkeep.run_maintenance();
SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bounds FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'sales'::regclass ORDER BY 2;
SELECT action, status, rows, message FROM upkeep.run_log WHERE table_name = 'public.sales' ORDER BY id DESC LIMIT 1;
-- without a summary (the failed run stored none) the next run looks at the whole set again
SELECT token_is_current('sales') AS token_current_after_failure;
ALTER TABLE sales_2024_08 RENAME TO sales_sep;
CALL upkeep.run_maintenance();
SELECT months('sales') AS august_made_once_the_name_is_free, token_is_current('sales');
-- the policy changes: more months ahead, a shorter retention
SELECT relid FROM upkeep.set_policy('sales', premake => 5);
CALL upkeep.run_maintenance();
SELECT months('sales') AS premake_5;
SELECT relid FROM upkeep.set_policy('sales', retain => '14 days');
CALL upkeep.run_maintenance();
SELECT months('sales') AS retain_14_days;
-- time passes: a month later a month is premade and one expires, with the same token
SELECT token_is_current('sales') AS token_current_before_a_month_passes;
SET upkeep.debug_now = '2024-07-15 12:00:00+00';
CALL upkeep.run_maintenance();
SELECT months('sales') AS a_month_later;
-- the partition time zone matters for a timestamptz key, not for a date key: still nothing to do, nothing logged
SET upkeep.partition_timezone = 'Pacific/Kiritimati';
SELECT log_rows() AS log_before \gset
CALL upkeep.run_maintenance();
SELECT log_rows() - :log_before AS new_log_rows_in_another_zone;
RESET upkeep.partition_timezone;
-- detach policies are skipped alike; delete policies on partitioned tables are never summarized
SELECT relid FROM upkeep.set_policy('sales', action => 'detach');
SELECT log_rows() AS log_before \gset
CALL upkeep.run_maintenance();
CALL upkeep.run_maintenance();
SELECT token_is_current('sales') AS detach_policy_summarized, log_rows() - :log_before AS new_log_rows;
-- a delete policy works on rows, so a summary never stands in for its run, forged or not
SELECT relid FROM upkeep.set_policy('sales', action => 'delete', retain => '10 days');
INSERT INTO sales VALUES ('2024-07-02', 1), ('2024-07-10', 2);
UPDATE upkeep.policy_state SET partitions_shape = 'v1 0 0 1 1 -9223372036854775808 9223372036854775807 9223372036854775807'
 WHERE relid = 'sales'::regclass;
CALL upkeep.run_maintenance();
SELECT day FROM sales ORDER BY day;
DROP TABLE sales;
SELECT count(*) AS state_rows_left FROM upkeep.policy_state s WHERE NOT EXISTS (SELECT FROM pg_class c WHERE c.oid = s.relid);
DROP FUNCTION months(regclass), token_is_current(regclass), log_rows();
RESET upkeep.debug_now;
