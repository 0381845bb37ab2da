#!/usr/bin/env bash
# Citus 14.6: policies and runs belong to the coordinator.  On a worker node every
# function that sets a policy or runs maintenance refuses (0A000, naming the
# coordinator), nothing changes, and the node's background worker stays idle even
# with a policy in its catalog: it would delete rows cluster-wide and record it
# only in that node's run_log.
. "$(dirname "$0")/lib.sh"
citus_cluster "upkeep.naptime = 1" "upkeep.databases = 'postgres'"

C "CREATE TABLE events (id int8 NOT NULL, at timestamptz NOT NULL)" >/dev/null
C "CREATE INDEX ON events (at)" >/dev/null
C "SELECT create_distributed_table('events', 'id')" >/dev/null
C "INSERT INTO events SELECT g, now() - g * interval '1 hour' FROM generate_series(1, 2000) g" >/dev/null
C "CREATE TABLE m (at date NOT NULL, v int) PARTITION BY RANGE (at)" >/dev/null
C "SELECT create_distributed_table('m', 'v')" >/dev/null
is "$(W1 "SELECT count(*) FROM events")" 2000 "the worker node sees the distributed table (metadata synced)"

for stmt in "SELECT upkeep.set_policy('events', 'at', '1 day')" \
	"SELECT count(*) FROM upkeep.cleanup_old_data()" \
	"CALL upkeep.run_maintenance()" \
	"SELECT upkeep.archive_table('events', older_than => '1 day')" \
	"SELECT upkeep.create_monthly_partition('m', current_date)" \
	"SELECT upkeep.drop_policy('events')"; do
	is "$(sql_state -p "$PORT_w1" "$stmt")" 0A000 "on a worker node: $stmt refused (0A000)"
done
MSG=$(W1 "SELECT upkeep.set_policy('events', 'at', '1 day')" 2>&1)
echo "$MSG" | grep -q 'Citus worker node' && echo "$MSG" | grep -q 'coordinator' &&
	ok "the refusal names the worker node and the coordinator" || not_ok "refusal message: $MSG"
is "$(W1 "SELECT count(*) FROM upkeep.policy")" 0 "no policy was stored on the worker node"
is "$(C "SELECT count(*) FROM events")" 2000 "no row was removed"

# a policy already in a worker node's catalog (written behind the functions' back): the worker stays idle
W1 "INSERT INTO upkeep.policy (relid, time_column, retain, action, run_every, created_by)
    VALUES ('events', 'at', '1 day', 'delete', '1 second', 'postgres')" >/dev/null
WAIT_PORT=$PORT_w1 wait_until 30 "SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type LIKE 'pg_upkeep worker%'" ||
	not_ok "the worker node's pg_upkeep worker started"
sleep 4
is "$(C "SELECT count(*) FROM events")" 2000 "the worker node's background worker removed nothing"
is "$(W1 "SELECT count(*) FROM upkeep.run_log")" 0 "and recorded no run"
LINE="pg_upkeep worker: this database is on a Citus worker node"
grep -q "$LINE" "$DATA_w1/server.log" && ok "its log says why it stays idle" ||
	not_ok "no log line about the worker node (server.log tail: $(tail -5 "$DATA_w1/server.log" | tr '\n' ' '))"
is "$(grep -c "$LINE" "$DATA_w1/server.log")" 1 "said once, not every naptime"

# on the coordinator the same calls work
C "SELECT upkeep.set_policy('events', 'at', '1 day')" >/dev/null && ok "set_policy on the coordinator works" ||
	not_ok "set_policy on the coordinator"
C "SELECT count(*) FROM upkeep.cleanup_old_data()" >/dev/null
is "$(C "SELECT count(*) FROM events WHERE at < now() - interval '1 day'")" 0 \
	"cleanup_old_data on the coordinator deleted the expired rows on every shard"
lt 20 "$(C "SELECT count(*) FROM events")" "and kept the others"
finish
