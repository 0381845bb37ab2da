#!/usr/bin/env bash
# Cluster test: create_monthly_partition and locks.
#  - a non-owner is refused before any lock is queued, even while another
#    session holds ACCESS EXCLUSIVE on the table (no lock-queue DoS);
#  - an owner waits at most upkeep.lock_timeout (or a tighter session
#    lock_timeout), gets 55P03, and nothing is half-made;
#  - concurrent callers for the same and different months all succeed and
#    produce exactly one partition per month;
#  - creation blocks no reader or writer: an open report transaction on the
#    set does not hold it up, nor does it queue anyone (create_monthly_partition
#    and premake alike); with a DEFAULT partition it gives up after the lock
#    budget with 55P03 and still queues nobody.
. "$(dirname "$0")/lib.sh"

new_cluster main
sql "CREATE EXTENSION pg_upkeep" >/dev/null
sql "CREATE ROLE owner_r LOGIN; CREATE ROLE stranger_r LOGIN; GRANT CREATE ON SCHEMA public TO owner_r;
     CREATE TABLE owned (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
     ALTER TABLE owned OWNER TO owner_r; GRANT ALL ON owned TO stranger_r;" >/dev/null

# another session holds ACCESS EXCLUSIVE on the table
bg "BEGIN; LOCK TABLE owned IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);"
check "the blocker holds ACCESS EXCLUSIVE" wait_until 10 \
	"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'owned'::regclass AND mode = 'AccessExclusiveLock' AND granted)"

# non-owner: refused at once (42501), never queued behind the blocker
t0=$(now_ms)
state=$(sql_state "SET ROLE stranger_r" "SET statement_timeout = '20s'" \
	"SELECT upkeep.create_monthly_partition('owned', '2024-05-01')")
elapsed=$(($(now_ms) - t0))
is "$state" 42501 "non-owner refused with 42501 while the table is locked"
lt "$elapsed" 1500 "non-owner refused without waiting for the lock (${elapsed} ms)"

# while a non-owner loops on the call, no lock request of theirs ever appears in pg_locks
bg "SET ROLE stranger_r; DO \$\$ BEGIN FOR i IN 1..2000 LOOP BEGIN PERFORM upkeep.create_monthly_partition('owned', '2024-05-01'); EXCEPTION WHEN insufficient_privilege THEN NULL; END; END LOOP; END \$\$;"
waiting=0
for _ in $(seq 1 20); do
	w=$(sql "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) WHERE l.relation = 'owned'::regclass AND NOT l.granted AND a.usename = 'stranger_r'")
	waiting=$((waiting + w))
	sleep 0.05
done
is "$waiting" 0 "no lock request from the non-owner was ever queued on the table"

# owner: bounded wait, 55P03, nothing made
t0=$(now_ms)
state=$(sql_state "SET ROLE owner_r" "SET upkeep.lock_timeout = '300ms'" \
	"SELECT upkeep.create_monthly_partition('owned', '2024-05-01')")
elapsed=$(($(now_ms) - t0))
is "$state" 55P03 "owner gets lock_not_available when the lock cannot be had"
lt "$elapsed" 2000 "owner waited about upkeep.lock_timeout, not longer (${elapsed} ms)"
t0=$(now_ms)
state=$(sql_state "SET ROLE owner_r" "SET upkeep.lock_timeout = '30s'" "SET lock_timeout = '200ms'" \
	"SELECT upkeep.create_monthly_partition('owned', '2024-05-01')")
elapsed=$(($(now_ms) - t0))
is "$state" 55P03 "a tighter session lock_timeout wins over upkeep.lock_timeout"
lt "$elapsed" 2000 "bounded by the session's 200 ms (${elapsed} ms)"

# the blocker goes away; the partition can be made, and only it
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; LOCK TABLE owned%'" >/dev/null
wait_until 10 "SELECT NOT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'owned'::regclass AND mode = 'AccessExclusiveLock')" || true
is "$(sql "SELECT count(*) FROM pg_inherits WHERE inhparent = 'owned'::regclass")" 0 "nothing was half-made by the failed calls"
is "$(sql_state "SET ROLE owner_r" "SELECT upkeep.create_monthly_partition('owned', '2024-05-01')")" ok "owner succeeds once the lock is free"
# same session: the pinned lock_timeout and search_path do not leak into the caller's session
is "$(sql "SET lock_timeout = '7s'; SET search_path = public, pg_temp; SET ROLE owner_r;
           SELECT upkeep.create_monthly_partition('owned', '2024-05-01');
           SELECT current_setting('lock_timeout') || ' ' || current_setting('search_path') || ' ' || current_user" | tail -1)" \
	"7s public, pg_temp owner_r" "lock_timeout, search_path and role are the caller's again after the call"

# 24 concurrent callers: 8 for the same month, 16 for two other months
pids=()
for i in $(seq 1 24); do
	m=$(( i % 3 ))
	psql_at "$PORT" -At -c "SET ROLE owner_r; SELECT upkeep.create_monthly_partition('owned', '2024-0$((6 + m))-0$((1 + i % 9))')" >"$T_WORK/conc.$i" 2>&1 &
	pids+=($!)
done
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
is "$fails" 0 "24 concurrent callers all succeed"
is "$(sql "SELECT string_agg(relname, ',' ORDER BY relname) FROM pg_class c JOIN pg_inherits i ON i.inhrelid = c.oid WHERE i.inhparent = 'owned'::regclass")" \
	"owned_2024_05,owned_2024_06,owned_2024_07,owned_2024_08" "exactly one partition per month"
is "$(cat "$T_WORK"/conc.* | sort -u | tr '\n' ',')" "owned_2024_06,owned_2024_07,owned_2024_08," "every caller got its month's partition back"

# -------- an open report transaction does not block creation, and creation blocks nobody
sql "CREATE TABLE report (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
     SELECT upkeep.create_monthly_partition('report', now()::date);
     INSERT INTO report SELECT g, now() FROM generate_series(1, 100) g;" >/dev/null
bg "BEGIN; SELECT count(*) FROM report; SELECT pg_sleep(60);"
check "a report transaction holds its lock on the set" wait_until 10 \
	"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'report'::regclass AND mode = 'AccessShareLock' AND granted AND pid <> pg_backend_pid())"
t0=$(now_ms)
is "$(sql_state "SET upkeep.lock_timeout = '5s'" "SELECT upkeep.create_monthly_partition('report', (now() + interval '1 month')::date)")" ok \
	"create_monthly_partition succeeds while a report transaction is open on the parent"
elapsed=$(($(now_ms) - t0))
lt "$elapsed" 1500 "without waiting for the report to end (${elapsed} ms)"
# a writer and a reader arriving while a creation sits in its transaction are not held up
bg "BEGIN; SELECT upkeep.create_monthly_partition('report', (now() + interval '2 months')::date); SELECT pg_sleep(60);"
check "a creation holds its transaction open" wait_until 10 \
	"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'report'::regclass AND mode = 'ShareUpdateExclusiveLock' AND granted)"
t0=$(now_ms)
is "$(sql_state "SET lock_timeout = '3s'" "INSERT INTO report VALUES (0, now())" "SELECT count(*) FROM report")" ok \
	"a writer and a reader run while a creation is in progress"
lt "$(($(now_ms) - t0))" 1500 "at once"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; SELECT upkeep.create_monthly_partition(''report''%'" >/dev/null
# premake (CALL run_maintenance) too, while the report is still open
sql "SELECT relid FROM upkeep.set_policy('report', retain => '1 year', premake => 4)" >/dev/null
t0=$(now_ms)
is "$(sql_state "SET upkeep.lock_timeout = '5s'" "CALL upkeep.run_maintenance(false, 'report')")" ok "premake runs while the report is open"
lt "$(($(now_ms) - t0))" 1500 "without waiting for it"
is "$(sql "SELECT status || ' ' || rows FROM upkeep.run_log WHERE table_name = 'public.report' AND action LIKE 'PREMAKE%' ORDER BY id DESC LIMIT 1")" \
	"ok 3" "premake made the missing months"
# with a DEFAULT partition, the report holds a lock on it: creation tries for the budget, fails, queues nobody
sql "CREATE TABLE report_default PARTITION OF report DEFAULT" >/dev/null
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; SELECT count(*) FROM report%'" >/dev/null
bg "BEGIN; SELECT count(*) FROM report; SELECT pg_sleep(60);"
check "a report transaction holds its lock on the DEFAULT partition" wait_until 10 \
	"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = 'report_default'::regclass AND mode = 'AccessShareLock' AND granted AND pid <> pg_backend_pid())"
psql_at "$PORT" -At -c "SET upkeep.lock_timeout = '1500ms'" \
	-c "SELECT upkeep.create_monthly_partition('report', (now() + interval '9 months')::date)" >"$T_WORK/def.out" 2>&1 &
cpid=$!
queued=0
for _ in $(seq 1 10); do
	sleep 0.1
	queued=$((queued + $(sql "SELECT count(*) FROM pg_locks WHERE relation IN ('report'::regclass, 'report_default'::regclass) AND NOT granted")))
done
t0=$(now_ms)
is "$(sql_state "SET lock_timeout = '1s'" "SELECT count(*) FROM report")" ok "a new reader is not queued behind the creation"
lt "$(($(now_ms) - t0))" 1000 "and runs at once (a psql start included)"
wait $cpid
is "$queued" 0 "the creation never queued a lock request"
check "the creation gave up with 55P03" grep -q "could not obtain the locks within upkeep.lock_timeout" "$T_WORK/def.out"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; SELECT count(*) FROM report%'" >/dev/null

finish
