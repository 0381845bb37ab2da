#!/usr/bin/env bash
# Cluster test: the background worker.
#  - premakes and deletes within a few naptimes; visible in pg_stat_activity;
#  - SIGTERM to a worker: back within seconds, the postmaster unaffected;
#  - a run left 'running' by a dead backend is marked failed at start-up;
#  - a run with nothing to do leaves no run_log row;
#  - DETACH ... CONCURRENTLY and VACUUM run at top level from the worker;
#  - a worker and a manual CALL never process the same table at once;
#  - a malicious trigger on a non-superuser's table cannot escalate;
#  - a listed database without the extension: one log line, no crash loop,
#    its worker waits and maintains it once CREATE EXTENSION has run;
#  - upkeep.batch_pause paces the worker's batches, and wake-ups do not cut it short;
#  - SIGHUP removing the database stops its maintenance; adding it back resumes.
. "$(dirname "$0")/lib.sh"

new_cluster main "shared_preload_libraries = 'pg_upkeep'" "upkeep.naptime = 1" "max_worker_processes = 16"
is "$(sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'")" 0 "no worker until upkeep.databases is set"
sql "CREATE DATABASE app" >/dev/null
sql "CREATE DATABASE noext" >/dev/null
A() { sql -d app "$@"; }
export WAIT_DB=app
A "CREATE EXTENSION pg_upkeep" >/dev/null
psql_at "$PORT" -c "ALTER SYSTEM SET upkeep.databases = 'app, noext'" -c "SELECT pg_reload_conf()" >/dev/null
A "CREATE TABLE logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
   CREATE INDEX ON logs (at);
   INSERT INTO logs (at) SELECT now() - g * interval '1 minute' FROM generate_series(1, 30000) g;
   SELECT relid FROM upkeep.set_policy('logs', 'at', '10 days', batch_size => 1000, run_every => '2 seconds');
   CREATE TABLE metrics (at timestamptz NOT NULL, v int) PARTITION BY RANGE (at);
   SELECT relid FROM upkeep.set_policy('metrics', retain => '6 months', premake => 2);" >/dev/null

check "the worker premakes the current and 2 future months" wait_until 30 \
	"SELECT count(*) = 3 FROM pg_inherits WHERE inhparent = 'metrics'::regclass"
check "the worker deletes the expired rows" wait_until 30 "SELECT NOT EXISTS (SELECT 1 FROM logs WHERE at < now() - interval '10 days')"
is "$(A "SELECT string_agg(DISTINCT run_by, ',') FROM upkeep.run_log")" worker "run_log says the worker did it"
# scheduled after their last run (logs runs every 2 s: under load "after now" is already past)
is "$(A "SELECT count(*) FROM upkeep.policy_state WHERE next_due > last_started")" 2 "both policies have their next run scheduled"
# a changed policy is due at once, not at its next scheduled run (an hour away)
A "SELECT relid FROM upkeep.set_policy('metrics', premake => 4)" >/dev/null
check "a changed policy is applied on the next wake" wait_until 15 \
	"SELECT count(*) = 5 FROM pg_inherits WHERE inhparent = 'metrics'::regclass"
is "$(sql "SELECT string_agg(backend_type || '/' || application_name || '/' || COALESCE(datname, '-'), ' ' ORDER BY backend_type, datname) FROM pg_stat_activity WHERE backend_type LIKE 'pg_upkeep%'")" \
	"pg_upkeep launcher/pg_upkeep launcher/- pg_upkeep worker/pg_upkeep worker/app pg_upkeep worker/pg_upkeep worker/noext" \
	"launcher and workers are visible in pg_stat_activity (noext's waits for its extension)"
is "$(sql "SELECT query FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'noext'")" \
	"pg_upkeep worker: waiting for CREATE EXTENSION pg_upkeep" "and says so there"
check "VACUUM ran after the large delete, at top level" wait_until 20 \
	"SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE action = 'VACUUM' AND status = 'ok') AND (SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'logs')"
# nothing left to do (run_every 2 s): later runs of the worker leave no run_log row
due=$(A "SELECT next_due FROM upkeep.policy_state WHERE relid = 'logs'::regclass")
check "the worker runs the logs policy again, with nothing to do" wait_until 15 \
	"SELECT next_due > '$due' FROM upkeep.policy_state WHERE relid = 'logs'::regclass"
is "$(A "SELECT count(*) FROM upkeep.run_log WHERE table_name = 'public.logs' AND action LIKE 'DELETE%' AND rows = 0")" 0 \
	"a worker run with nothing to do leaves no run_log row"

# ---- a database without the extension: one line, no crash loop
sleep 3
is "$(grep -c 'database "noext" does not have the pg_upkeep extension' "$DATA/server.log")" 1 "one log line for the database without the extension"
is "$(grep -c 'worker for database "noext" exited' "$DATA/server.log")" 0 "and no restart loop for it"

# ---- once the extension exists there, its waiting worker maintains it (no reload)
sql -d noext "CREATE EXTENSION pg_upkeep" >/dev/null
WAIT_DB=noext check "after CREATE EXTENSION, noext's worker maintains it" wait_until 10 \
	"SELECT query ~ '^pg_upkeep worker: cycle [0-9]+ ok' FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'noext'"
is "$(grep -c 'database "noext" does not have the pg_upkeep extension' "$DATA/server.log")" 1 "still just the one log line"

# ---- SIGTERM to the worker: it comes back, the postmaster is unaffected
PM=$(head -1 "$DATA/postmaster.pid")
W1=$(sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app'")
A "INSERT INTO upkeep.run_log (run_id, relid, table_name, action, started_at, status, run_by, pid)
   VALUES (0, 'logs'::regclass, 'public.logs', 'DELETE', now() - interval '1 hour', 'running', 'crashed', 999999)" >/dev/null
kill -TERM "$W1"
check "a new worker is running within 10 s" wait_until 10 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app' AND pid <> $W1)"
is "$(head -1 "$DATA/postmaster.pid")" "$PM" "the postmaster is the same process"
check "no crash restart of the cluster" bash -c "! grep -q 'terminating any other active server processes' '$DATA/server.log'"
check "the stale 'running' row is marked failed by the new worker" wait_until 10 \
	"SELECT status = 'failed' FROM upkeep.run_log WHERE run_by = 'crashed'"

# ---- detach CONCURRENTLY from the worker (a set without DEFAULT)
A "CREATE TABLE hist (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
   SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('hist', (current_date - g * 31)::date) FROM generate_series(0, 5) g) s;
   INSERT INTO hist SELECT g, current_date - (g % 150) FROM generate_series(1, 3000) g;
   SELECT relid FROM upkeep.set_policy('hist', retain => '3 months', action => 'detach');
   SELECT upkeep.wake_worker();" >/dev/null
check "the worker detached the expired partitions CONCURRENTLY" wait_until 20 \
	"SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE action = 'DETACH CONCURRENTLY' AND status = 'ok')"
is "$(A "SELECT count(*) FROM pg_class c WHERE c.relname LIKE 'hist_2%' AND NOT c.relispartition")" \
	"$(A "SELECT count(*) FROM upkeep.run_log WHERE action = 'DETACH CONCURRENTLY' AND status = 'ok'")" \
	"every detached partition is a plain table now, rows kept"
is "$(A "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'hist'::regclass AND i.inhdetachpending")" 0 \
	"no detach left pending"

# ---- a worker and a manual CALL never process the same table at once
A "CREATE TABLE busy (id bigint PRIMARY KEY, at timestamptz NOT NULL);
   INSERT INTO busy SELECT g, now() - interval '300 days' + g * interval '1 second' FROM generate_series(1, 20000) g;
   CREATE FUNCTION public.slow_down() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_catalog.pg_sleep(0.0002); RETURN OLD; END \$\$;
   CREATE TRIGGER slow BEFORE DELETE ON busy FOR EACH ROW EXECUTE FUNCTION public.slow_down();
   SELECT relid FROM upkeep.set_policy('busy', 'at', '30 days', batch_size => 200, enabled => false);" >/dev/null
# the manual run is parked between its batches (fault point batch-start, held by a session here): it
# keeps the table's run lock while the worker arrives, however loaded the machine is
psql_at "$PORT" -d app -At -c "SELECT pg_advisory_lock(1431325510, hashtext('batch-start'))" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
hpid=$!
BG_PIDS+=($hpid)
WAIT_DB=app wait_until 10 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 1431325510 AND granted)" || true
psql_at "$PORT" -d "dbname=app application_name=manual_busy" -At -c "SET upkeep.fault_points = 'batch-start:wait:3'" \
	-c "CALL upkeep.run_maintenance(tbl => 'busy')" >/dev/null 2>&1 &
cpid=$!
WAIT_DB=app wait_until 20 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'manual_busy' AND wait_event_type = 'Lock')" || true
A "SELECT relid FROM upkeep.set_policy('busy', enabled => true); SELECT upkeep.wake_worker();" >/dev/null
check "the worker, arriving meanwhile, skips the table" wait_until 15 \
	"SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE table_name = 'public.busy' AND run_by = 'worker' AND status = 'skipped')"
A "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(120)%' AND pid <> pg_backend_pid()" >/dev/null
wait $cpid
is "$(A "SELECT count(*) FROM upkeep.run_log a JOIN upkeep.run_log b ON a.table_name = b.table_name AND a.id < b.id
         WHERE a.table_name = 'public.busy' AND a.rows > 0 AND b.rows > 0
           AND tstzrange(a.started_at, a.finished_at) && tstzrange(b.started_at, b.finished_at)")" 0 \
	"no two runs that did work on the table overlapped in time"

# (enabling busy's policy stopped the CALL at its next batch -- a policy changed mid-run -- so the worker
# takes the rest, ~25 s behind the slow trigger: let it finish before timing the next case on the same worker)
WAIT_DB=app wait_until 90 "SELECT NOT EXISTS (SELECT 1 FROM busy WHERE at < now() - interval '30 days')" || true

# ---- a policy changed while the worker runs it is run again at once, with the change
A "CREATE TABLE slowlog (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
   INSERT INTO slowlog (at) SELECT now() - interval '100 days' FROM generate_series(1, 6);
   CREATE FUNCTION public.crawl() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_catalog.pg_sleep(0.5); RETURN OLD; END \$\$;
   CREATE TRIGGER crawl BEFORE DELETE ON slowlog FOR EACH ROW EXECUTE FUNCTION public.crawl();
   SELECT relid FROM upkeep.set_policy('slowlog', 'at', '30 days');" >/dev/null
check "pg_stat_activity shows the worker's batch while it runs" wait_until 10 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND state = 'active' AND query = 'pg_upkeep: DELETE (>30 days) on public.slowlog: batch 1 running, 0 rows so far')"
# (rows only the changed policy expires: the run after the change has work, and so a run_log row)
A "INSERT INTO slowlog (at) SELECT now() - interval '25 days' FROM generate_series(1, 2);
   SELECT relid FROM upkeep.set_policy('slowlog', retain => '20 days');" >/dev/null
check "a policy changed during its run runs again right after (not run_every later)" wait_until 20 \
	"SELECT NOT EXISTS (SELECT 1 FROM slowlog) AND (SELECT count(*) FROM upkeep.run_log WHERE table_name = 'public.slowlog' AND run_by = 'worker' AND action LIKE 'DELETE%') >= 2"
is "$(A "SELECT string_agg(action, ',' ORDER BY id) FROM upkeep.run_log WHERE table_name = 'public.slowlog' AND action LIKE 'DELETE%'")" \
	"DELETE (>30 days),DELETE (>20 days)" "the second run used the changed policy"

# ---- a malicious trigger on a non-superuser's table cannot escalate through the worker
A "CREATE ROLE mallory LOGIN;
   GRANT CREATE ON SCHEMA public TO mallory;
   CREATE TABLE public.attempts (who name, what text, outcome text);
   GRANT ALL ON public.attempts TO mallory;" >/dev/null
A "SET ROLE mallory;
   CREATE TABLE loot (id int, at timestamptz NOT NULL);
   INSERT INTO loot SELECT g, now() - interval '100 days' FROM generate_series(1, 5) g;
   CREATE FUNCTION public.grab() RETURNS trigger LANGUAGE plpgsql AS \$\$
   BEGIN
     BEGIN EXECUTE 'ALTER ROLE mallory SUPERUSER'; INSERT INTO public.attempts VALUES (current_user, 'superuser', 'worked');
     EXCEPTION WHEN OTHERS THEN INSERT INTO public.attempts VALUES (current_user, 'superuser', SQLERRM); END;
     BEGIN EXECUTE 'CREATE TEMP TABLE stash (x int)'; INSERT INTO public.attempts VALUES (current_user, 'temp', 'worked');
     EXCEPTION WHEN OTHERS THEN INSERT INTO public.attempts VALUES (current_user, 'temp', SQLERRM); END;
     BEGIN EXECUTE 'SET ROLE postgres'; INSERT INTO public.attempts VALUES (current_user, 'set role', 'worked');
     EXCEPTION WHEN OTHERS THEN INSERT INTO public.attempts VALUES (current_user, 'set role', SQLERRM); END;
     RETURN OLD;
   END \$\$;
   CREATE TRIGGER grab BEFORE DELETE ON loot FOR EACH ROW EXECUTE FUNCTION public.grab();
   SELECT relid FROM upkeep.set_policy('loot', 'at', '30 days');
   RESET ROLE;
   SELECT upkeep.wake_worker();" >/dev/null
check "the worker processed mallory's table" wait_until 20 "SELECT NOT EXISTS (SELECT 1 FROM loot)"
is "$(sql "SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory'")" f "mallory is still not a superuser"
is "$(A "SELECT string_agg(DISTINCT who, ',') FROM public.attempts")" mallory "her trigger ran as mallory, not as the worker's superuser"
is "$(A "SELECT count(*) FROM public.attempts WHERE outcome = 'worked'")" 0 "no escalation attempt worked"

# ---- upkeep.batch_pause in the worker: a pause between batches that a wake-up does not cut short
psql_at "$PORT" -c "ALTER SYSTEM SET upkeep.batch_pause = '1s'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1.5 # the worker reads the new setting on its next wake
A "CREATE TABLE paced (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
   CREATE INDEX ON paced (at);
   INSERT INTO paced (at) SELECT now() - interval '20 days' - g * interval '1 second' FROM generate_series(1, 400) g;
   SELECT relid FROM upkeep.set_policy('paced', 'at', '10 days', batch_size => 100);" >/dev/null
check "the worker starts on the paced table" wait_until 15 \
	"SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE table_name = 'public.paced' AND action LIKE 'DELETE%')"
for _ in $(seq 1 20); do sql -d app "SELECT upkeep.wake_worker()" >/dev/null; sleep 0.15; done
check "and finishes it" wait_until 20 \
	"SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE table_name = 'public.paced' AND action LIKE 'DELETE%' AND status = 'ok')"
read -r nb secs <<<"$(A "SELECT batches, round(extract(epoch FROM finished_at - started_at))::int FROM upkeep.run_log WHERE table_name = 'public.paced' AND action LIKE 'DELETE%' AND status = 'ok'" | tr '|' ' ')"
check "it paused 1 s before each of its $((nb - 1)) further batches despite 20 wake-ups (${secs} s)" test "$secs" -ge $((nb - 1))
is "$(A "SELECT count(*) FROM paced")" 0 "and deleted every expired row"
psql_at "$PORT" -c "ALTER SYSTEM RESET upkeep.batch_pause" -c "SELECT pg_reload_conf()" >/dev/null

# ---- SIGHUP: removing the database stops its maintenance, adding it back resumes it
psql_at "$PORT" -c "ALTER SYSTEM SET upkeep.databases = 'noext'" -c "SELECT pg_reload_conf()" >/dev/null
check "the worker for app stops after the reload" wait_until 10 \
	"SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app')"
A "INSERT INTO logs (at) SELECT now() - interval '20 days' FROM generate_series(1, 100)" >/dev/null
sleep 4
# the 100 new rows, 20 days old (older rows were all deleted; the first 10 days' rows age past the cutoff as the test runs)
is "$(A "SELECT count(*) FROM logs WHERE at < now() - interval '15 days'")" 100 "nothing is maintained in app any more"
psql_at "$PORT" -c "ALTER SYSTEM SET upkeep.databases = 'app'" -c "SELECT pg_reload_conf()" >/dev/null
check "adding it back starts a worker" wait_until 10 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app')"
check "which maintains again" wait_until 20 "SELECT NOT EXISTS (SELECT 1 FROM logs WHERE at < now() - interval '10 days')"
. "$(dirname "$0")/worker_lib.sh"
check "no ERROR or FATAL from pg_upkeep's processes" no_upkeep_errors
finish_worker
