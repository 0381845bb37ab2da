#!/usr/bin/env bash
# Cluster test: the edges a DBA meets, as the README describes them.
#  - ALTER SYSTEM SET upkeep.* needs the library loaded in that session on 15
#    (LOAD, shared_preload_libraries or a first upkeep call; 17 takes it
#    unchecked); SET and ALTER
#    DATABASE ... SET are taken unchecked before, and a bad value is ignored
#    with a WARNING once the library loads;
#  - premake counts partitions; a row move out of DEFAULT is announced once,
#    even when the first attempt was rolled back; a dry run names the
#    partitions premake would make;
#  - logical replication: batched DELETEs replicate, partition DROPs do not;
#    a new partition published one by one (publish_via_partition_root =
#    false) stops the subscriber's apply worker in a loop until the table
#    exists there, and its rows are skipped until REFRESH PUBLICATION;
#    published through the root, rows reach the subscriber's own partitions.
. "$(dirname "$0")/lib.sh"

new_cluster main "wal_level = logical" "max_replication_slots = 4" "max_wal_senders = 4" \
	"wal_retrieve_retry_interval = '200ms'"

# -------- settings without the library loaded
if [ "$(sql "SHOW server_version_num")" -ge 170000 ]; then
	# 17 lets ALTER SYSTEM write an unrecognized custom parameter, unchecked
	is "$(sql_state "ALTER SYSTEM SET upkeep.naptime = '5min'")" ok \
		"ALTER SYSTEM SET upkeep.* in a session without the library: taken unchecked (17+)"
	sql "ALTER SYSTEM RESET ALL" >/dev/null
else
	is "$(sql_state "ALTER SYSTEM SET upkeep.naptime = '5min'")" 42704 \
		"ALTER SYSTEM SET upkeep.* in a session without the library: unrecognized parameter"
fi
is "$(sql_state "LOAD 'pg_upkeep'" "ALTER SYSTEM SET upkeep.naptime = '5min'")" ok "after LOAD 'pg_upkeep' it works"
is "$(sql_state "LOAD 'pg_upkeep'" "ALTER SYSTEM SET upkeep.partition_timezone = 'UTC+3'")" 22023 \
	"and the value is checked (a POSIX time zone is refused)"
sql "ALTER SYSTEM RESET ALL" >/dev/null
sql "CREATE EXTENSION pg_upkeep" >/dev/null
is "$(sql_state "ALTER DATABASE postgres SET upkeep.lock_timeout = 'abc'")" ok \
	"ALTER DATABASE ... SET upkeep.* without the library is taken unchecked"
out=$(psql_at "$PORT" -At -c "SELECT upkeep.wake_worker()" -c "SHOW upkeep.lock_timeout" 2>&1)
check "the bad value is ignored with a WARNING when the library loads" grep -q 'WARNING:  invalid value for parameter "upkeep.lock_timeout": "abc"' <<<"$out"
is "$(tail -1 <<<"$out")" 2s "and the default applies"
sql "ALTER DATABASE postgres RESET ALL" >/dev/null

# -------- premake: partitions counted, each move out of DEFAULT announced once
sql "CREATE TABLE pm (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
     CREATE TABLE pm_default PARTITION OF pm DEFAULT;
     SELECT upkeep.create_monthly_partition('pm', now()::date);
     INSERT INTO pm VALUES (1, now() + interval '1 month'), (2, now() + interval '1 month');
     SELECT relid FROM upkeep.set_policy('pm', retain => '12 months', premake => 3);" >/dev/null
squat=$(sql "SELECT 'pm_' || to_char(now() + interval '2 months', 'YYYY_MM')")
sql "CREATE TABLE $squat (x int)" >/dev/null
out=$(psql_at "$PORT" -At -c "SET client_min_messages = notice" -c "CALL upkeep.run_maintenance(true, 'pm')" 2>&1)
names=$(sql "SELECT string_agg('public.pm_' || to_char(now() + g * interval '1 month', 'YYYY_MM'), ', ' ORDER BY g) FROM generate_series(1, 3) g")
check "a dry run names the partitions premake would make" grep -q "PREMAKE 3 partitions (3 months ahead) \[dry run: $names\]" <<<"$out"
out=$(psql_at "$PORT" -At -c "SET client_min_messages = notice" -c "CALL upkeep.run_maintenance(false, 'pm')" 2>&1)
is "$(grep -c 'NOTICE:  upkeep: public.pm: moved 2 rows from default partition public.pm_default' <<<"$out")" 1 \
	"the move out of DEFAULT is announced once (the all-months attempt that also moved them was rolled back)"
check "the summary counts partitions" grep -q "2 partitions in 2 committed batches are kept\]: 2 partitions in 2 batches" <<<"$out"
sql "DROP TABLE $squat; SELECT upkeep.drop_policy('pm')" >/dev/null

# -------- logical replication between two databases of the cluster
sql "CREATE DATABASE pub" >/dev/null
sql "CREATE DATABASE sub" >/dev/null
PUB() { sql -d pub "$@"; }
SUB() { sql -d sub "$@"; }
sub_until() { WAIT_DB=sub wait_until "$@"; }
schema="CREATE TABLE logs (id int PRIMARY KEY, at timestamptz NOT NULL);
        CREATE TABLE ev (id int, at date NOT NULL, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);"
PUB "$schema CREATE EXTENSION pg_upkeep" >/dev/null
SUB "$schema CREATE EXTENSION pg_upkeep" >/dev/null
for db in pub sub; do
	sql -d $db "SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('ev', (date_trunc('month', now()) - g * interval '1 month')::date) FROM generate_series(0, 5) g) s" >/dev/null
done
PUB "INSERT INTO logs SELECT g, now() - g * interval '1 day' FROM generate_series(1, 100) g;
     INSERT INTO ev SELECT g, (date_trunc('month', now()) - (g % 6) * interval '1 month')::date FROM generate_series(1, 600) g;
     CREATE PUBLICATION p1 FOR TABLE logs, ev;" >/dev/null
# (a subscription to the same cluster cannot create its slot itself)
PUB "SELECT pg_create_logical_replication_slot('s1', 'pgoutput')" >/dev/null
SUB "CREATE SUBSCRIPTION s1 CONNECTION 'host=$(cluster_sock "$DATA") port=$PORT dbname=pub user=postgres'
     PUBLICATION p1 WITH (create_slot = false, slot_name = 's1')" >/dev/null
check "the subscriber has the initial data" sub_until 30 \
	"SELECT (SELECT count(*) FROM logs) = 100 AND (SELECT count(*) FROM ev) = 600"
is "$(PUB "SELECT status FROM upkeep.verify_backup_integrity() WHERE check_name = 'publication'")" "" \
	"verify: no publication row while no managed set is published"
PUB "SELECT relid FROM upkeep.set_policy('logs', 'at', '30 days'); SELECT relid FROM upkeep.set_policy('ev', retain => '3 months', premake => 0)" >/dev/null
is "$(PUB "SELECT status FROM upkeep.verify_backup_integrity() WHERE check_name = 'publication'")" warning \
	"verify warns: the managed set ev is published partition by partition"
is "$(sql_state -d pub "CALL upkeep.run_maintenance()")" ok "retention on the publisher"
kept=$(PUB "SELECT count(*) FROM logs")
is "$(PUB "SELECT (SELECT count(*) < 100 FROM logs) || ' ' || (SELECT count(*) FROM ev)")" "true 400" \
	"publisher: expired rows deleted, expired partitions dropped"
check "batched DELETEs replicate: the subscriber loses the expired rows too" sub_until 30 \
	"SELECT count(*) = $kept FROM logs"
is "$(SUB "SELECT count(*) FROM ev")" 600 "partition DROPs do not replicate: the subscriber keeps every row of ev"
# a new month's partition, published under its own name, is not on the subscriber
next=$(PUB "SELECT upkeep.create_monthly_partition('ev', (date_trunc('month', now()) + interval '1 month')::date)")
PUB "INSERT INTO ev VALUES (1000, (date_trunc('month', now()) + interval '1 month')::date)" >/dev/null
check "the subscriber's apply worker fails on the missing $next, again and again" sub_until 30 \
	"SELECT apply_error_count >= 2 FROM pg_stat_subscription_stats WHERE subname = 's1'"
check "the server log names the missing table" grep -q "logical replication target relation \"public.$next\" does not exist" "$DATA/server.log"
SUB "CREATE TABLE $next PARTITION OF ev FOR VALUES FROM ('$(PUB "SELECT (date_trunc('month', now()) + interval '1 month')::date")') TO ('$(PUB "SELECT (date_trunc('month', now()) + interval '2 months')::date")')" >/dev/null
# the table alone is not enough: the subscription does not know it until REFRESH PUBLICATION, and skips its rows
errors=$(SUB "SELECT apply_error_count FROM pg_stat_subscription_stats WHERE subname = 's1'")
sleep 3
is "$(SUB "SELECT apply_error_count FROM pg_stat_subscription_stats WHERE subname = 's1'")" "$errors" \
	"once the table exists on the subscriber, the apply worker stops failing"
is "$(SUB "SELECT count(*) FROM ev WHERE id = 1000")" 0 "but the row is skipped: the partition is not part of the subscription yet"
SUB "ALTER SUBSCRIPTION s1 REFRESH PUBLICATION" >/dev/null
check "after ALTER SUBSCRIPTION ... REFRESH PUBLICATION (copy_data) the row is there" sub_until 30 \
	"SELECT EXISTS (SELECT 1 FROM ev WHERE id = 1000)"
# published through the root, the subscriber routes rows into its own partitions (a DEFAULT one here)
PUB "ALTER PUBLICATION p1 SET (publish_via_partition_root = true)" >/dev/null
SUB "CREATE TABLE ev_default PARTITION OF ev DEFAULT" >/dev/null
SUB "ALTER SUBSCRIPTION s1 REFRESH PUBLICATION WITH (copy_data = false)" >/dev/null
is "$(PUB "SELECT status FROM upkeep.verify_backup_integrity() WHERE check_name = 'publication'")" ok \
	"verify: published through its root is ok"
later=$(PUB "SELECT upkeep.create_monthly_partition('ev', (date_trunc('month', now()) + interval '2 months')::date)")
PUB "INSERT INTO ev VALUES (2000, (date_trunc('month', now()) + interval '2 months')::date)" >/dev/null
check "published through the root, a row of a new partition reaches the subscriber's DEFAULT partition" sub_until 30 \
	"SELECT EXISTS (SELECT 1 FROM ev_default WHERE id = 2000)"
for stmt in "ALTER SUBSCRIPTION s1 DISABLE" "ALTER SUBSCRIPTION s1 SET (slot_name = NONE)" "DROP SUBSCRIPTION s1"; do SUB "$stmt" >/dev/null; done
PUB "SELECT pg_drop_replication_slot('s1')" >/dev/null

finish
