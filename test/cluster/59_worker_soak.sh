#!/usr/bin/env bash
# Cluster soak test of the worker: UPKEEP_SOAK_SECONDS (default 600) with a
# policy that fails every cycle, and in the middle a launcher kill, a worker
# kill, DROP/CREATE EXTENSION and a DROP DATABASE of a listed database.
# Throughout: never two workers on one database, no crash restart.  At the
# end: one worker per listed database that exists, flat memory in the
# long-lived worker, no ERROR spam in the log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

D=${UPKEEP_SOAK_SECONDS:-600}
echo "# soak for $D s (UPKEEP_SOAK_SECONDS)"
new_cluster main "shared_preload_libraries = 'pg_upkeep'" "upkeep.naptime = 1" "max_worker_processes = 16"
POLICIES="SET client_min_messages = warning;
  CREATE TABLE IF NOT EXISTS bad (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
  CREATE OR REPLACE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN RAISE EXCEPTION 'bad rows stay'; END \$\$;
  CREATE OR REPLACE TRIGGER refuse BEFORE DELETE ON bad FOR EACH ROW EXECUTE FUNCTION public.refuse();
  INSERT INTO bad (at) SELECT now() - interval '100 days' FROM generate_series(1, 10);
  CREATE TABLE IF NOT EXISTS logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
  SELECT relid FROM upkeep.set_policy('bad', 'at', '30 days', run_every => '1 second');
  SELECT relid FROM upkeep.set_policy('logs', 'at', '10 days', run_every => '2 seconds');"
for db in app app2 gone; do
	sql "CREATE DATABASE $db" >/dev/null
	sql -d $db "CREATE EXTENSION pg_upkeep; $POLICIES" >/dev/null
done
set_databases 'app, app2, gone'
export WAIT_DB=postgres
check "three workers" wait_until 15 "SELECT count(*) = 3 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'"
WAIT_DB=app check "the bad policy fails" wait_until 15 "SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE table_name = 'public.bad' AND status = 'failed')"

start=$SECONDS
at() { [ $((SECONDS - start)) -ge $(($1 * D / 100)) ]; }
done_ev=()
ev() { # ev PERCENT NAME: true once, when PERCENT of the time has passed
	local k
	for k in "${done_ev[@]}"; do [ "$k" = "$2" ] && return 1; done
	at "$1" || return 1
	done_ev+=("$2")
	echo "# $(($SECONDS - start)) s: $2"
	return 0
}
max=0
samples=0
rss_first=""
W=""
while ! at 100; do
	n=$(max_workers_per_db); n=${n:-0}
	[ "$n" -gt "$max" ] && { max=$n; echo "# $(($SECONDS - start)) s: $n workers on one database"; }
	samples=$((samples + 1))
	sql -d app2 "INSERT INTO logs (at) SELECT now() - interval '20 days' FROM generate_series(1, 50)" >/dev/null 2>&1
	if ev 10 "kill the launcher"; then sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'pg_upkeep launcher'" >/dev/null; fi
	if ev 20 "kill the worker of app2"; then for p in $(worker_pids app2); do kill -TERM "$p"; done; fi
	if ev 30 "DROP EXTENSION in app"; then sql -d app "DROP EXTENSION pg_upkeep" >/dev/null; fi
	if ev 40 "CREATE EXTENSION in app"; then sql -d app "CREATE EXTENSION pg_upkeep; $POLICIES" >/dev/null; fi
	if ev 45 "measure the worker of app"; then W=$(worker_pids app); rss_first=$(awk '/^RssAnon:/ {print $2}' "/proc/$W/status"); echo "# RssAnon $rss_first kB (pid $W)"; fi
	if ev 50 "DROP DATABASE gone"; then
		st=$(sql_state "DROP DATABASE gone"); echo "# DROP DATABASE gone: $st"
	fi
	sleep 1
done
check "never two workers on one database ($samples samples over $D s) (max $max)" test "$max" -le 1
check "no crash restart" no_crash_restart
is "$(sql "SELECT count(*) FROM pg_database WHERE datname = 'gone'")" 0 "DROP DATABASE of a listed database worked"
check "one worker for app and one for app2, none for the dropped database" wait_until 15 \
	"SELECT count(*) = 2 AND count(DISTINCT datname) = 2 AND bool_and(datname IN ('app', 'app2')) FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'"
is "$(worker_pids app)" "$W" "the worker of app lived from the measurement to the end"
rss_last=$(awk '/^RssAnon:/ {print $2}' "/proc/$W/status")
check "flat memory in the worker of app (RssAnon $rss_first -> $rss_last kB, < 1 MB growth)" test $((rss_last - rss_first)) -lt 1024
WAIT_DB=app check "the bad policy was still failing at the end" wait_until 10 \
	"SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE table_name = 'public.bad' AND status = 'failed' AND started_at > now() - interval '10 seconds')"
WAIT_DB=app2 check "app2 was maintained to the end" wait_until 15 "SELECT NOT EXISTS (SELECT 1 FROM logs WHERE at < now() - interval '10 days')"
errors=$(upkeep_errors | wc -l)
is "$errors" 0 "no ERROR or FATAL lines from pg_upkeep's processes"
n=$(log_count 'listed in upkeep.databases, does not exist')
check "the dropped database is reported once per back-off interval, not once a cycle ($n lines)" test "$n" -le $((D / 20 + 3))
finish_worker
