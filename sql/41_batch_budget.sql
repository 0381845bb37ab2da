-- The batch size a caller asks for, and the 60 ms a batch may take.
--  * In the caller's own transaction (archive_table(), cleanup_old_data()) every
--    batch's locks last until the caller commits, so a slow batch is not cut down:
--    the batches keep the caller's batch_size.
--  * In a run that commits every batch (CALL run_maintenance(), the worker) a batch
--    slower than 60 ms makes the next ones smaller, so that no transaction holds
--    its locks for long.
-- Each row deleted here takes a millisecond (a row-level DELETE trigger sleeps): a batch
-- of 100 rows takes over 100 ms.
SET client_min_messages = warning;
CREATE FUNCTION slow_batch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_catalog.pg_sleep(0.001); RETURN NULL; END $$;

CREATE TABLE bb_direct (id int8 PRIMARY KEY, at timestamptz NOT NULL, note text);
CREATE INDEX ON bb_direct (at);
CREATE TRIGGER slow AFTER DELETE ON bb_direct FOR EACH ROW EXECUTE FUNCTION slow_batch();
INSERT INTO bb_direct SELECT g, now() - interval '100 days' + g * interval '1 minute', 'n' || g
  FROM pg_catalog.generate_series(1, 600) g;
SELECT upkeep.archive_table('bb_direct', older_than => '30 days', time_column => 'at', batch_size => 100) AS moved;
-- six batches of the caller's 100 rows, whatever each took
SELECT count(*) AS batches, min(row_count) AS smallest, max(row_count) AS largest
  FROM upkeep.archive_manifest WHERE source_name = 'public.bb_direct';
-- cleanup_old_data() in the caller's transaction: the same
CREATE TABLE bb_delete (id int8 PRIMARY KEY, at timestamptz NOT NULL);
CREATE INDEX ON bb_delete (at);
CREATE TRIGGER slow AFTER DELETE ON bb_delete FOR EACH ROW EXECUTE FUNCTION slow_batch();
INSERT INTO bb_delete SELECT g, now() - interval '100 days' + g * interval '1 minute' FROM pg_catalog.generate_series(1, 600) g;
SELECT relid FROM upkeep.set_policy('bb_delete', 'at', '30 days', batch_size => 100);
SELECT action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'bb_delete');
-- (time slices sized from the ones before: a slice or two more than 600 / 100)
SELECT rows, batches <= 8 AS batch_size_kept FROM upkeep.run_log WHERE table_name = 'public.bb_delete' AND action LIKE 'DELETE%'
 ORDER BY id DESC LIMIT 1;

-- a run that commits each batch: slow batches are cut down (more than six batches for 600 rows)
CREATE TABLE bb_commits (id int8 PRIMARY KEY, at timestamptz NOT NULL, note text);
CREATE INDEX ON bb_commits (at);
CREATE TRIGGER slow AFTER DELETE ON bb_commits FOR EACH ROW EXECUTE FUNCTION slow_batch();
INSERT INTO bb_commits SELECT g, now() - interval '100 days' + g * interval '1 minute', 'n' || g
  FROM pg_catalog.generate_series(1, 600) g;
SELECT relid FROM upkeep.set_policy('bb_commits', 'at', '30 days', action => 'archive', batch_size => 100);
CALL upkeep.run_maintenance(tbl => 'bb_commits');
SELECT count(*) > 6 AS more_batches, max(row_count) <= 100 AS none_larger, sum(row_count) AS moved
  FROM upkeep.archive_manifest WHERE source_name = 'public.bb_commits';
SELECT rows, batches > 6 AS more_batches FROM upkeep.run_log WHERE table_name = 'public.bb_commits' AND action LIKE 'ARCHIVE%'
 ORDER BY id DESC LIMIT 1;

-- leave nothing behind for the tests that follow
SELECT upkeep.drop_policy('bb_delete'), upkeep.drop_policy('bb_commits');
DELETE FROM upkeep.archive_manifest WHERE source_name LIKE 'public.bb\_%';
DELETE FROM upkeep.run_log WHERE table_name LIKE 'public.bb\_%';
DROP TABLE bb_direct, bb_direct_archive, bb_delete, bb_commits, bb_commits_archive;
DROP FUNCTION slow_batch();
RESET client_min_messages;
