#!/usr/bin/env bash
# Cluster test: at most one worker per database, whatever is killed.
#  - pg_terminate_backend(launcher): while it is gone and after it is back,
#    never two workers on one database; its successor's workers answer
#    wake_worker() and follow upkeep.databases (no orphan left behind);
#  - workers killed over and over: always back, alone, and wake_worker() true;
#  - the per-database advisory lock is held by the worker (pg_locks).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

new_cluster main "shared_preload_libraries = 'pg_upkeep'" "upkeep.naptime = 1" "max_worker_processes = 16"
for db in app app2; do
	sql "CREATE DATABASE $db" >/dev/null
	sql -d $db "CREATE EXTENSION pg_upkeep;
	            CREATE TABLE logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
	            SELECT relid FROM upkeep.set_policy('logs', 'at', '10 days', run_every => '1 second');" >/dev/null
done
set_databases 'app, app2'
export WAIT_DB=postgres
check "one worker for each database" wait_until 15 \
	"SELECT count(DISTINCT datname) = 2 AND count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'"
is "$(sql -d app "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid)
                   WHERE a.backend_type = 'pg_upkeep worker' AND l.locktype = 'advisory' AND l.classid = 1431325527 AND l.objid = 0
                     AND l.database = (SELECT oid FROM pg_database WHERE datname = 'app')")" 1 \
	"the worker holds its database's advisory lock (classid 0x55504B57)"

# ---- kill the launcher; sample the worker count while it is away and after it is back
L1=$(launcher_pid)
sql "SELECT pg_terminate_backend($L1)" >/dev/null
max=0
end=$((SECONDS + 25))
while [ $SECONDS -lt $end ]; do
	n=$(max_workers_per_db)
	[ "${n:-0}" -gt "$max" ] && max=$n
	sleep 0.2
done
check "never two workers on one database around a launcher restart (sampled for 25 s) (max $max)" test "$max" -le 1
L2=$(launcher_pid)
check "a new launcher runs" test -n "$L2" -a "$L2" != "$L1"
check "one worker for each database again" wait_until 15 \
	"SELECT count(DISTINCT datname) = 2 AND count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'"
for db in app app2; do
	WAIT_DB=$db check "wake_worker() reaches the worker of $db" wait_until 10 "SELECT upkeep.wake_worker()"
done
# the new launcher's workers follow upkeep.databases: nothing is left serving app
set_databases 'app2'
check "removing app stops its worker (no orphan keeps serving it)" wait_until 15 \
	"SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app')"
sleep 3
is "$(worker_count app)" 0 "and none comes back"
is "$(worker_count app2)" 1 "app2 keeps its one worker"
set_databases 'app, app2'
check "adding app back gives it one worker" wait_until 15 \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app'"

# ---- workers killed over and over
max=0
for i in 1 2 3 4 5; do
	for p in $(sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'"); do kill -TERM "$p"; done
	sleep 0.3
	n=$(max_workers_per_db); [ "${n:-0}" -gt "$max" ] && max=$n
done
check "never two workers on one database while workers are killed (max $max)" test "$max" -le 1
check "both databases have their worker back" wait_until 60 \
	"SELECT count(DISTINCT datname) = 2 AND count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'"
for db in app app2; do
	WAIT_DB=$db check "wake_worker() reaches the new worker of $db" wait_until 10 "SELECT upkeep.wake_worker()"
done
# ---- kill the launcher and a worker at once
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'pg_upkeep launcher' OR (backend_type = 'pg_upkeep worker' AND datname = 'app')" >/dev/null
max=0
end=$((SECONDS + 20))
while [ $SECONDS -lt $end ]; do
	n=$(max_workers_per_db); [ "${n:-0}" -gt "$max" ] && max=$n
	sleep 0.2
done
check "never two workers per database after killing the launcher and a worker together (max $max)" test "$max" -le 1
check "both databases are served again" wait_until 30 \
	"SELECT count(DISTINCT datname) = 2 AND count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'"
check "no crash restart" no_crash_restart
check "no ERROR or FATAL from pg_upkeep's processes" no_upkeep_errors
finish_worker
