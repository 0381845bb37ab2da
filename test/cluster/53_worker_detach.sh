#!/usr/bin/env bash
# Cluster test: DETACH PARTITION CONCURRENTLY from the worker, when its
# second phase is cancelled (a long query on the parent outlasts the lock
# budget), and detach_schema names that need quoting.
#  - the partition is left "detach pending": run_log and policy_state do not
#    say ok, verify_backup_integrity() reports the set as failed;
#  - the worker is itself again afterwards: its VACUUM of another owner's
#    table in the same cycle works (not run as the first table's owner);
#  - the next run finalizes the pending detach (DETACH ... FINALIZE), moves it
#    to detach_schema, goes on with the other expired partitions, says so in
#    run_log; no row is lost or hidden, verify says the set is ok again;
#  - detach_schema => 'Old Data' works (quoted), and a move that fails is
#    reported failed, not ok.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

new_cluster main "shared_preload_libraries = 'pg_upkeep'" "upkeep.naptime = 1" "max_worker_processes = 16" \
	"upkeep.lock_timeout = '1s'"
sql "CREATE DATABASE app" >/dev/null
A() { sql -d app "$@"; }
export WAIT_DB=app
A "CREATE EXTENSION pg_upkeep;
   CREATE ROLE alice; CREATE ROLE bob;
   GRANT CREATE ON SCHEMA public TO alice, bob;
   CREATE SCHEMA \"Old Data\" AUTHORIZATION alice;" >/dev/null
A "SET ROLE alice;
   CREATE TABLE hist (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
   SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('hist', (date_trunc('month', current_date) - g * interval '1 month')::date) FROM generate_series(0, 5) g) s;
   INSERT INTO hist SELECT g, (date_trunc('month', current_date) - (g % 6) * interval '1 month')::date + 3 FROM generate_series(1, 6000) g;
   SELECT relid FROM upkeep.set_policy('hist', retain => '3 months', action => 'detach', detach_schema => 'Old Data', enabled => false);" >/dev/null
A "SET ROLE bob;
   CREATE TABLE big (id bigint PRIMARY KEY, at timestamptz NOT NULL);
   INSERT INTO big SELECT g, now() - interval '100 days' FROM generate_series(1, 20000) g;
   SELECT relid FROM upkeep.set_policy('big', 'at', '10 days', batch_size => 10000, enabled => false);" >/dev/null
set_databases app
check "the worker runs" wait_until 15 "SELECT upkeep.wake_worker()"
# partitions of months -5 and -4 end before the cutoff (3 months ago): expired; names sort by month
EXPIRED=$(A "SELECT string_agg(relname, ',' ORDER BY relname) FROM (SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'hist'::regclass ORDER BY c.relname LIMIT 2) s")
is "$(A "SELECT count(*) FROM pg_inherits WHERE inhparent = 'hist'::regclass")" 6 "six monthly partitions to begin with"

# ---- a long report query on the parent while the worker detaches
bg -d app "BEGIN; SELECT count(*) FROM hist; SELECT pg_sleep(8); COMMIT;"
wait_until 10 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(8)%' AND state = 'active' AND wait_event = 'PgSleep')" || true
A "SELECT relid FROM upkeep.set_policy('hist', enabled => true); SELECT relid FROM upkeep.set_policy('big', enabled => true)" >/dev/null
check "the worker's DETACH CONCURRENTLY did not complete, and run_log does not say ok" wait_until 15 \
	"SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE action = 'DETACH CONCURRENTLY' AND status <> 'ok' AND status <> 'running')"
is "$(A "SELECT count(*) FROM pg_inherits WHERE inhparent = 'hist'::regclass AND inhdetachpending")" 1 "one partition is left detach pending"
is "$(A "SELECT count(*) FROM upkeep.run_log WHERE action = 'DETACH CONCURRENTLY' AND status = 'ok'")" 0 "no detach claims ok"
is "$(A "SELECT last_status <> 'ok' FROM upkeep.policy_state WHERE relid = 'hist'::regclass")" t "policy_state does not say ok"
is "$(A "SELECT status FROM upkeep.verify_backup_integrity() WHERE check_name = 'partition_set' AND object = 'public.hist'")" failed \
	"verify_backup_integrity() reports the set as failed while a detach is pending"
is "$(A "SELECT detail ~ 'pending' FROM upkeep.verify_backup_integrity() WHERE check_name = 'partition_set' AND object = 'public.hist'")" t \
	"and says why (a pending detach)"
# identity: the VACUUM of bob's table after alice's cancelled detach ran as the worker, not as alice
check "the same cycle's VACUUM of another owner's table worked" wait_until 20 \
	"SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE action = 'VACUUM' AND table_name = 'public.big' AND status = 'ok')
	 AND (SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'big')"
is "$(log_count 'only table or database owner can vacuum')" 0 "no 'only table or database owner can vacuum' (the worker was not left as alice)"

# ---- the blocker is gone: the next run finalizes and goes on
check "the pending detach is finalized by a later run" wait_until 30 \
	"SELECT NOT EXISTS (SELECT 1 FROM pg_inherits WHERE inhparent = 'hist'::regclass AND inhdetachpending)
	 AND EXISTS (SELECT 1 FROM upkeep.run_log WHERE table_name = 'public.hist' AND message ~ 'FINALIZE' AND status = 'ok')"
check "and the other expired partition is detached too" wait_until 20 \
	"SELECT count(*) = 2 FROM pg_tables WHERE schemaname = 'Old Data'"
is "$(A "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'Old Data'")" "$EXPIRED" \
	"both expired partitions are plain tables in schema \"Old Data\""
is "$(A "SELECT (SELECT count(*) FROM hist) + (SELECT sum((xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', schemaname, tablename), false, true, '')))[1]::text::int) FROM pg_tables WHERE schemaname = 'Old Data')")" 6000 \
	"every row is either in the set or in a detached table: none hidden"
# 4 retained months, and the 3 premade ones: premake attaches new months under SHARE UPDATE EXCLUSIVE,
# so the report query holding the parent did not keep them from being made
is "$(A "SELECT count(*) FROM pg_inherits WHERE inhparent = 'hist'::regclass")" 7 "the set keeps its 4 retained partitions (and 3 premade)"
is "$(A "SELECT status FROM upkeep.verify_backup_integrity() WHERE check_name = 'partition_set' AND object = 'public.hist'")" ok \
	"verify_backup_integrity() calls the set ok again"
check "policy_state is ok again" wait_until 10 "SELECT last_status = 'ok' FROM upkeep.policy_state WHERE relid = 'hist'::regclass"

# ---- a move to detach_schema that fails is not ok
A "SET ROLE alice;
   CREATE TABLE hist2 (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
   SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('hist2', (date_trunc('month', current_date) - g * interval '1 month')::date) FROM generate_series(0, 5) g) s;
   INSERT INTO hist2 SELECT g, (date_trunc('month', current_date) - (g % 6) * interval '1 month')::date + 3 FROM generate_series(1, 600) g;" >/dev/null
OLDEST=$(A "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'hist2'::regclass ORDER BY c.relname LIMIT 1")
A "SET ROLE alice; CREATE TABLE \"Old Data\".\"$OLDEST\" (x int);
   SELECT relid FROM upkeep.set_policy('hist2', retain => '3 months', action => 'detach', detach_schema => 'Old Data');" >/dev/null
check "the worker detaches hist2's expired partitions" wait_until 20 \
	"SELECT count(*) = 2 FROM upkeep.run_log WHERE action = 'DETACH CONCURRENTLY' AND table_name = 'public.hist2' AND status <> 'running'"
is "$(A "SELECT status FROM upkeep.run_log WHERE action = 'DETACH CONCURRENTLY' AND table_name = 'public.hist2' AND message ~ '$OLDEST'")" failed \
	"the partition that could not be moved to \"Old Data\" is reported failed"
is "$(A "SELECT message ~ 'Old Data' FROM upkeep.run_log WHERE action = 'DETACH CONCURRENTLY' AND table_name = 'public.hist2' AND message ~ '$OLDEST'")" t \
	"naming the schema"
is "$(A "SELECT count(*) FROM upkeep.run_log WHERE action = 'DETACH CONCURRENTLY' AND table_name = 'public.hist2' AND status = 'ok'")" 1 \
	"the other one was moved: ok"
check "no crash restart" no_crash_restart
check "no ERROR or FATAL from pg_upkeep's processes" no_upkeep_errors
finish_worker
