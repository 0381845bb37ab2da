#!/usr/bin/env bash
# Cluster test: the worker never waits on a synchronous standby.
# synchronous_commit = on and synchronous_standby_names naming a standby that
# does not exist (the standby is down): every ordinary commit would wait
# forever.  The worker's batches, its bookkeeping and its follow-up VACUUM
# (ANALYZE) all finish; none of its transactions waits in SyncRep.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

new_cluster main "shared_preload_libraries = 'pg_upkeep'" "upkeep.naptime = 1" "max_worker_processes = 16" \
	"wal_level = replica" "max_wal_senders = 4"
sql "CREATE DATABASE app" >/dev/null
A() { sql -d app "$@"; }
export WAIT_DB=app
A "CREATE EXTENSION pg_upkeep;
   CREATE TABLE logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
   CREATE INDEX ON logs (at);
   INSERT INTO logs (at) SELECT now() - interval '20 days' FROM generate_series(1, 25000);
   INSERT INTO logs (at) SELECT now() FROM generate_series(1, 100);
   SELECT relid FROM upkeep.set_policy('logs', 'at', '10 days', batch_size => 5000, enabled => false);" >/dev/null
set_databases app
check "the worker runs" wait_until 15 "SELECT upkeep.wake_worker()"

# the synchronous standby is down; our own test sessions commit locally
psql_at "$PORT" -c "ALTER SYSTEM SET synchronous_commit = on" -c "ALTER SYSTEM SET synchronous_standby_names = 'nowhere'" \
	-c "SELECT pg_reload_conf()" >/dev/null
export PGOPTIONS="-c synchronous_commit=local"
sleep 1.5
A "SELECT relid FROM upkeep.set_policy('logs', enabled => true)" >/dev/null
check "the worker deletes the expired rows" wait_until 20 "SELECT NOT EXISTS (SELECT 1 FROM logs WHERE at < now() - interval '10 days')"
check "and its follow-up VACUUM (ANALYZE) finishes and is logged" wait_until 20 \
	"SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE action = 'VACUUM' AND status = 'ok')
	 AND (SELECT last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'logs')"
check "its schedule is recorded" wait_until 10 "SELECT last_status = 'ok' AND next_due > now() FROM upkeep.policy_state WHERE relid = 'logs'::regclass"
sleep 2
is "$(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pg_upkeep%' AND wait_event = 'SyncRep'")" 0 \
	"no pg_upkeep process waits in SyncRep"
# a plain session does wait (the test is real): a commit with synchronous_commit = on hangs
is "$(PGOPTIONS="-c synchronous_commit=on -c statement_timeout=0" timeout 3 runuser -u postgres -- "$PGBIN/psql" -X -q -h "$(cluster_sock "$DATA")" -p "$PORT" -U postgres -d app -Atc "INSERT INTO logs (at) VALUES (now())" >/dev/null 2>&1; echo $?)" 124 \
	"an ordinary commit waits for the missing standby (control)"
psql_at "$PORT" -c "ALTER SYSTEM RESET synchronous_standby_names" -c "SELECT pg_reload_conf()" >/dev/null
check "no ERROR or FATAL from pg_upkeep's processes" no_upkeep_errors
finish_worker
