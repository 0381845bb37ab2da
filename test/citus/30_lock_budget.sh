#!/usr/bin/env bash
# Citus 14.2: upkeep.lock_timeout bounds every lock wait on every node.  A shard
# locked on a worker node (a session there holding ACCESS EXCLUSIVE on it) must
# not hold create_monthly_partition, retention (delete and drop) or archive_table
# past the budget: each returns within it, reports lock-not-available, changes
# nothing, and works once the lock is gone.
. "$(dirname "$0")/lib.sh"
citus_cluster

C "CREATE TABLE ev (id int8 NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (id))" >/dev/null
C "CREATE INDEX ON ev (at)" >/dev/null
C "SELECT create_distributed_table('ev', 'id')" >/dev/null
C "INSERT INTO ev SELECT g, now() - g * interval '1 hour' FROM generate_series(1, 2000) g" >/dev/null
C "CREATE TABLE m (at date NOT NULL, v int8 NOT NULL) PARTITION BY RANGE (at)" >/dev/null
C "SELECT create_distributed_table('m', 'v')" >/dev/null
C "SELECT upkeep.create_monthly_partition('m', (date_trunc('month', now()) - interval '6 months')::date)" >/dev/null
C "SELECT upkeep.create_monthly_partition('m', date_trunc('month', now())::date)" >/dev/null
C "INSERT INTO m SELECT (date_trunc('month', now()) - interval '6 months')::date + 3, g FROM generate_series(1, 100) g" >/dev/null

# lock_shards PORT TABLE: a session on the worker node holding ACCESS EXCLUSIVE on every shard of TABLE it has
lock_shards() {
	local port=$1 tbl=$2 shards
	shards=$(sql -p "$port" "SELECT string_agg(pg_catalog.shard_name(s.logicalrelid, s.shardid), ', ')
	         FROM pg_dist_shard s
	         WHERE (s.logicalrelid = '$tbl'::regclass OR pg_partition_root(s.logicalrelid) = '$tbl'::regclass) AND to_regclass(pg_catalog.shard_name(s.logicalrelid, s.shardid)) IS NOT NULL")
	[ -n "$shards" ] || { not_ok "no shard of $tbl on port $port"; return; }
	bg -p "$port" "SET citus.enable_manual_changes_to_shards = on; BEGIN; LOCK TABLE $shards IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(25); COMMIT;"
	WAIT_PORT=$port wait_until 10 "SELECT count(*) > 0 FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND granted
	  AND relation::regclass::text ~ '$tbl'" || not_ok "shards of $tbl locked on port $port"
}
unlock_all() {
	local p
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for p in "$PORT_w1" "$PORT_w2"; do
		sql -p "$p" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK TABLE%'" >/dev/null
	done
	BG_PIDS=()
	sleep 0.5
}
# timed NAME SQL: runs SQL on the coordinator under a 2 s budget; prints "ms sqlstate"
timed() {
	local t0 st
	t0=$(now_ms)
	st=$(sql_state -p "$PORT_coord" "SET upkeep.lock_timeout = '2s'" "$1")
	echo "$(($(now_ms) - t0)) $st"
}

# retention by rows (DELETE on the shards).  Row counts are read after the lock is gone: a
# count(*) on the coordinator would itself wait for the locked shard.
C "SELECT upkeep.set_policy('ev', 'at', '30 days')" >/dev/null
lock_shards "$PORT_w1" ev
r=$(timed "SELECT count(*) FROM upkeep.cleanup_old_data(tbl => 'ev')")
lt "${r% *}" 8000 "retention (delete) returns within the budget with a shard locked on a worker node (${r% *} ms)"
is "$(C "SELECT status FROM upkeep.run_log WHERE relid = 'ev'::regclass ORDER BY id DESC LIMIT 1")" skipped \
	"and reports the table skipped (lock not available)"
# the committing procedure: every batch transaction carries the budget
r=$(timed "CALL upkeep.run_maintenance(tbl => 'ev')")
lt "${r% *}" 8000 "CALL run_maintenance returns within the budget (${r% *} ms)"
is "$(C "SELECT status FROM upkeep.run_log WHERE relid = 'ev'::regclass ORDER BY id DESC LIMIT 1")" skipped \
	"and reports the table skipped"
unlock_all
is "$(C "SELECT count(*) FROM ev")" 2000 "no row was deleted"

# create_monthly_partition (DDL on every shard)
lock_shards "$PORT_w1" m
r=$(timed "SELECT upkeep.create_monthly_partition('m', (date_trunc('month', now()) + interval '1 month')::date)")
lt "${r% *}" 8000 "create_monthly_partition returns within the budget (${r% *} ms)"
is "${r#* }" 55P03 "with lock_not_available (55P03)"
is "$(C "SELECT count(*) FROM pg_inherits WHERE inhparent = 'm'::regclass")" 2 "no partition was added"
unlock_all

# drop of an expired partition
C "SELECT upkeep.set_policy('m', 'at', '3 months', action => 'drop')" >/dev/null
lock_shards "$PORT_w1" m
r=$(timed "SELECT count(*) FROM upkeep.cleanup_old_data(tbl => 'm')")
lt "${r% *}" 8000 "retention (drop) returns within the budget (${r% *} ms)"
is "$(C "SELECT count(*) FROM pg_inherits WHERE inhparent = 'm'::regclass")" 2 "the expired partition is still there"
unlock_all

# archive_table
lock_shards "$PORT_w2" ev
r=$(timed "SELECT upkeep.archive_table('ev', older_than => '30 days')")
lt "${r% *}" 8000 "archive_table returns within the budget (${r% *} ms)"
is "${r#* }" 55P03 "with lock_not_available (55P03)"
unlock_all
is "$(C "SELECT count(*) FROM ev")" 2000 "no row was moved"

# the budget sent to the nodes does not stay this session's own lock_timeout afterwards
is "$(psql_at "$PORT_coord" -d postgres -At -c "BEGIN" -c "SELECT count(*) FROM upkeep.status" \
	-c "SELECT count(*) FROM upkeep.table_fingerprint('ev')" -c "SHOW lock_timeout" -c "COMMIT" | tail -n 1)" 0 \
	"the caller's lock_timeout is unchanged after status and table_fingerprint in its transaction"

# without the lock everything goes through
C "SELECT count(*) FROM upkeep.cleanup_old_data(tbl => 'ev')" >/dev/null
is "$(C "SELECT count(*) FROM ev WHERE at < now() - interval '30 days'")" 0 "after the lock is gone retention deletes the expired rows"
finish
