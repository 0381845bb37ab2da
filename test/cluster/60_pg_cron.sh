#!/usr/bin/env bash
# Cluster test: the documented pg_cron recipe.
#   SELECT cron.schedule('upkeep', '*/5 * * * *', 'CALL upkeep.run_maintenance()');
# (here every minute: pg_cron 1.4 has minute granularity, so this test waits
# for the next minute boundary).  The run must show up in
# cron.job_run_details and in upkeep.run_log.
. "$(dirname "$0")/lib.sh"

new_cluster main "shared_preload_libraries = 'pg_upkeep, pg_cron'" "cron.database_name = 'postgres'" \
	"cron.host = '127.0.0.1'" "max_worker_processes = 16"
sql "CREATE EXTENSION pg_cron; CREATE EXTENSION pg_upkeep;" >/dev/null
sql "CREATE TABLE logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
     INSERT INTO logs (at) SELECT now() - g * interval '1 hour' FROM generate_series(1, 2000) g;
     SELECT relid FROM upkeep.set_policy('logs', 'at', '30 days');" >/dev/null
EXPIRED=$(sql "SELECT count(*) FROM logs WHERE at < now() - interval '30 days'")
JOB=$(sql "SELECT cron.schedule('upkeep', '* * * * *', 'CALL upkeep.run_maintenance()')")
check "the job is scheduled" test -n "$JOB"
check "pg_cron ran it within 80 s" wait_until 80 \
	"SELECT EXISTS (SELECT 1 FROM cron.job_run_details WHERE jobid = $JOB AND status IN ('succeeded', 'failed'))"
is "$(sql "SELECT status FROM cron.job_run_details WHERE jobid = $JOB ORDER BY runid LIMIT 1")" succeeded "cron.job_run_details: succeeded"
is "$(sql "SELECT return_message FROM cron.job_run_details WHERE jobid = $JOB ORDER BY runid LIMIT 1")" CALL "its return message is CALL"
is "$(sql "SELECT count(*) FROM logs WHERE at < now() - interval '30 days'")" 0 "the expired rows are gone"
is "$(sql "SELECT rows || ' ' || status || ' ' || (run_by LIKE '%pg_cron%') FROM upkeep.run_log WHERE table_name = 'public.logs' ORDER BY id LIMIT 1")" \
	"$EXPIRED ok true" "upkeep.run_log records the run, made by pg_cron"
sql "SELECT cron.unschedule($JOB)" >/dev/null
finish
