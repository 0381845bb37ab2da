#!/usr/bin/env bash
# The coordinator's background worker maintains distributed tables: a detach policy on a
# distributed partitioned table is carried out (Citus refuses DETACH ... CONCURRENTLY, so
# the worker detaches plainly under the lock budget), and row retention leaves the
# shards' statistics to the worker nodes' autovacuum (no ANALYZE fanned out from the
# coordinator after every run), and their dead rows too: no VACUUM follow-up from the
# coordinator's worker after deleting many rows (Citus runs a VACUUM on every shard outside
# any transaction, where no lock budget reaches the worker nodes).
. "$(dirname "$0")/lib.sh"
citus_cluster "upkeep.naptime = 1" "upkeep.databases = 'postgres'"

M0=$(C "SELECT date_trunc('month', now())::date")
C "CREATE TABLE m (at date NOT NULL, v int8 NOT NULL) PARTITION BY RANGE (at)" >/dev/null
C "SELECT create_distributed_table('m', 'v')" >/dev/null
for k in 6 0; do C "SELECT upkeep.create_monthly_partition('m', ('$M0'::date - interval '$k months')::date)" >/dev/null; done
C "INSERT INTO m SELECT ('$M0'::date - interval '6 months')::date + 1, g FROM generate_series(1, 300) g" >/dev/null
C "CREATE TABLE ev (id int8 NOT NULL, at timestamptz NOT NULL)" >/dev/null
C "CREATE INDEX ON ev (at)" >/dev/null
C "SELECT create_distributed_table('ev', 'id')" >/dev/null
C "INSERT INTO ev SELECT g, now() - g * interval '1 hour' FROM generate_series(1, 2000) g" >/dev/null
C "CREATE TABLE big (id int8 NOT NULL, at timestamptz NOT NULL)" >/dev/null
C "CREATE INDEX ON big (at)" >/dev/null
C "SELECT create_distributed_table('big', 'id')" >/dev/null
C "INSERT INTO big SELECT g, now() - interval '40 days' - g * interval '1 second' FROM generate_series(1, 12000) g" >/dev/null
# the control: a plain table on the coordinator, 12000 rows deleted too (its VACUUM follow-up runs)
C "CREATE TABLE ctl (id int8 NOT NULL, at timestamptz NOT NULL)" >/dev/null
C "INSERT INTO ctl SELECT g, now() - interval '40 days' - g * interval '1 second' FROM generate_series(1, 12000) g" >/dev/null
C "SELECT upkeep.set_policy('m', 'at', '3 months', action => 'detach', premake => 1, run_every => '1 hour')" >/dev/null
C "SELECT upkeep.set_policy('ev', 'at', '30 days', run_every => '1 hour')" >/dev/null
C "SELECT upkeep.set_policy('big', 'at', '30 days', run_every => '1 hour')" >/dev/null
C "SELECT upkeep.set_policy('ctl', 'at', '30 days', run_every => '1 hour')" >/dev/null

WAIT_PORT=$PORT_coord wait_until 60 "SELECT count(*) = 4 FROM upkeep.run_log WHERE status <> 'running'
   AND (action LIKE 'DETACH%' OR action LIKE 'DELETE%')" || not_ok "the worker ran the four policies within 60 s"
is "$(C "SELECT status || ' ' || rows FROM upkeep.run_log WHERE relid = 'm'::regclass AND action LIKE 'DETACH%' ORDER BY id DESC LIMIT 1")" \
	"ok 300" "the worker detached the expired distributed partition (300 rows)"
is "$(C "SELECT count(*) FROM pg_inherits WHERE inhparent = 'm'::regclass")" 2 "the set keeps this month and the premade one"
is "$(C "SELECT count(*) FROM ev WHERE at < now() - interval '30 days'")" 0 "the worker deleted the expired rows on every shard"
is "$(C "SELECT status || ' ' || rows FROM upkeep.run_log WHERE relid = 'big'::regclass AND action LIKE 'DELETE%' ORDER BY id DESC LIMIT 1")" \
	"ok 12000" "the worker deleted 12000 rows of a distributed table"
# the cycle's follow-ups run one after another once its policies are done: wait for the control's
WAIT_PORT=$PORT_coord wait_until 60 "SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE action = 'VACUUM' AND relid = 'ctl'::regclass
   AND status <> 'running')" && ok "the worker's VACUUM follow-up of the plain table ran" ||
	not_ok "the worker's VACUUM follow-up of the plain table ran within 60 s"
sleep 1
is "$(C "SELECT count(*) FROM upkeep.run_log WHERE action = 'VACUUM' AND relid = 'big'::regclass")" 0 \
	"and none of the distributed table: its shards' dead rows are left to the worker nodes' autovacuum"
C "INSERT INTO ev SELECT 5000 + g, now() - interval '40 days' FROM generate_series(1, 100) g" >/dev/null
is "$(C "SELECT count(*) FROM upkeep.cleanup_old_data(tbl => 'ev') WHERE action = 'ANALYZE'")" 0 \
	"no ANALYZE fanned out to the shards from the coordinator (the worker nodes' autovacuum keeps shard statistics)"
finish
