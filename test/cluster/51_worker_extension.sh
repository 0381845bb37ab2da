#!/usr/bin/env bash
# Cluster test: the worker follows CREATE / DROP EXTENSION without a reload.
#  - upkeep.databases = 'app' at server start, the extension created later:
#    the worker maintains app within a naptime or two, no reload needed;
#  - before that, one LOG line says it waits; no ERROR, no restart loop;
#  - DROP EXTENSION: the worker stops maintaining, says so once at LOG, stays
#    quiet (no ERROR), and CREATE EXTENSION again resumes without a reload;
#  - DROP EXTENSION while a cycle is under way: one LOG line, not an ERROR,
#    and the same worker carries on afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

new_cluster main "shared_preload_libraries = 'pg_upkeep'" "upkeep.naptime = 1" "max_worker_processes = 16"
sql "CREATE DATABASE app" >/dev/null
A() { sql -d app "$@"; }
export WAIT_DB=app
psql_at "$PORT" -c "ALTER SYSTEM SET upkeep.databases = 'app'" >/dev/null
cluster_restart "$DATA"

check "a worker is connected to app, which has no extension yet" wait_until 10 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app')"
W=$(worker_pids app)
sleep 3
is "$(log_count 'database "app" does not have the pg_upkeep extension; waiting for CREATE EXTENSION')" 1 \
	"one LOG line says the worker waits for the extension"
is "$(worker_pids app)" "$W" "the same worker waits (no restart loop)"

# ---- CREATE EXTENSION, then a policy: maintained without a reload
A "CREATE EXTENSION pg_upkeep;
   CREATE TABLE logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
   INSERT INTO logs (at) SELECT now() - g * interval '1 hour' FROM generate_series(1, 500) g;
   SELECT relid FROM upkeep.set_policy('logs', 'at', '10 days', run_every => '1 second');" >/dev/null
check "the worker maintains app within seconds of CREATE EXTENSION, no reload" wait_until 10 \
	"SELECT NOT EXISTS (SELECT 1 FROM logs WHERE at < now() - interval '10 days')"
is "$(A "SELECT string_agg(DISTINCT run_by, ',') FROM upkeep.run_log")" worker "the worker did it"
is "$(log_count 'pg_upkeep extension exists in database "app" now')" 1 "one LOG line says it maintains app now"

# ---- DROP EXTENSION: quiet stop, and CREATE EXTENSION resumes
A "DROP EXTENSION pg_upkeep" >/dev/null
check "one LOG line says the extension was dropped" wait_until 10 \
	"$(log_matches_sql 'pg_upkeep extension was dropped from database "app"')"
sleep 3
is "$(log_count 'pg_upkeep extension was dropped from database "app"')" 1 "just the one line, then silence"
is "$(worker_pids app)" "$W" "the same worker waits again"
A "INSERT INTO logs (at) SELECT now() - interval '20 days' FROM generate_series(1, 5)" >/dev/null
A "CREATE EXTENSION pg_upkeep;
   SELECT relid FROM upkeep.set_policy('logs', 'at', '10 days', run_every => '1 second');" >/dev/null
check "CREATE EXTENSION again: maintained again, no reload" wait_until 10 \
	"SELECT NOT EXISTS (SELECT 1 FROM logs WHERE at < now() - interval '10 days')"

# ---- DROP EXTENSION while the worker is inside a cycle
A "CREATE TABLE slow (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
   INSERT INTO slow (at) SELECT now() - interval '100 days' FROM generate_series(1, 40);
   CREATE FUNCTION public.crawl() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_catalog.pg_sleep(0.1); RETURN OLD; END \$\$;
   CREATE TRIGGER crawl BEFORE DELETE ON slow FOR EACH ROW EXECUTE FUNCTION public.crawl();
   SELECT relid FROM upkeep.set_policy('slow', 'at', '30 days', batch_size => 5);" >/dev/null
check "the worker is inside a run on the slow table" wait_until 15 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND query LIKE 'pg_upkeep: DELETE%public.slow: batch%running%')"
A "DROP EXTENSION pg_upkeep" >/dev/null
check "the drop under way is reported once at LOG" wait_until 15 \
	"$(log_matches_sql 'pg_upkeep extension was dropped from database "app"' 2)"
sleep 3
is "$(log_count 'pg_upkeep extension was dropped from database "app"')" 2 "and only once"
is "$(worker_pids app)" "$W" "the same worker is still there, waiting"
A "CREATE EXTENSION pg_upkeep;
   SELECT relid FROM upkeep.set_policy('slow', 'at', '30 days', batch_size => 20);" >/dev/null
check "and it maintains again after CREATE EXTENSION" wait_until 30 \
	"SELECT NOT EXISTS (SELECT 1 FROM slow WHERE at < now() - interval '30 days')"

check "no ERROR or FATAL from pg_upkeep's processes" no_upkeep_errors
check "no crash restart" no_crash_restart
finish_worker
