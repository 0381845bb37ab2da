#!/usr/bin/env bash
# Cluster test: replica-aware pacing (upkeep.max_replica_lag).
#  - with a streaming standby whose replay is paused (pg_wal_replay_pause), a
#    run pauses between batches as soon as the standby is behind on its
#    batches by more than upkeep.max_replica_lag; the pause is visible in
#    pg_stat_activity (query text and an Extension wait) and no batch goes
#    meanwhile;
#  - once replay resumes the run goes on and finishes, and run_log says how
#    long it paused;
#  - with the setting at 0 (the default) nothing waits.
. "$(dirname "$0")/lib.sh"

new_cluster primary "wal_level = replica" "max_wal_senders = 4" "hot_standby = on"
sql "CREATE EXTENSION pg_upkeep;
     CREATE TABLE logs (id int PRIMARY KEY, at timestamptz NOT NULL, payload text);
     CREATE INDEX ON logs (at);
     INSERT INTO logs SELECT g, now() - interval '100 days' + g * interval '1 second', md5(g::text) FROM generate_series(1, 20000) g;
     SELECT relid FROM upkeep.set_policy('logs', 'at', '10 days', batch_size => 500);" >/dev/null

SB="$T_WORK/standby/data"
mkdir -p "$(dirname "$SB")" "$T_WORK/standby/sock" && chown -R postgres:postgres "$T_WORK/standby"
as_postgres "$PGBIN/pg_basebackup" -h "$(cluster_sock "$DATA")" -p "$PORT" -U postgres -D "$SB" -X stream -R -c fast
SBPORT=$(free_port)
as_postgres sed -i -e "s/^port = .*/port = $SBPORT/" -e "s|^unix_socket_directories = .*|unix_socket_directories = '$T_WORK/standby/sock'|" "$SB/postgresql.conf"
register_cluster "$SB" "$SBPORT"
cluster_start "$SB" && CLUSTERS+=("$SB")
check "the standby streams" wait_until 30 "SELECT EXISTS (SELECT 1 FROM pg_stat_replication WHERE state = 'streaming')"

# the standby has replayed everything and shows no lag any more (a loaded machine can leave a
# last measured replay_lag of seconds from its start-up for a while): the run starts with none
check "the standby has caught up" wait_until 60 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_replication WHERE replay_lsn >= pg_current_wal_flush_lsn()
	                   AND (replay_lag IS NULL OR replay_lag < interval '100ms'))"
# the run starts with the standby replaying; once its first batches have gone (run_log shows the
# run, the table has lost rows), replay is paused on the standby: it receives WAL but applies none.
# Pausing only then keeps a loaded machine from leaving the standby behind before any batch went.
psql_at "$PORT" -At -d "dbname=postgres application_name=paced" -c "SET upkeep.max_replica_lag = '300ms'" -c "SET upkeep.batch_pause = '200ms'" \
	-c "CALL upkeep.run_maintenance()" >/dev/null 2>&1 &
caller=$!
BG_PIDS+=($caller)
check "the run's first batches go" wait_until 30 \
	"SELECT (SELECT count(*) FROM logs) < 20000
	    AND EXISTS (SELECT 1 FROM upkeep.run_log WHERE table_name = 'public.logs' AND status = 'running')"
sql -p "$SBPORT" "SELECT pg_wal_replay_pause()" >/dev/null
check "the run pauses: pg_stat_activity shows it waiting for the replica (Extension wait)" wait_until 20 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'paced' AND wait_event_type = 'Extension'
	                   AND query LIKE 'pg_upkeep: waiting for replicas%')"
left1=$(sql "SELECT count(*) FROM logs")
sleep 2
left2=$(sql "SELECT count(*) FROM logs")
is "$left2" "$left1" "no batch goes while the standby stays behind ($left1 rows left)"
is "$(sql "SELECT status FROM upkeep.run_log WHERE table_name = 'public.logs' ORDER BY id DESC LIMIT 1")" running \
	"run_log shows the run still running"

# replay resumes: the run goes on and finishes
sql -p "$SBPORT" "SELECT pg_wal_replay_resume()" >/dev/null
wait "$caller"
is "$(sql "SELECT count(*) FROM logs WHERE at < now() - interval '10 days'")" 0 "after replay resumed the run deleted every expired row"
msg=$(sql "SELECT status || ' ' || message FROM upkeep.run_log WHERE table_name = 'public.logs' ORDER BY id DESC LIMIT 1")
check "run_log says it paused for replica lag ($msg)" grep -qE "^ok .*paused [0-9.]+ s for replica lag" <<<"$msg"
check "the replica caught up" wait_until 30 "SELECT bool_and(replay_lsn = pg_current_wal_lsn()) FROM pg_stat_replication"

# the setting off: a paused replica holds up nothing
sql -p "$SBPORT" "SELECT pg_wal_replay_pause()" >/dev/null
sql "INSERT INTO logs SELECT g, now() - interval '100 days', 'x' FROM generate_series(30001, 35000) g" >/dev/null
t0=$(now_ms)
is "$(sql_state "CALL upkeep.run_maintenance()")" ok "with upkeep.max_replica_lag = 0 the run does not wait"
lt "$(($(now_ms) - t0))" 10000 "and takes no longer than its work ($(($(now_ms) - t0)) ms)"
is "$(sql "SELECT count(*) FROM logs WHERE at < now() - interval '10 days'")" 0 "it deleted the new expired rows"
sql -p "$SBPORT" "SELECT pg_wal_replay_resume()" >/dev/null
finish
