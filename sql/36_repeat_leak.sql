-- 10,000 failing calls in one backend leave its memory where it was (trust
-- issue, item 19): PostgreSQL memory (every memory context of the backend)
-- and C++ heap (malloc'd bytes in use, which also hold palloc's blocks) are
-- measured after a warm-up and again after the calls.
SET client_min_messages = warning;
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
CREATE TABLE lk_src (id int PRIMARY KEY, at timestamptz NOT NULL, v text);
INSERT INTO lk_src SELECT g, '2024-06-15 12:00+00'::timestamptz - g * interval '1 day', repeat('x', 50) FROM generate_series(1, 60) g;
-- an archive that drops every row it is given: each archive batch fails its conservation check and rolls back
CREATE TABLE lk_sink (LIKE lk_src, archived_at timestamptz NOT NULL);
CREATE FUNCTION lk_swallow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
CREATE TRIGGER swallow BEFORE INSERT ON lk_sink FOR EACH ROW EXECUTE FUNCTION lk_swallow();
-- a table whose retention fails on a foreign key (the call itself succeeds, the table fails)
CREATE TABLE lk_parent (id int PRIMARY KEY, at timestamptz NOT NULL);
INSERT INTO lk_parent SELECT id, at FROM lk_src;
CREATE TABLE lk_child (parent_id int REFERENCES lk_parent (id));
INSERT INTO lk_child VALUES (50);
SELECT relid FROM upkeep.set_policy('lk_parent', 'at', '30 days');
-- one round: 10 failing calls -- 4 refused policies, 4 refused partitions, an
-- archive batch that fails its row check and rolls back, a run whose table fails
CREATE FUNCTION lk_round(n int) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. n LOOP
    FOR k IN 1 .. 4 LOOP
      BEGIN
        PERFORM upkeep.set_policy('lk_src', 'at', '1 mon -29 days');
      EXCEPTION WHEN invalid_parameter_value THEN NULL;
      END;
      BEGIN
        PERFORM upkeep.create_monthly_partition('lk_src', '2024-01-01');
      EXCEPTION WHEN wrong_object_type THEN NULL;
      END;
    END LOOP;
    BEGIN
      PERFORM upkeep.archive_table('lk_src', 'lk_sink', '30 days', 'at', batch_size => 10);
    EXCEPTION WHEN triggered_action_exception THEN NULL;
    END;
    PERFORM * FROM upkeep.cleanup_old_data(tbl => 'lk_parent');
  END LOOP;
END $$;
CREATE FUNCTION lk_memory() RETURNS TABLE (contexts bigint, heap bigint) LANGUAGE sql AS $$
  SELECT (SELECT sum(total_bytes)::bigint FROM pg_backend_memory_contexts), upkeep._selftest_error_bridge('heap_bytes');
$$;
SELECT lk_round(50);    -- warm-up: caches and plans settle
SELECT contexts AS before_contexts, heap AS before_heap FROM lk_memory() \gset
SELECT lk_round(1000);  -- 10,000 failing calls
-- flat: under 32 kB over 10,000 calls (a leak of 4 bytes a call shows)
SELECT contexts - :before_contexts < 32 * 1024 AS contexts_flat, heap - :before_heap < 32 * 1024 AS heap_flat FROM lk_memory();
-- and nothing moved, nothing was lost
SELECT (SELECT count(*) FROM lk_src) AS src_rows, (SELECT count(*) FROM lk_sink) AS sink_rows,
       (SELECT count(*) FROM lk_parent) AS parent_rows,
       (SELECT count(*) FROM upkeep.run_log WHERE table_name = 'public.lk_parent' AND status = 'failed') = 1050 AS failures_logged;
SELECT upkeep.drop_policy('lk_parent');
DROP TABLE lk_src, lk_sink, lk_parent, lk_child;
DROP FUNCTION lk_round(int), lk_memory(), lk_swallow();
DELETE FROM upkeep.run_log;
