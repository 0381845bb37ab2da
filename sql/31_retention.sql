-- Retention (action delete): cleanup_old_data() in the caller's transaction.
SET client_min_messages = warning;
-- a fixed "now" for cutoffs (test hook); rows are placed around it
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
SET timezone = 'UTC';

CREATE TABLE ret_logs (id bigserial PRIMARY KEY, at timestamptz, msg text);
CREATE INDEX ON ret_logs (at);
-- 1,000 rows one hour apart ending at "now", three exactly at the cutoff, two NULL times
INSERT INTO ret_logs (at, msg)
  SELECT timestamptz '2024-06-15 12:00:00+00' - g * interval '1 hour', 'row ' || g FROM generate_series(0, 999) g;
INSERT INTO ret_logs (at, msg) VALUES ('2024-05-16 12:00:00+00', 'at cutoff'), ('2024-05-16 12:00:00+00', 'at cutoff'),
  ('2024-05-16 11:59:59.999999+00', 'just before'), (NULL, 'no time'), (NULL, 'no time');
SELECT relid FROM upkeep.set_policy('ret_logs', 'at', '30 days', batch_size => 100);

-- how many are older than the cutoff (2024-05-16 12:00 UTC)
SELECT count(*) FILTER (WHERE at < '2024-05-16 12:00:00+00') AS expired,
       count(*) FILTER (WHERE at = '2024-05-16 12:00:00+00') AS at_cutoff,
       count(*) FILTER (WHERE at IS NULL) AS null_times, count(*) AS total FROM ret_logs;

-- dry run: the exact count, nothing changes
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(dry_run => true);
SELECT count(*) AS total_after_dry_run FROM ret_logs;

-- in a transaction that rolls back, nothing changes (run_log included)
BEGIN;
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data();
SELECT count(*) AS inside_transaction FROM ret_logs;
ROLLBACK;
SELECT count(*) AS after_rollback FROM ret_logs;
SELECT count(*) AS run_log_rows FROM upkeep.run_log;

-- for real: rows older than the cutoff go, rows at the cutoff and NULL times stay
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data();
SELECT count(*) AS total, count(*) FILTER (WHERE at < '2024-05-16 12:00:00+00') AS still_expired,
       count(*) FILTER (WHERE at = '2024-05-16 12:00:00+00') AS at_cutoff_kept,
       count(*) FILTER (WHERE at IS NULL) AS null_kept FROM ret_logs;
SELECT table_name, action, rows, batches > 1 AS batched, status, run_by FROM upkeep.run_log ORDER BY id;
-- idempotent: nothing left to do
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data();

--------------------------------------------------------------------------
-- the three batching methods delete exactly the same rows
--------------------------------------------------------------------------
CREATE TABLE m_time (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE INDEX ON m_time (at);
CREATE TABLE m_ctid (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE m_pk (id int PRIMARY KEY, at timestamptz NOT NULL);
CREATE FUNCTION fill_methods() RETURNS void LANGUAGE sql AS $$
  TRUNCATE m_time, m_ctid, m_pk;
  INSERT INTO m_time SELECT g, timestamptz '2024-06-15 12:00:00+00' - (g % 997) * interval '1 hour' FROM generate_series(1, 3000) g;
  INSERT INTO m_ctid SELECT * FROM m_time;
  INSERT INTO m_pk SELECT * FROM m_time;
$$;
SELECT fill_methods();
SELECT relid FROM upkeep.set_policy('m_time', 'at', '30 days', batch_size => 50);
SELECT relid FROM upkeep.set_policy('m_ctid', 'at', '30 days', batch_size => 50);
SELECT relid FROM upkeep.set_policy('m_pk', 'at', '30 days', batch_size => 50);
SET upkeep.batch_method = 'auto';     -- m_time: time slices; m_ctid, m_pk: ctid ranges
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data() WHERE table_name LIKE 'public.m_%' ORDER BY 1;
SELECT fill_methods();
SET upkeep.batch_method = 'pk';       -- primary-key ranges where there is an integer key
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data() WHERE table_name LIKE 'public.m_%' ORDER BY 1;
RESET upkeep.batch_method;
-- which method each run used (the run log says)
SELECT table_name, rows, substring(message from 'batches by (.*)$') AS method
  FROM upkeep.run_log WHERE table_name LIKE 'public.m_%' ORDER BY id;
SELECT (SELECT count(*) FROM m_time) AS m_time, (SELECT count(*) FROM m_ctid) AS m_ctid, (SELECT count(*) FROM m_pk) AS m_pk,
       (SELECT count(*) FROM m_time WHERE at < '2024-05-16 12:00:00+00') AS expired_left;
-- more rows than a batch share one timestamp: the time-slice walk still terminates and takes them all
TRUNCATE m_time;
INSERT INTO m_time SELECT g, '2024-01-01 00:00:00+00' FROM generate_series(1, 260) g;
INSERT INTO m_time SELECT g, '2024-06-01 00:00:00+00' FROM generate_series(261, 300) g;
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'm_time');
SELECT count(*) AS left_after_ties FROM m_time;

--------------------------------------------------------------------------
-- triggers, foreign keys and row-level security are honoured
--------------------------------------------------------------------------
CREATE TABLE audit (deleted_id bigint, who name);
CREATE TABLE with_trigger (id bigint PRIMARY KEY, at timestamptz NOT NULL);
-- (triggers run as the table's owner, with the search_path the owner gets when
-- logging in to this database: 16_owner_search_path.sql)
CREATE FUNCTION record_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.audit VALUES (OLD.id, current_user); RETURN OLD; END $$;
CREATE TRIGGER on_delete AFTER DELETE ON with_trigger FOR EACH ROW EXECUTE FUNCTION record_delete();
INSERT INTO with_trigger SELECT g, timestamptz '2024-06-15 12:00:00+00' - g * interval '1 day' FROM generate_series(1, 60) g;
SELECT relid FROM upkeep.set_policy('with_trigger', 'at', '30 days');
-- a trigger that names its table unqualified works as in the owner's own sessions: the
-- owner (the bootstrap superuser here) logs in with the default "$user", public
CREATE TABLE unqualified_trigger (id bigint PRIMARY KEY, at timestamptz NOT NULL);
CREATE FUNCTION record_delete_unqualified() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit VALUES (OLD.id, current_user); RETURN OLD; END $$;
CREATE TRIGGER on_delete AFTER DELETE ON unqualified_trigger FOR EACH ROW EXECUTE FUNCTION record_delete_unqualified();
INSERT INTO unqualified_trigger SELECT * FROM with_trigger;
SELECT relid FROM upkeep.set_policy('unqualified_trigger', 'at', '30 days');
-- a parent whose old rows are still referenced
CREATE TABLE fk_parent (id bigint PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE fk_child (parent_id bigint REFERENCES fk_parent (id));
INSERT INTO fk_parent SELECT g, timestamptz '2024-06-15 12:00:00+00' - g * interval '1 day' FROM generate_series(1, 60) g;
INSERT INTO fk_child VALUES (45);
SELECT relid FROM upkeep.set_policy('fk_parent', 'at', '30 days');
-- row-level security forced on the owner: only the visible rows can go
CREATE TABLE with_rls (id bigint PRIMARY KEY, at timestamptz NOT NULL, keep boolean NOT NULL);
INSERT INTO with_rls SELECT g, timestamptz '2024-06-15 12:00:00+00' - g * interval '1 day', g % 2 = 0 FROM generate_series(1, 60) g;
ALTER TABLE with_rls ENABLE ROW LEVEL SECURITY;
ALTER TABLE with_rls FORCE ROW LEVEL SECURITY;
CREATE POLICY see_all ON with_rls FOR SELECT USING (true);
CREATE POLICY delete_unkept ON with_rls FOR DELETE USING (NOT keep);
CREATE ROLE regress_upkeep_rls_owner;
ALTER TABLE with_rls OWNER TO regress_upkeep_rls_owner;
SELECT relid FROM upkeep.set_policy('with_rls', 'at', '30 days');

SELECT table_name, regexp_replace(action, 'Key \(.*\)', 'Key (...)') AS action, rows_affected
  FROM upkeep.cleanup_old_data()
 WHERE table_name IN ('public.with_trigger', 'public.fk_parent', 'public.with_rls', 'public.unqualified_trigger') ORDER BY 1;
-- each trigger fired once per deleted row (30 + 30), as the table's owner
SELECT count(*) AS audited, min(deleted_id), max(deleted_id), string_agg(DISTINCT who, ',') AS who FROM audit;
-- the failing table lost nothing (its subtransaction rolled back) and the others went on
-- (the unqualified trigger's table kept its 30 recent rows)
SELECT (SELECT count(*) FROM fk_parent) AS fk_parent_rows, (SELECT count(*) FROM unqualified_trigger) AS unqualified_rows;
SELECT count(*) AS rls_rows, count(*) FILTER (WHERE at < '2024-05-16 12:00:00+00') AS rls_expired_kept,
       bool_and(keep) FILTER (WHERE at < '2024-05-16 12:00:00+00') AS only_kept_rows_left FROM with_rls;
SELECT table_name, status, rows, message LIKE '%violates foreign key constraint%' AS fk_message
  FROM upkeep.run_log WHERE table_name = 'public.fk_parent';
DROP TABLE fk_child;

--------------------------------------------------------------------------
-- ownership: a caller's run touches only the tables it may act on
--------------------------------------------------------------------------
CREATE ROLE regress_upkeep_alice;
CREATE ROLE regress_upkeep_bob;
CREATE TABLE alice_logs (id int, at timestamptz NOT NULL);
CREATE TABLE bob_logs (id int, at timestamptz NOT NULL);
INSERT INTO alice_logs SELECT g, timestamptz '2024-06-15 12:00:00+00' - g * interval '1 day' FROM generate_series(1, 40) g;
INSERT INTO bob_logs SELECT * FROM alice_logs;
ALTER TABLE alice_logs OWNER TO regress_upkeep_alice;
ALTER TABLE bob_logs OWNER TO regress_upkeep_bob;
-- privileges are not ownership (every one there was before 17: from 17, ALL includes MAINTAIN,
-- which does let a role run the table's maintenance; see test/pgtap/50_maintain_privilege.sql)
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON bob_logs TO regress_upkeep_alice;
SET ROLE regress_upkeep_alice;
SELECT relid FROM upkeep.set_policy('alice_logs', 'at', '30 days');
RESET ROLE;
SET ROLE regress_upkeep_bob;
SELECT relid FROM upkeep.set_policy('bob_logs', 'at', '30 days');
RESET ROLE;
SET ROLE regress_upkeep_alice;
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data();
SELECT upkeep.cleanup_old_data(tbl => 'bob_logs');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT (SELECT count(*) FROM alice_logs) AS alice_rows, (SELECT count(*) FROM bob_logs) AS bob_rows;
-- ownership is re-checked when the policy runs: alice gave the table away, her runs no longer touch it
ALTER TABLE alice_logs OWNER TO regress_upkeep_bob;
INSERT INTO alice_logs VALUES (0, '2020-01-01');
SET ROLE regress_upkeep_alice;
SELECT count(*) AS alice_outcomes FROM upkeep.cleanup_old_data();
RESET ROLE;
SELECT count(*) AS old_row_still_there FROM alice_logs WHERE at < '2021-01-01';
-- the new owner's run does
SET ROLE regress_upkeep_bob;
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data() ORDER BY 1;
RESET ROLE;
-- only a table without a policy
SELECT upkeep.cleanup_old_data(tbl => 'audit');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.cleanup_old_data(NULL);
\echo SQLSTATE :LAST_ERROR_SQLSTATE

--------------------------------------------------------------------------
-- run_log trims itself; the status view
--------------------------------------------------------------------------
INSERT INTO upkeep.run_log (run_id, relid, table_name, action, started_at, finished_at, status, run_by, pid)
  VALUES (0, 0, 'ancient', 'DELETE', now() - interval '90 days', now() - interval '90 days', 'ok', 'test', 0);
SELECT count(*) AS before_trim FROM upkeep.run_log WHERE table_name = 'ancient';
SELECT count(*) > 0 AS ran FROM upkeep.cleanup_old_data();
SELECT count(*) AS after_trim FROM upkeep.run_log WHERE table_name = 'ancient';
SELECT table_name, action, retain, rows_past_cutoff IS NOT NULL AS has_estimate, cutoff, last_result
  FROM upkeep.status WHERE table_name::text IN ('ret_logs', 'with_rls', 'fk_parent') ORDER BY table_name::text;

--------------------------------------------------------------------------
-- a run releases only the table locks runs took: an advisory lock this
-- session took by hand on the same key (classid 0x55504B50, objid = OID) stays
--------------------------------------------------------------------------
SELECT pg_advisory_lock(x'55504B50'::int, 'ret_logs'::regclass::oid::int);
CALL upkeep.run_maintenance();
SELECT count(*) AS hand_lock_still_held FROM pg_locks
 WHERE locktype = 'advisory' AND pid = pg_backend_pid() AND classid = x'55504B50'::int::oid
   AND objid = 'ret_logs'::regclass::oid AND granted;
SELECT pg_advisory_unlock(x'55504B50'::int, 'ret_logs'::regclass::oid::int);

DROP TABLE ret_logs, m_time, m_ctid, m_pk, audit, with_trigger, unqualified_trigger, fk_parent, with_rls, alice_logs, bob_logs;
DROP FUNCTION fill_methods(), record_delete(), record_delete_unqualified();
DROP ROLE regress_upkeep_rls_owner, regress_upkeep_alice, regress_upkeep_bob;
