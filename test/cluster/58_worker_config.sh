#!/usr/bin/env bash
# Cluster test: configuration errors around the worker.
# A listed database that is missing or does not allow connections, an
# upkeep.role that is missing or cannot log in, no free background worker
# slot: one clear LOG line per back-off interval, no worker started to fail
# (no FATAL, no restart loop), the other databases keep being maintained, and
# fixing the problem (CREATE DATABASE, ALTER ROLE ... LOGIN, a reload) starts
# the worker without further ado.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

# the logical replication launcher and ours take 2 of the 4 slots: room for two workers
new_cluster main "shared_preload_libraries = 'pg_upkeep'" "upkeep.naptime = 1" "max_worker_processes = 4" \
	"max_parallel_workers_per_gather = 0" "max_parallel_maintenance_workers = 0"
for db in app noconn app3; do
	sql "CREATE DATABASE $db" >/dev/null
	sql -d $db "CREATE EXTENSION pg_upkeep;
	            CREATE TABLE logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
	            SELECT relid FROM upkeep.set_policy('logs', 'at', '10 days', run_every => '1 second');" >/dev/null
done
sql "ALTER DATABASE noconn WITH ALLOW_CONNECTIONS false" >/dev/null
A() { sql -d app "$@"; }
export WAIT_DB=app
set_databases 'app, nosuchdb, noconn'
check "app gets its worker" wait_until 15 "SELECT upkeep.wake_worker()"
sleep 12
n=$(log_count 'database "nosuchdb", listed in upkeep.databases, does not exist')
check "missing database: one LOG line per back-off interval (at 0 and 10 s) ($n in 12 s)" test "$n" -ge 1 -a "$n" -le 2
n=$(log_count 'database "noconn", listed in upkeep.databases, does not allow connections')
check "datallowconn = false: one LOG line per back-off interval ($n in 12 s)" test "$n" -ge 1 -a "$n" -le 2
is "$(log_count 'FATAL: .*database "(nosuchdb|noconn)"')" 0 "no worker was started to fail (no FATAL)"
is "$(log_count 'worker for database "(nosuchdb|noconn)" exited')" 0 "no restart loop"
A "INSERT INTO logs (at) SELECT now() - interval '20 days' FROM generate_series(1, 10)" >/dev/null
check "app keeps being maintained meanwhile" wait_until 10 "SELECT NOT EXISTS (SELECT 1 FROM logs WHERE at < now() - interval '10 days')"
# fixing it starts the worker at once (the DDL wakes the launcher: no reload, no back-off wait)
sql "CREATE DATABASE nosuchdb" >/dev/null
WAIT_DB=postgres check "CREATE DATABASE nosuchdb: its worker starts within seconds" wait_until 5 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'nosuchdb')"
set_databases 'app'
WAIT_DB=postgres check "removed from the list: its worker stops" wait_until 10 \
	"SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'nosuchdb')"

# ---- upkeep.role missing, then without LOGIN
sql "CREATE ROLE keeper NOLOGIN SUPERUSER" >/dev/null
set_conf upkeep.role ghost
sleep 12
n=$(log_count 'upkeep.role "ghost" does not exist')
check "missing role: one LOG line per back-off interval ($n in 12 s)" test "$n" -ge 1 -a "$n" -le 2
is "$(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'")" 0 "no worker runs under a role that does not exist"
set_conf upkeep.role keeper
sleep 12
n=$(log_count 'upkeep.role "keeper" cannot log in')
check "NOLOGIN role: one LOG line per back-off interval ($n in 12 s)" test "$n" -ge 1 -a "$n" -le 2
is "$(log_count 'FATAL: .*role "(ghost|keeper)"')" 0 "no worker was started to fail (no FATAL)"
sql "ALTER ROLE keeper LOGIN" >/dev/null
WAIT_DB=postgres check "ALTER ROLE keeper LOGIN: the worker starts within seconds" wait_until 5 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app' AND usename = 'keeper')"
set_conf upkeep.role ''
WAIT_DB=postgres check "back to the default role" wait_until 15 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app' AND usename = 'postgres')"

# ---- no free background worker slot for the third database
sql "ALTER DATABASE noconn WITH ALLOW_CONNECTIONS true" >/dev/null
set_databases 'app, noconn, app3'
sleep 12
is "$(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'")" 2 "two workers fit"
n=$(log_count 'no free background worker slot for the worker of database')
check "no free slot: one LOG line per back-off interval ($n in 12 s)" test "$n" -ge 1 -a "$n" -le 2
A "INSERT INTO logs (at) SELECT now() - interval '20 days' FROM generate_series(1, 10)" >/dev/null
check "the databases that have a worker are maintained" wait_until 10 "SELECT NOT EXISTS (SELECT 1 FROM logs WHERE at < now() - interval '10 days')"
set_databases 'app, app3'
WAIT_DB=postgres check "a freed slot goes to the waiting database at the reload" wait_until 10 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app3')"
check "no crash restart" no_crash_restart
is "$(upkeep_errors | grep -v 'FATAL:  terminating background worker' | wc -l)" 0 "no ERROR or FATAL from pg_upkeep's processes"
finish_worker
