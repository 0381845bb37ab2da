#!/usr/bin/env bash
# Cluster test: a table owner's trigger sees the search_path the owner gets
# when logging in to the database -- from the worker, from pg_cron and from
# psql alike, whatever path the caller has -- and the server default it falls
# back to is the configuration files', not the caller's.
#
# postgresql.conf sets search_path = 'conf_sp, public'.  In each database, one
# trigger function with unqualified names (INSERT INTO audit, note()) serves
# the tables of two owners: owner_role (ALTER ROLE owner_role SET search_path
# = own_sp) and owner_plain (no setting: the server default).  Every schema
# has its own audit table and note(); the schema hostile holds the callers'
# look-alikes.
#   wdb  the background worker, whose role has a hostile path in that database
#        (ALTER ROLE postgres IN DATABASE wdb SET search_path = hostile, public):
#        its session's own reset value is not the server default;
#   cdb  a pg_cron job CALL upkeep.run_maintenance() run as cron_caller, a
#        superuser whose role setting is hostile (ALTER ROLE cron_caller SET
#        search_path = hostile, public);
#   then ALTER SYSTEM SET search_path = auto_sp, public and a reload, and a
#   psql run in each database: in wdb with the hostile path given by the
#   client (PGOPTIONS) on top of the role's, in cdb with a session whose
#   reset value is the new server default and which SETs a hostile path.
# pg_cron has minute granularity: one wait of up to 80 s.
. "$(dirname "$0")/lib.sh"

new_cluster main "shared_preload_libraries = 'pg_upkeep, pg_cron'" "cron.database_name = 'postgres'" \
	"cron.host = '127.0.0.1'" "upkeep.naptime = 1" "max_worker_processes = 16" "search_path = 'conf_sp, public'"
sql "CREATE EXTENSION pg_cron; CREATE ROLE owner_role; CREATE ROLE owner_plain;
     ALTER ROLE owner_role SET search_path = own_sp;
     CREATE ROLE cron_caller SUPERUSER LOGIN; ALTER ROLE cron_caller SET search_path = hostile, public" >/dev/null

for db in wdb cdb; do
	sql "CREATE DATABASE $db" >/dev/null
	sql -d "$db" "CREATE EXTENSION pg_upkeep;
		DO \$\$
		DECLARE s text;
		BEGIN
		  FOREACH s IN ARRAY ARRAY['conf_sp', 'auto_sp', 'own_sp', 'hostile'] LOOP
		    EXECUTE format('CREATE SCHEMA %I', s);
		    EXECUTE format('CREATE TABLE %I.audit (id bigint, who name, path text, note text)', s);
		    EXECUTE format('CREATE FUNCTION %I.note() RETURNS text LANGUAGE sql AS %L', s, format('SELECT %L::text', s));
		    EXECUTE format('GRANT USAGE ON SCHEMA %I TO PUBLIC', s);
		    EXECUTE format('GRANT INSERT ON %I.audit TO PUBLIC', s);
		  END LOOP;
		END \$\$;
		CREATE SCHEMA app;
		GRANT USAGE ON SCHEMA app TO PUBLIC;
		CREATE FUNCTION app.record() RETURNS trigger LANGUAGE plpgsql AS \$\$
		BEGIN
		  INSERT INTO audit VALUES (OLD.id, current_user, current_setting('search_path'), note());
		  RETURN OLD;
		END \$\$;
		CREATE TABLE app.t_role (id bigint PRIMARY KEY, at timestamptz NOT NULL);
		CREATE TABLE app.t_plain (id bigint PRIMARY KEY, at timestamptz NOT NULL);
		CREATE TRIGGER on_delete AFTER DELETE ON app.t_role FOR EACH ROW EXECUTE FUNCTION app.record();
		CREATE TRIGGER on_delete AFTER DELETE ON app.t_plain FOR EACH ROW EXECUTE FUNCTION app.record();
		ALTER TABLE app.t_role OWNER TO owner_role;
		ALTER TABLE app.t_plain OWNER TO owner_plain;
		CREATE FUNCTION app.fill() RETURNS void LANGUAGE sql AS \$\$
		  INSERT INTO app.t_role SELECT g, now() - g * interval '1 day' FROM generate_series(1, 40) g WHERE g <> 30 ON CONFLICT DO NOTHING;
		  INSERT INTO app.t_plain SELECT g, now() - g * interval '1 day' FROM generate_series(1, 40) g WHERE g <> 30 ON CONFLICT DO NOTHING;
		\$\$;
		SELECT app.fill();
		SELECT upkeep.set_policy('app.t_role', 'at', '30 days', run_every => '1 hour') IS NOT NULL;
		SELECT upkeep.set_policy('app.t_plain', 'at', '30 days', run_every => '1 hour') IS NOT NULL;" >/dev/null ||
		not_ok "fixture in $db"
done
sql "ALTER ROLE postgres IN DATABASE wdb SET search_path = hostile, public" >/dev/null
is "$(sql -d wdb "SHOW search_path")" "hostile, public" "wdb: a new session of postgres (the worker's role) has the hostile path"
is "$(sql -d cdb "SHOW search_path")" "conf_sp, public" "cdb: a new session has the server default from postgresql.conf"
is "$(psql_at "$PORT" -U cron_caller -d cdb -At -c "SHOW search_path")" "hostile, public" \
	"cdb: a new session of cron_caller (the pg_cron job's role) has the hostile path"

# audit DB: what the owners' triggers saw, schema by schema (hostile last: never reached)
audit() {
	sql -d "$1" "SET search_path = pg_catalog, pg_temp;
		SELECT string_agg(format('%s: %s [%s] %s x%s', s, who, path, note, n), '; ' ORDER BY s, who, path)
		  FROM (SELECT 'conf_sp' AS s, who, path, note, count(*) AS n FROM conf_sp.audit GROUP BY 2, 3, 4
		        UNION ALL SELECT 'auto_sp', who, path, note, count(*) FROM auto_sp.audit GROUP BY 2, 3, 4
		        UNION ALL SELECT 'own_sp', who, path, note, count(*) FROM own_sp.audit GROUP BY 2, 3, 4
		        UNION ALL SELECT 'hostile', who, path, note, count(*) FROM hostile.audit GROUP BY 2, 3, 4) a"
}
clear_audit() {
	sql -d "$1" "TRUNCATE conf_sp.audit, auto_sp.audit, own_sp.audit, hostile.audit; SELECT app.fill()" >/dev/null
}
FIRST="conf_sp: owner_plain [conf_sp, public, pg_temp] conf_sp x10; own_sp: owner_role [own_sp, pg_temp] own_sp x10"

# the worker for wdb, pg_cron for cdb
psql_at "$PORT" -c "ALTER SYSTEM SET upkeep.databases = 'wdb'" -c "SELECT pg_reload_conf()" >/dev/null
JOB=$(sql "SELECT cron.schedule_in_database('upkeep', '* * * * *', 'CALL upkeep.run_maintenance()', 'cdb', 'cron_caller')")
check "the pg_cron job is scheduled" test -n "$JOB"
WAIT_DB=wdb check "wdb: the worker ran both policies" wait_until 60 \
	"SELECT count(*) = 2 FROM upkeep.policy_state WHERE last_status IS NOT NULL"
check "pg_cron ran the job within 80 s" wait_until 80 \
	"SELECT EXISTS (SELECT 1 FROM cron.job_run_details WHERE jobid = $JOB AND status IN ('succeeded', 'failed'))"
sql "SELECT cron.unschedule($JOB)" >/dev/null
is "$(sql "SELECT status FROM cron.job_run_details WHERE jobid = $JOB ORDER BY runid LIMIT 1")" succeeded \
	"cron.job_run_details: succeeded"
is "$(audit wdb)" "$FIRST" "wdb, the worker: each owner's trigger saw its own login path, the server default from the file"
is "$(audit cdb)" "$FIRST" "cdb, pg_cron: each owner's trigger saw its own login path, the server default from the file"
for db in wdb cdb; do
	is "$(sql -d "$db" "SELECT string_agg(DISTINCT status || ' ' || run_by, ',') FROM upkeep.run_log WHERE action LIKE 'DELETE%'")" \
		"$([ $db = wdb ] && echo "ok worker" || echo "ok cron_caller via pg_cron")" "$db: every DELETE ok, run by the expected caller"
done

# a new server default (ALTER SYSTEM, reload), psql callers with hostile paths
sql "ALTER SYSTEM SET search_path = auto_sp, public" >/dev/null
sql "SELECT pg_reload_conf()" >/dev/null
WAIT_DB=cdb check "the reload reached new sessions" wait_until 30 "SELECT current_setting('search_path') = 'auto_sp, public'"
SECOND="auto_sp: owner_plain [auto_sp, public, pg_temp] auto_sp x10; own_sp: owner_role [own_sp, pg_temp] own_sp x10"
clear_audit wdb
PGOPTIONS="-c search_path=hostile,public -c client_min_messages=warning" sql -d wdb \
	"SELECT count(*) FROM upkeep.cleanup_old_data()" >/dev/null
is "$(PGOPTIONS="-c search_path=hostile,public" sql -d wdb "SHOW search_path")" "hostile,public" \
	"wdb: PGOPTIONS gives the caller a hostile path"
is "$(audit wdb)" "$SECOND" "wdb, psql with a hostile path from the client: the owners' paths, the server default as now configured"
clear_audit cdb
psql_at "$PORT" -d cdb -c "SET client_min_messages = warning" -c "SET search_path = hostile, public" \
	-c "CALL upkeep.run_maintenance()" >/dev/null
is "$(audit cdb)" "$SECOND" "cdb, psql that SETs a hostile path: the owners' paths, the server default as now configured"
finish
