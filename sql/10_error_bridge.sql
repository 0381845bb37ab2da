-- The error bridge, both directions, in a real backend.
--   PostgreSQL -> C++: an ERROR raised by PostgreSQL under C++ frames that own
--     heap objects becomes a C++ exception; the frames unwind (destructors
--     run) and the error reaches the client with its own SQLSTATE, message,
--     detail and hint.
--   C++ -> PostgreSQL: a C++ exception thrown by a nested helper becomes an
--     ERROR once every C++ frame is gone.
SELECT upkeep._selftest_error_bridge('ok');
SELECT upkeep._selftest_live_objects();

-- an SPI error (division by zero) raised three C++ frames deep
SELECT upkeep._selftest_error_bridge('spi_error');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep._selftest_live_objects() AS live_after_spi_error;

-- an ereport with detail and hint inside PgCall keeps all three
SELECT upkeep._selftest_error_bridge('pg_error');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- a std::runtime_error from a nested helper
SELECT upkeep._selftest_error_bridge('cpp_nested');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep._selftest_live_objects() AS live_after_cpp_error;

-- std::bad_alloc maps to out_of_memory
SELECT upkeep._selftest_error_bridge('bad_alloc');
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- an SPI error caught and rolled back in a subtransaction: the session goes on
SELECT upkeep._selftest_error_bridge('subtransaction');

-- unknown mode: a clear error naming it
SELECT upkeep._selftest_error_bridge('nope');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep._selftest_error_bridge(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

-- no leaks under repeated errors: 5,000 failures of three kinds in one backend,
-- then no tracked object alive and malloc'd bytes back where they were
-- (tolerance: 1 MB of allocator noise, against ~40 MB if each failure leaked)
CREATE TEMP TABLE heap AS SELECT upkeep._selftest_error_bridge('heap_bytes') AS before;
DO $$
DECLARE
  i int;
BEGIN
  FOR i IN 1..5000 LOOP
    BEGIN
      PERFORM upkeep._selftest_error_bridge(CASE i % 3 WHEN 0 THEN 'spi_error' WHEN 1 THEN 'cpp_nested' ELSE 'pg_error' END);
      RAISE EXCEPTION 'not reached';
    EXCEPTION WHEN division_by_zero OR internal_error OR invalid_parameter_value THEN
      NULL;
    END;
  END LOOP;
END
$$;
SELECT upkeep._selftest_live_objects() AS live_after_5000_errors,
       upkeep._selftest_error_bridge('heap_bytes') - before < 1024 * 1024 AS heap_stable
  FROM heap;

-- the self-tests are not for ordinary roles
CREATE ROLE regress_upkeep_nobody;
SET ROLE regress_upkeep_nobody;
SELECT upkeep._selftest_error_bridge('ok');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
DROP ROLE regress_upkeep_nobody;
