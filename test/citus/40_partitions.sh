#!/usr/bin/env bash
# Citus 14.3 and 14.4: create_monthly_partition with rows waiting in DEFAULT leaves
# no stale local copy on the coordinator; drops and detaches of distributed
# partitions report the rows the shards held; upkeep.status shows the shards' size.
. "$(dirname "$0")/lib.sh"
citus_cluster

M0=$(C "SELECT date_trunc('month', now())::date")
C "CREATE TABLE m (at date NOT NULL, v int8 NOT NULL, pad text) PARTITION BY RANGE (at)" >/dev/null
C "SELECT create_distributed_table('m', 'v')" >/dev/null
C "CREATE TABLE m_default PARTITION OF m DEFAULT" >/dev/null
C "INSERT INTO m SELECT '$M0'::date + 3, g, repeat('x', 100) FROM generate_series(1, 1000) g" >/dev/null
is "$(C "SELECT count(*) FROM m_default")" 1000 "1000 rows wait in DEFAULT"

# 14.3
OUT=$(psql_at "$PORT_coord" -d postgres -At -c "SELECT upkeep.create_monthly_partition('m', '$M0')" 2>&1)
echo "$OUT" | grep -qi 'local data' && not_ok "Citus warns of stale local data: $OUT" || ok "no stale local data notice"
CHILD=$(C "SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
           WHERE i.inhparent = 'm'::regclass AND c.relname <> 'm_default'")
is "$(C "SELECT count(*) FROM $CHILD")" 1000 "the 1000 rows are in the new partition ($CHILD)"
is "$(C "SELECT count(*) FROM m_default")" 0 "and no longer in DEFAULT"
is "$(C "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = '$CHILD'::regclass")" 1 "the new partition is distributed"
is "$(C "SELECT pg_catalog.pg_relation_size('$CHILD')")" 0 "the coordinator keeps no local copy of its rows (0 bytes)"

# 14.4: drops and detaches count the shards' rows
C "SELECT upkeep.create_monthly_partition('m', ('$M0'::date - interval '6 months')::date)" >/dev/null
C "SELECT upkeep.create_monthly_partition('m', ('$M0'::date - interval '5 months')::date)" >/dev/null
C "INSERT INTO m SELECT ('$M0'::date - interval '6 months')::date + 1, g, 'old' FROM generate_series(1, 700) g" >/dev/null
C "INSERT INTO m SELECT ('$M0'::date - interval '5 months')::date + 1, g, 'old' FROM generate_series(1, 300) g" >/dev/null
C "SELECT upkeep.set_policy('m', 'at', '4 months', action => 'drop', premake => 0)" >/dev/null
C "SELECT count(*) FROM upkeep.cleanup_old_data(tbl => 'm')" >/dev/null
is "$(C "SELECT rows FROM upkeep.run_log WHERE relid = 'm'::regclass AND action LIKE 'DROP%' ORDER BY id DESC LIMIT 1")" 1000 \
	"drop reports the 1000 rows the shards held (not the coordinator's 0)"
is "$(C "SELECT count(*) FROM m WHERE pad = 'old'")" 0 "the expired partitions are gone"

C "SELECT upkeep.create_monthly_partition('m', ('$M0'::date - interval '6 months')::date)" >/dev/null
C "INSERT INTO m SELECT ('$M0'::date - interval '6 months')::date + 1, g, 'old' FROM generate_series(1, 400) g" >/dev/null
C "SELECT upkeep.set_policy('m', 'at', '4 months', action => 'detach', premake => 0)" >/dev/null
C "SELECT count(*) FROM upkeep.cleanup_old_data(tbl => 'm')" >/dev/null
is "$(C "SELECT rows FROM upkeep.run_log WHERE relid = 'm'::regclass AND action LIKE 'DETACH%' ORDER BY id DESC LIMIT 1")" 400 \
	"detach reports the 400 rows of the detached partition"

# status: the size is the shards' size, not the empty shell's
C "CREATE TABLE big (id int8 NOT NULL, at timestamptz NOT NULL, pad text)" >/dev/null
C "SELECT create_distributed_table('big', 'id')" >/dev/null
C "INSERT INTO big SELECT g, now(), repeat('y', 500) FROM generate_series(1, 20000) g" >/dev/null
C "CREATE INDEX ON big (at)" >/dev/null
C "SELECT upkeep.set_policy('big', 'at', '30 days')" >/dev/null
is "$(C "SELECT table_size = pg_size_pretty(citus_total_relation_size('big')) FROM upkeep.status WHERE table_name = 'big'::regclass")" t \
	"upkeep.status shows the distributed table's size over its shards ($(C "SELECT table_size FROM upkeep.status WHERE table_name = 'big'::regclass"))"
finish
