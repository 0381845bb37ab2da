#!/usr/bin/env bash
# Cluster test: hot standby and promotion.
#  - on a hot standby the worker does nothing (no worker, no ERROR lines) and
#    the SQL functions refuse cleanly with a clear message;
#  - after promotion the worker starts maintaining without a restart;
#  - an UNLOGGED table has no contents on a standby: table_fingerprint()
#    refuses it with a clear error (0A000), verify_backup_integrity() reports
#    it as not comparable (warning) and skips amcheck of its index.
. "$(dirname "$0")/lib.sh"

new_cluster primary "shared_preload_libraries = 'pg_upkeep'" "upkeep.naptime = 1" "max_worker_processes = 16" \
	"wal_level = replica" "max_wal_senders = 4" "hot_standby = on"
sql "CREATE DATABASE app" >/dev/null
sql -d app "CREATE EXTENSION pg_upkeep;
            CREATE TABLE logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
            INSERT INTO logs (at) SELECT now() - g * interval '1 hour' FROM generate_series(1, 1000) g;
            SELECT relid FROM upkeep.set_policy('logs', 'at', '10 days');
            CREATE EXTENSION amcheck;
            CREATE UNLOGGED TABLE scratch (id bigint PRIMARY KEY, at timestamptz NOT NULL);
            INSERT INTO scratch SELECT g, now() - g * interval '1 minute' FROM generate_series(1, 100) g;
            SELECT relid FROM upkeep.set_policy('scratch', 'at', '1 year');
            SELECT count(*) FROM upkeep.snapshot_fingerprints();" >/dev/null
EXPIRED=$(sql -d app "SELECT count(*) FROM logs WHERE at < now() - interval '10 days'")

# a standby from a base backup; it (only) lists app for the worker
SB="$T_WORK/standby/data"
mkdir -p "$(dirname "$SB")" "$T_WORK/standby/sock" && chown -R postgres:postgres "$T_WORK/standby"
as_postgres "$PGBIN/pg_basebackup" -h "$(cluster_sock "$DATA")" -p "$PORT" -U postgres -D "$SB" -X stream -R -c fast
SBPORT=$(free_port)
as_postgres sed -i -e "s/^port = .*/port = $SBPORT/" -e "s|^unix_socket_directories = .*|unix_socket_directories = '$T_WORK/standby/sock'|" "$SB/postgresql.conf"
echo "upkeep.databases = 'app'" | as_postgres tee -a "$SB/postgresql.conf" >/dev/null
register_cluster "$SB" "$SBPORT"
cluster_start "$SB" && CLUSTERS+=("$SB")
is "$(sql -p "$SBPORT" "SELECT pg_is_in_recovery()")" t "the standby is in recovery"
sleep 3
is "$(sql -p "$SBPORT" "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'pg_upkeep%'")" 0 "no pg_upkeep process runs on the standby"
is "$(sql -p "$SBPORT" -d app "SELECT count(*) FROM logs WHERE at < now() - interval '10 days'")" "$EXPIRED" "nothing was touched"
is "$(sql_state -p "$SBPORT" -d app "SELECT * FROM upkeep.cleanup_old_data()")" 25006 "cleanup_old_data() refuses on a standby (25006)"
is "$(sql_state -p "$SBPORT" -d app "SELECT upkeep.create_monthly_partition('logs', '2024-01-01')")" 25006 \
	"create_monthly_partition() refuses on a standby with 25006, as documented"
msg=$(as_postgres "$PGBIN/psql" -X -h "$T_WORK/standby/sock" -p "$SBPORT" -U postgres -d app -At -c "CALL upkeep.run_maintenance()" 2>&1)
check "run_maintenance() says it cannot run on a hot standby" bash -c "echo '$msg' | grep -q 'cannot run on a hot standby'"
check "table_fingerprint works on the standby (read-only)" test -n "$(sql -p "$SBPORT" -d app "SELECT fingerprint FROM upkeep.table_fingerprint('logs')")"
msg=$(as_postgres "$PGBIN/psql" -X -h "$T_WORK/standby/sock" -p "$SBPORT" -U postgres -d app -At -v VERBOSITY=verbose \
	-c "SELECT * FROM upkeep.table_fingerprint('scratch')" 2>&1)
check "table_fingerprint() of an unlogged table on the standby: 0A000 ($msg)" grep -q 'ERROR:  0A000' <<<"$msg"
check "... saying why" grep -qF 'cannot fingerprint unlogged table "public.scratch" during recovery' <<<"$msg"
verify_sb="SELECT check_name || ' ' || object || ' ' || status FROM upkeep.verify_backup_integrity()
            WHERE check_name IN ('fingerprint', 'amcheck') ORDER BY 1"
is "$(sql -p "$SBPORT" -d app "$verify_sb" | tr '\n' ',')" \
	"amcheck public.logs_pkey ok,amcheck public.scratch_pkey warning,fingerprint public.logs ok,fingerprint public.scratch warning," \
	"verify on the standby: the unlogged table and its index are warnings"
is "$(sql -p "$SBPORT" -d app "SELECT detail ~ '^not comparable: .*UNLOGGED' FROM upkeep.verify_backup_integrity() WHERE check_name = 'fingerprint' AND object = 'public.scratch'")" \
	t "... not comparable, saying why"
is "$(sql -p "$SBPORT" -d app "SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE status = 'failed'")" 0 "verify on the standby: nothing failed"
check "no ERROR or FATAL from pg_upkeep in the standby's log" bash -c "! grep -E 'pg_upkeep (worker|launcher) : (ERROR|FATAL)' '$SB/server.log'"

# promotion: the launcher starts, the worker maintains, no restart needed
as_postgres "$PGBIN/pg_ctl" -D "$SB" -w promote >/dev/null
WAIT_PORT=$SBPORT check "a worker runs after promotion" wait_until 20 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker')"
WAIT_PORT=$SBPORT WAIT_DB=app check "and deletes the expired rows" wait_until 20 \
	"SELECT NOT EXISTS (SELECT 1 FROM logs WHERE at < now() - interval '10 days')"
is "$(sql -p "$SBPORT" -d app "SELECT run_by || ' ' || status || ' ' || rows FROM upkeep.run_log ORDER BY id LIMIT 1")" "worker ok $EXPIRED" \
	"run_log on the promoted server"
finish
