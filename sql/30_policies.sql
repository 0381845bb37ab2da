-- Policies: set_policy / drop_policy validation, storage and protection.
SET client_min_messages = warning;
CREATE ROLE regress_upkeep_pol_owner;
CREATE ROLE regress_upkeep_pol_other;
GRANT CREATE ON SCHEMA public TO regress_upkeep_pol_owner;

CREATE TABLE pol_logs (id bigserial PRIMARY KEY, at timestamptz, msg text, n int);
CREATE TABLE pol_parts (id bigint, day date NOT NULL) PARTITION BY RANGE (day);
CREATE TABLE pol_list (id bigint, day date NOT NULL) PARTITION BY LIST (day);

-- a plain table: time column and retain are required; action defaults to delete
SELECT relid, time_column, retain, action, archive_to, premake, batch_size, run_every, timezone, enabled, created_by
  FROM upkeep.set_policy('pol_logs', 'at', '30 days');
-- a range-partitioned table: the time column defaults to the partition key, action to drop
SELECT relid, time_column, retain, action, premake FROM upkeep.set_policy('pol_parts', retain => '6 months');
-- updating keeps what is not given
SELECT relid, time_column, retain, action, batch_size, run_every, timezone
  FROM upkeep.set_policy('pol_logs', batch_size => 500, run_every => '15 minutes', timezone => 'Europe/Berlin');
SELECT relid, retain, batch_size FROM upkeep.set_policy('pol_logs', retain => '2 mons 3 days');
SELECT relid, enabled FROM upkeep.set_policy('pol_logs', enabled => false);
SELECT relid, enabled FROM upkeep.set_policy('pol_logs', enabled => true);

-- validation errors, each with its SQLSTATE; nothing is stored
SELECT upkeep.set_policy(NULL, 'at', '1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE pol_new (at timestamptz);
SELECT upkeep.set_policy('pol_new', 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', retain => '1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'no_such_column', '1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_logs', 'msg', '1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_logs', 'n', '1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'at', '0 days');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'at', '-1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'at', '1 day', action => 'truncate');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'at', '1 day', action => 'drop');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_list', retain => '1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_list', 'day', '1 day', action => 'drop');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'at', '1 day', premake => -1);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'at', '1 day', batch_size => 0);
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'at', '1 day', run_every => '0 seconds');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- an interval with a negative part compares as positive but can put now - retain after now
-- ('1 mon -29 days' on 2023-03-01): refused, as are absurd sizes
SELECT '1 mon -29 days'::interval > '0'::interval AS compares_positive,
       timestamp '2023-03-01 12:00' - '1 mon -29 days'::interval AS cutoff_on_2023_03_01;
SELECT upkeep.set_policy('pol_new', 'at', '1 mon -29 days');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'at', '-1 mon 40 days');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'at', '1000000 years');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'at', '1 day', run_every => '11 years');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'at', '1 day', run_every => '1 day -1 hour');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.archive_table('pol_new', older_than => '1 mon -29 days', time_column => 'at');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT relid, retain FROM upkeep.set_policy('pol_new', 'at', '1000 years');   -- the largest accepted
SELECT upkeep.drop_policy('pol_new');
SELECT upkeep.set_policy('pol_new', 'at', '1 day', timezone => 'Atlantis/Capital');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_new', 'at', '1 day', archive_to => 'pol_logs');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('pol_parts', retain => '1 day', action => 'detach', detach_schema => 'no_such_schema');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TABLE pol_parts2 (id bigint, day date NOT NULL, seen timestamptz) PARTITION BY RANGE (day);
SELECT upkeep.set_policy('pol_parts2', 'seen', '1 day', action => 'drop');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- delete on a partitioned table by another time column is fine (rows go through the parent)
SELECT relid, time_column, action FROM upkeep.set_policy('pol_parts2', 'seen', '1 day', action => 'delete');
-- things that are not ours to manage
SELECT upkeep.set_policy('pg_catalog.pg_class', 'relname', '1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT upkeep.set_policy('upkeep.run_log', 'started_at', '1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE VIEW pol_view AS SELECT now() AS at;
SELECT upkeep.set_policy('pol_view', 'at', '1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
CREATE TEMP TABLE pol_temp (at timestamptz);
\set VERBOSITY sqlstate
SELECT upkeep.set_policy('pol_temp', 'at', '1 day');   -- (the temp schema's name varies)
\set VERBOSITY default
SELECT count(*) AS policies FROM upkeep.policy;

-- ownership: only the owner (or a member of its role, or a superuser) sets a policy
CREATE TABLE pol_owned (at timestamptz);
ALTER TABLE pol_owned OWNER TO regress_upkeep_pol_owner;
GRANT ALL ON pol_owned TO regress_upkeep_pol_other;
SET ROLE regress_upkeep_pol_other;
SELECT upkeep.set_policy('pol_owned', 'at', '1 day');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE regress_upkeep_pol_owner;
SELECT relid, created_by FROM upkeep.set_policy('pol_owned', 'at', '1 day');
-- owners see their own policies only
SELECT relid FROM upkeep.policy ORDER BY 1;
-- and cannot write the catalog directly (policies are data, not authority)
INSERT INTO upkeep.policy (relid, time_column, retain, action, created_by) VALUES ('pol_logs', 'at', '1 day', 'delete', 'regress_upkeep_pol_owner');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
UPDATE upkeep.policy SET retain = '1 second';
\echo SQLSTATE :LAST_ERROR_SQLSTATE
DELETE FROM upkeep.policy;
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SET ROLE regress_upkeep_pol_other;
SELECT count(*) AS visible_to_stranger FROM upkeep.policy;
SELECT upkeep.drop_policy('pol_owned');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;

-- drop_policy: true when there was one
SELECT upkeep.drop_policy('pol_parts2') AS dropped, upkeep.drop_policy('pol_parts2') AS again;
-- a dropped table takes its policy along (its OID must never come to name another table)
SELECT count(*) AS before FROM upkeep.policy WHERE relid = 'pol_owned'::regclass;
DROP TABLE pol_owned;
SELECT count(*) AS policies_left, string_agg(relid::text, ', ' ORDER BY relid::text) FROM upkeep.policy;

-- pg_dump carries the configuration
SELECT c.relname FROM pg_catalog.pg_extension e, unnest(e.extconfig) x JOIN pg_catalog.pg_class c ON c.oid = x
 WHERE e.extname = 'pg_upkeep' ORDER BY 1;

DROP TABLE pol_logs, pol_parts, pol_list, pol_new, pol_parts2 CASCADE;
DROP VIEW pol_view;
REVOKE ALL ON SCHEMA public FROM regress_upkeep_pol_owner;
DROP ROLE regress_upkeep_pol_owner;
DROP ROLE regress_upkeep_pol_other;
