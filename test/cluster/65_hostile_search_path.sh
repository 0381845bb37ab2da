#!/usr/bin/env bash
# Cluster test: a hostile search_path reaches neither pg_cron's run nor the
# background worker's.
#
# Three databases whose default search_path puts public first (ALTER DATABASE
# ... SET search_path = public, pg_catalog), each with the look-alikes of
# sql/15_hostile_search_path_plant.psql planted in public by the role intruder
# (every operator, function, aggregate, relation and type pg_upkeep could
# name, each recording its use and trying ALTER ROLE intruder SUPERUSER):
#   cronjob      a pg_cron job CALL upkeep.run_maintenance(), run as the
#                superuser that scheduled it;
#   worker_pin   the background worker, as shipped;
#   worker_hook  the background worker with upkeep.debug_search_path =
#                'public, pg_catalog' for that database, so that any name the
#                worker's own SQL leaves unqualified reaches a look-alike.
# The database's path is also the login path of the tables' owner, and so the
# path of each table owner's context (the hook replaces only pg_upkeep's own
# pin): there too, in every database, an unqualified name would reach a
# look-alike.
# Each maintains tables of a non-superuser (delete with a VACUUM follow-up,
# premake and drop, DETACH CONCURRENTLY into another schema, archive into a
# new default archive).  The maintenance happens; no look-alike is used;
# intruder stays NOSUPERUSER.  pg_cron has minute granularity: one wait of up
# to 80 s.
. "$(dirname "$0")/lib.sh"

PLANT="$UPKEEP_ROOT/sql/15_hostile_search_path_plant.psql"
DBS="cronjob worker_pin worker_hook"

new_cluster main "shared_preload_libraries = 'pg_upkeep, pg_cron'" "cron.database_name = 'postgres'" \
	"cron.host = '127.0.0.1'" "upkeep.naptime = 1" "max_worker_processes = 16"
sql "CREATE EXTENSION pg_cron; CREATE ROLE intruder; CREATE ROLE app_owner" >/dev/null

# safe DB QUERY: our own statements, never through the hostile default path
safe() { sql -d "$1" "SET search_path = pg_catalog, pg_temp; $2"; }

for db in $DBS; do
	sql "CREATE DATABASE $db" >/dev/null
	sql "ALTER DATABASE $db SET search_path = public, pg_catalog" >/dev/null
	sql -d "$db" "CREATE EXTENSION pg_upkeep" >/dev/null
	psql_at "$PORT" -d "$db" -v ON_ERROR_STOP=1 <"$PLANT" >"$T_WORK/plant-$db.log" 2>&1 ||
		{ not_ok "planting the look-alikes in $db"; tail -5 "$T_WORK/plant-$db.log"; }
	# the default path of a new session in this database reaches the look-alikes
	is "$(sql -d "$db" "SELECT (SELECT n.nspname FROM pg_catalog.pg_operator o JOIN pg_catalog.pg_namespace n
	                            ON n.oid OPERATOR(pg_catalog.=) o.oprnamespace
	                            WHERE o.oid OPERATOR(pg_catalog.=) pg_catalog.to_regoperator('=(pg_catalog.text,pg_catalog.text)')),
	                           (SELECT n.nspname FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n
	                            ON n.oid OPERATOR(pg_catalog.=) p.pronamespace
	                            WHERE p.oid OPERATOR(pg_catalog.=) pg_catalog.to_regprocedure('now()'))" 2>&1)" \
		"public|public" "$db: a new session's search_path resolves = and now() to the look-alikes"
	safe "$db" "CREATE SCHEMA app AUTHORIZATION app_owner; CREATE SCHEMA old_parts AUTHORIZATION app_owner;
		SET ROLE app_owner;
		CREATE TABLE app.logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL, msg text);
		CREATE INDEX ON app.logs (at);
		INSERT INTO app.logs (at, msg) SELECT now() - g * interval '1 minute', 'm' FROM generate_series(1, 30000) g;
		CREATE TABLE app.metrics (at timestamptz NOT NULL, v int) PARTITION BY RANGE (at);
		SELECT pg_catalog.count(upkeep.create_monthly_partition('app.metrics', (now() - g * interval '1 month')::date))
		  FROM generate_series(3, 6) g;
		CREATE TABLE app.hist (id bigint, day date NOT NULL) PARTITION BY RANGE (day);
		SELECT pg_catalog.count(upkeep.create_monthly_partition('app.hist', current_date - g * 31)) FROM generate_series(0, 5) g;
		INSERT INTO app.hist SELECT g, current_date - (g % 150) FROM generate_series(1, 3000) g;
		CREATE TABLE app.arch (id bigint PRIMARY KEY, at timestamptz NOT NULL);
		INSERT INTO app.arch SELECT g, now() - g * interval '1 day' FROM generate_series(1, 100) g;
		SELECT upkeep.set_policy('app.logs', 'at', '10 days', batch_size => 2000, run_every => '1 hour') IS NOT NULL;
		SELECT upkeep.set_policy('app.metrics', retain => '2 months', premake => 2, run_every => '1 hour') IS NOT NULL;
		SELECT upkeep.set_policy('app.hist', retain => '3 months', action => 'detach', detach_schema => 'old_parts',
		                         run_every => '1 hour') IS NOT NULL;
		SELECT upkeep.set_policy('app.arch', 'at', '30 days', 'archive', run_every => '1 hour') IS NOT NULL;" >/dev/null ||
		not_ok "fixture in $db"
done
sql "ALTER DATABASE worker_hook SET upkeep.debug_search_path = 'public, pg_catalog'" >/dev/null
EXPIRED_HIST=$(safe cronjob "SELECT pg_catalog.count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	WHERE i.inhparent = 'app.hist'::regclass AND c.relname < 'hist_' || to_char(current_date - interval '3 months', 'YYYY_MM')")

# the worker for two databases, pg_cron for the third
psql_at "$PORT" -c "ALTER SYSTEM SET upkeep.databases = 'worker_pin, worker_hook'" -c "SELECT pg_reload_conf()" >/dev/null
JOB=$(sql "SELECT cron.schedule_in_database('upkeep', '* * * * *', 'CALL upkeep.run_maintenance()', 'cronjob')")
check "the pg_cron job is scheduled" test -n "$JOB"

for db in worker_pin worker_hook; do
	export WAIT_DB=$db
	check "$db: the worker ran every policy and its follow-ups (DETACH CONCURRENTLY, VACUUM)" wait_until 60 \
		"SELECT (SELECT pg_catalog.count(*) FROM upkeep.policy_state WHERE last_status IS NOT NULL) OPERATOR(pg_catalog.=) 4
		    AND EXISTS (SELECT FROM upkeep.run_log WHERE action OPERATOR(pg_catalog.=) 'VACUUM')
		    AND EXISTS (SELECT FROM upkeep.run_log WHERE action OPERATOR(pg_catalog.=) 'DETACH CONCURRENTLY')"
done
unset WAIT_DB
check "pg_cron ran the job within 80 s" wait_until 80 \
	"SELECT EXISTS (SELECT 1 FROM cron.job_run_details WHERE jobid = $JOB AND status IN ('succeeded', 'failed'))"
is "$(sql "SELECT status || ' ' || return_message FROM cron.job_run_details WHERE jobid = $JOB ORDER BY runid LIMIT 1")" \
	"succeeded CALL" "cron.job_run_details: succeeded"
sql "SELECT cron.unschedule($JOB)" >/dev/null

for db in $DBS; do
	is "$(safe "$db" "SELECT pg_catalog.count(*) FROM app.logs WHERE at < now() - interval '10 days'")" 0 "$db: expired rows deleted"
	is "$(safe "$db" "SELECT pg_catalog.count(*) FROM pg_inherits WHERE inhparent = 'app.metrics'::regclass")" 3 \
		"$db: app.metrics: the 4 expired months dropped, this month and 2 ahead premade"
	is "$(safe "$db" "SELECT pg_catalog.count(*) FROM pg_class WHERE relnamespace = 'old_parts'::regnamespace AND relkind = 'r'")" \
		"$EXPIRED_HIST" "$db: the $EXPIRED_HIST expired partitions of app.hist detached into old_parts"
	is "$(safe "$db" "SELECT (SELECT pg_catalog.count(*) FROM app.arch) || '+' || (SELECT pg_catalog.count(*) FROM app.arch_archive)")" \
		"29+71" "$db: rows archived into the new default archive"
	is "$(safe "$db" "SELECT pg_catalog.string_agg(DISTINCT status, ',') FROM upkeep.run_log")" ok "$db: every run_log row is ok"
	is "$(safe "$db" "SELECT pg_catalog.count(*) || ' ' || COALESCE(pg_catalog.string_agg(DISTINCT what || ' as ' || by_role, '; '), '')
		FROM public.upkeep_probe_log")" "0 " "$db: no look-alike was used"
	is "$(safe "$db" "SELECT is_called FROM public.upkeep_probe_hits")" f "$db: the probe counter never moved"
done
is "$(safe cronjob "SELECT pg_catalog.string_agg(DISTINCT run_by, ',') FROM upkeep.run_log")" "postgres via pg_cron" \
	"cronjob: the runs were pg_cron's"
is "$(sql "SELECT rolsuper FROM pg_roles WHERE rolname = 'intruder'")" f "intruder is not a superuser"
finish
