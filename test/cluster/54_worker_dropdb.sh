#!/usr/bin/env bash
# Cluster test: the worker never holds a database hostage.
#  - DROP DATABASE, ALTER DATABASE ... RENAME, ... SET TABLESPACE and CREATE
#    DATABASE ... TEMPLATE of a listed database work with the ordinary
#    commands, within a few seconds;
#  - the worker does not come back to a dropped database, nor to one renamed
#    out of the list; it does come back after a template copy or a tablespace
#    move, and to a listed database created again;
#  - a DROP DATABASE the caller may not do leaves the worker alone.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

new_cluster main "shared_preload_libraries = 'pg_upkeep'" "upkeep.naptime = 1" "max_worker_processes = 16"
for db in app app2 app3; do
	sql "CREATE DATABASE $db" >/dev/null
	sql -d $db "CREATE EXTENSION pg_upkeep" >/dev/null
done
sql "CREATE ROLE carol LOGIN" >/dev/null
set_databases 'app, app2, app3'
export WAIT_DB=postgres
check "three workers" wait_until 15 "SELECT count(*) = 3 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'"

# ---- a DROP DATABASE that is refused does not disturb the worker
W=$(worker_pids app)
is "$(sql_state "SET ROLE carol" "DROP DATABASE app")" 42501 "carol may not drop app (42501)"
is "$(worker_pids app)" "$W" "and the worker of app was left alone"

# ---- DROP DATABASE
t0=$(now_ms)
is "$(sql_state "DROP DATABASE app")" ok "DROP DATABASE of a listed database works"
ms=$(($(now_ms) - t0))
check "within a few seconds (${ms} ms)" test "$ms" -lt 5000
is "$(sql "SELECT count(*) FROM pg_database WHERE datname = 'app'")" 0 "app is gone"
sleep 5
is "$(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'")" 2 "the worker does not come back for it"
is "$(log_count 'FATAL: .*database "app" does not exist')" 0 "no worker even tried to connect to it"
is "$(log_count 'listed in upkeep.databases, does not exist')" 1 "the launcher says once that a listed database does not exist"

# ---- ALTER DATABASE ... RENAME
is "$(sql_state "ALTER DATABASE app2 RENAME TO app2_old")" ok "ALTER DATABASE ... RENAME of a listed database works"
sleep 5
is "$(worker_count app2_old)" 0 "no worker comes back to a database renamed out of the list"

# ---- CREATE DATABASE ... TEMPLATE and ALTER DATABASE ... SET TABLESPACE
W=$(worker_pids app3)
is "$(sql_state "CREATE DATABASE copy3 TEMPLATE app3")" ok "CREATE DATABASE ... TEMPLATE a listed database works"
check "app3 has its worker back" wait_until 15 \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app3'"
mkdir -p "$T_WORK/ts" && chown postgres:postgres "$T_WORK/ts"
sql "CREATE TABLESPACE ts LOCATION '$T_WORK/ts'" >/dev/null
is "$(sql_state "ALTER DATABASE app3 SET TABLESPACE ts")" ok "ALTER DATABASE ... SET TABLESPACE of a listed database works"
check "app3 has its worker back again" wait_until 15 \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app3'"
WAIT_DB=app3 check "and it answers wake_worker()" wait_until 10 "SELECT upkeep.wake_worker()"

# ---- a listed database created again gets its worker (no reload)
sql "CREATE DATABASE app" >/dev/null
check "CREATE DATABASE app: its worker starts" wait_until 15 \
	"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app'"
sql -d app "CREATE EXTENSION pg_upkeep" >/dev/null
WAIT_DB=app check "and maintains it once the extension exists" wait_until 10 "SELECT upkeep.wake_worker()"
# ---- and it can be dropped again right away
is "$(sql_state "DROP DATABASE app")" ok "DROP DATABASE again"
check "no crash restart" no_crash_restart
check "no ERROR or FATAL from pg_upkeep's processes" no_upkeep_errors
finish_worker
