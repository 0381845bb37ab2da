#!/usr/bin/env bash
# Cluster test: retention with other sessions around.
#  - a CALL cancelled by statement_timeout keeps every committed batch, logs
#    the interruption, and the next run finishes the job;
#  - a table whose lock is held elsewhere is skipped within upkeep.lock_timeout,
#    and the application is not stuck behind maintenance meanwhile;
#  - two runs never process the same table at once (advisory lock): the loser
#    reports 'skipped';
#  - upkeep.batch_pause pauses between batches, shows as a wait, and a cancel
#    ends it at once, keeping the committed batches;
#  - a leftover 'running' row of a vanished run is marked failed.
. "$(dirname "$0")/lib.sh"

new_cluster main
sql "CREATE EXTENSION pg_upkeep" >/dev/null

# -------- a cancelled CALL keeps its committed batches
sql "CREATE TABLE big (id bigint PRIMARY KEY, at timestamptz NOT NULL, pad text);
     CREATE INDEX ON big (at);
     INSERT INTO big SELECT g, now() - interval '400 days' + g * interval '1 second', repeat('x', 200) FROM generate_series(1, 300000) g;
     SELECT relid FROM upkeep.set_policy('big', 'at', '30 days', batch_size => 200);" >/dev/null
total=$(sql "SELECT count(*) FROM big")
state=$(sql_state "SET statement_timeout = '250ms'" "CALL upkeep.run_maintenance()")
is "$state" 57014 "statement_timeout cancels the CALL"
left=$(sql "SELECT count(*) FROM big")
check "committed batches were kept ($((total - left)) of $total rows gone)" test "$left" -lt "$total"
check "but the job was not finished" test "$left" -gt 0
is "$(sql "SELECT status || ' ' || (rows > 0) || ' ' || (message LIKE '%statement timeout%committed batches are kept%') FROM upkeep.run_log WHERE table_name = 'public.big' ORDER BY id DESC LIMIT 1")" \
	"failed true true" "run_log says the run failed and how much it kept"
is "$(sql "SELECT rows FROM upkeep.run_log WHERE table_name = 'public.big' ORDER BY id DESC LIMIT 1")" "$((total - left))" \
	"run_log's row count equals the rows that really went"
is "$(sql "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = x'55504B50'::bigint::oid")" 0 \
	"no table lock is left behind by the cancelled run"
# the same session after its CALL was cancelled: a per-batch run holds the table's lock at session level,
# which no abort releases -- the run itself must have let it go on its way out, or every other run
# (the worker's, pg_cron's) would skip the table until this session ends
out=$(psql_at "$PORT" -At -v ON_ERROR_STOP=0 -c "SET statement_timeout = '250ms'" -c "CALL upkeep.run_maintenance()" \
	-c "RESET statement_timeout" -c "SELECT 'held=' || count(*) FROM pg_locks WHERE locktype = 'advisory' \
	AND classid = x'55504B50'::bigint::oid AND pid = pg_backend_pid()" 2>&1)
check "a second CALL is cancelled too" grep -q "statement timeout" <<<"$out"
held=$(sed -n 's/^held=//p' <<<"$out")
is "$held" 0 "the cancelled CALL's own session holds no table lock afterwards"
is "$(sql_state "CALL upkeep.run_maintenance()")" ok "the next run finishes the job"
is "$(sql "SELECT count(*) FROM big WHERE at < now() - interval '30 days'")" 0 "no expired row is left"

# -------- a lock held elsewhere: skipped quickly, nobody stuck behind us
sql "CREATE TABLE parts (id bigint, at timestamptz NOT NULL) PARTITION BY RANGE (at);
     SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('parts', (now() - g * interval '1 month')::date) FROM generate_series(0, 6) g) s;
     INSERT INTO parts SELECT g, now() - g * interval '1 hour' FROM generate_series(1, 3000) g;
     SELECT relid FROM upkeep.set_policy('parts', retain => '2 months');" >/dev/null
oldest=$(sql "SELECT c.oid::regclass FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'parts'::regclass ORDER BY c.relname LIMIT 1")
# a long reader holds ACCESS SHARE on the oldest partition
bg "BEGIN; SELECT count(*) FROM $oldest; SELECT pg_sleep(60);"
check "the reader holds its lock" wait_until 10 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE relation = '$oldest'::regclass AND mode = 'AccessShareLock' AND granted AND pid <> pg_backend_pid())"
# maintenance with a 500 ms lock_timeout; meanwhile a third session reads the table
t0=$(now_ms)
psql_at "$PORT" -At -c "SET upkeep.lock_timeout = '500ms'" -c "CALL upkeep.run_maintenance(tbl => 'parts')" >"$T_WORK/maint.out" 2>&1 &
mpid=$!
sleep 0.1
t1=$(now_ms)
sql "SELECT count(*) FROM parts" >/dev/null
reader_ms=$(($(now_ms) - t1))
wait $mpid
maint_ms=$(($(now_ms) - t0))
lt "$maint_ms" 3000 "maintenance gave up within about upkeep.lock_timeout (${maint_ms} ms)"
# (it is not "never waited on": the lock is tried for the whole budget before the table is reported)
check "after trying for the budget first (${maint_ms} ms >= 450)" test "$maint_ms" -ge 450
lt "$reader_ms" 1500 "a reader arriving meanwhile waited at most the lock_timeout (${reader_ms} ms)"
is "$(sql "SELECT status FROM upkeep.run_log WHERE table_name = 'public.parts' AND action LIKE 'DROP%' ORDER BY id DESC LIMIT 1")" \
	skipped "the table is reported skipped"
check "the message says why" test "$(sql "SELECT message LIKE '55P03: lock not available%' FROM upkeep.run_log WHERE table_name = 'public.parts' AND action LIKE 'DROP%' ORDER BY id DESC LIMIT 1")" = t
check "the server log has the skip" grep -q "public.parts: DROP.*skipped" "$DATA/server.log"
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'BEGIN; SELECT count(*) FROM%'" >/dev/null
sleep 0.3
is "$(sql_state "CALL upkeep.run_maintenance(tbl => 'parts')")" ok "next run, lock free: done"
is "$(sql "SELECT status FROM upkeep.run_log WHERE table_name = 'public.parts' AND action LIKE 'DROP%' ORDER BY id DESC LIMIT 1")" \
	ok "and reported ok"

# -------- two runs never process the same table at once
sql "CREATE TABLE shared (id bigint, at timestamptz NOT NULL);
     INSERT INTO shared SELECT g, now() - interval '90 days' FROM generate_series(1, 1000) g;
     SELECT relid FROM upkeep.set_policy('shared', 'at', '30 days');" >/dev/null
# another run holds the table (the documented advisory key: classid 0x55504B50, objid = table OID)
bg "SELECT pg_advisory_lock(x'55504B50'::int, 'shared'::regclass::oid::int); SELECT pg_sleep(60);"
check "the other run holds the table" wait_until 10 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND objid = 'shared'::regclass::oid AND granted)"
is "$(sql "SELECT action FROM upkeep.cleanup_old_data(tbl => 'shared')")" \
	"DELETE (>30 days) [skipped: another pg_upkeep run is processing this table]" "the loser reports skipped"
is "$(sql "SELECT count(*) FROM shared")" 1000 "and touched nothing"
is "$(sql "SELECT status FROM upkeep.run_log WHERE table_name = 'public.shared' ORDER BY id DESC LIMIT 1")" skipped "run_log: skipped"
# real concurrency: a slow CALL and a manual call at the same time
sql "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_advisory_lock%'" >/dev/null
# (a trigger slows the deletes down, so the CALL is surely still running when the manual run comes)
sql "TRUNCATE big; INSERT INTO big SELECT g, now() - interval '400 days' + g * interval '1 second', 'x' FROM generate_series(1, 20000) g;
     CREATE FUNCTION public.slow_down() RETURNS trigger LANGUAGE plpgsql AS \$\$ BEGIN PERFORM pg_catalog.pg_sleep(0.0002); RETURN OLD; END \$\$;
     CREATE TRIGGER slow BEFORE DELETE ON big FOR EACH ROW EXECUTE FUNCTION public.slow_down();
     SELECT relid FROM upkeep.set_policy('big', batch_size => 200);" >/dev/null
psql_at "$PORT" -At -c "CALL upkeep.run_maintenance(tbl => 'big')" >/dev/null 2>&1 &
cpid=$!
wait_until 10 "SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE table_name = 'public.big' AND status = 'running')" || true
second=$(sql "SELECT action FROM upkeep.cleanup_old_data(tbl => 'big')")
wait $cpid
is "$second" "DELETE (>30 days) [skipped: another pg_upkeep run is processing this table]" \
	"a manual run during a CALL on the same table is skipped"
is "$(sql "SELECT count(*) FROM big WHERE at < now() - interval '30 days'")" 0 "the CALL itself finished"

# -------- upkeep.batch_pause: a pause before each further batch, visible, cancellable
sql "DROP TRIGGER slow ON big; TRUNCATE big; INSERT INTO big SELECT g, now() - interval '400 days' + g * interval '1 second', 'x' FROM generate_series(1, 1000) g;
     SELECT relid FROM upkeep.set_policy('big', batch_size => 250);" >/dev/null
t0=$(now_ms)
is "$(sql_state "SET upkeep.batch_pause = '300ms'" "CALL upkeep.run_maintenance(tbl => 'big')")" ok "a CALL with batch_pause runs"
paused_ms=$(($(now_ms) - t0))
nb=$(sql "SELECT batches FROM upkeep.run_log WHERE table_name = 'public.big' ORDER BY id DESC LIMIT 1")
check "it paused before each further batch: $nb batches, ${paused_ms} ms" test "$paused_ms" -ge $(((nb - 1) * 300))
lt "$paused_ms" $((nb * 300 + 1500)) "and nowhere else (no pause after the last batch)"
is "$(sql "SELECT rows || ' ' || (batches >= 4) || ' ' || status FROM upkeep.run_log WHERE table_name = 'public.big' ORDER BY id DESC LIMIT 1")" \
	"1000 true ok" "all rows, in batches of at most 250"
is "$(sql "SELECT count(*) FROM big WHERE at < now() - interval '30 days'")" 0 "and nothing expired is left"
sql "CREATE TABLE quick (id bigint, at timestamptz NOT NULL); CREATE INDEX ON quick (at);
     INSERT INTO quick SELECT g, now() - interval '90 days' FROM generate_series(1, 100) g;
     SELECT relid FROM upkeep.set_policy('quick', 'at', '30 days');
     CREATE TABLE quick_ctid (id bigint, at timestamptz NOT NULL);
     INSERT INTO quick_ctid SELECT g, now() - interval '90 days' FROM generate_series(1, 100) g;
     SELECT relid FROM upkeep.set_policy('quick_ctid', 'at', '30 days');" >/dev/null
t0=$(now_ms)
is "$(sql_state "SET upkeep.batch_pause = '5s'" "CALL upkeep.run_maintenance(tbl => 'quick')" "CALL upkeep.run_maintenance(tbl => 'quick_ctid')" "CALL upkeep.run_maintenance(tbl => 'big')")" ok \
	"one-batch actions (time slices, ctid ranges) and one with nothing to do never pause"
lt "$(($(now_ms) - t0))" 2000 "(no 5 s pause when there is nothing more to do)"
is "$(sql "SELECT (SELECT count(*) FROM quick) + (SELECT count(*) FROM quick_ctid)")" 0 "and the one batches did their work"
check "the ctid table was batched by block ranges" test "$(sql "SELECT message LIKE '%ctid%' FROM upkeep.run_log WHERE table_name = 'public.quick_ctid' ORDER BY id DESC LIMIT 1")" = t
sql "INSERT INTO big SELECT g, now() - interval '400 days' + g * interval '1 second', 'x' FROM generate_series(1, 1000) g" >/dev/null
psql_at "$PORT" -At -c "SET upkeep.batch_pause = '10s'" -c "CALL upkeep.run_maintenance(tbl => 'big')" >"$T_WORK/pause.out" 2>&1 &
ppid=$!
check "the pause shows in pg_stat_activity as an Extension wait" \
	wait_until 10 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Extension' AND query LIKE 'pg_upkeep: DELETE%')"
t0=$(now_ms)
sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE wait_event_type = 'Extension' AND query LIKE 'pg_upkeep: DELETE%'" >/dev/null
wait $ppid || true
lt "$(($(now_ms) - t0))" 2000 "a cancel ends the pause at once"
check "the CALL reports the cancel" grep -q "canceling statement due to user request" "$T_WORK/pause.out"
kept=$(sql "SELECT rows FROM upkeep.run_log WHERE table_name = 'public.big' ORDER BY id DESC LIMIT 1")
is "$(sql "SELECT status || ' ' || (rows > 0) || ' ' || batches FROM upkeep.run_log WHERE table_name = 'public.big' ORDER BY id DESC LIMIT 1")" \
	"failed true 1" "the batch before the pause is kept and logged"
is "$(sql "SELECT 1000 - count(*) FROM big")" "$kept" "exactly the logged rows are gone"

# -------- a 'running' row left by a vanished backend is marked failed by the next run
sql "INSERT INTO upkeep.run_log (run_id, relid, table_name, action, started_at, status, run_by, pid)
     VALUES (0, 'shared'::regclass, 'public.shared', 'DELETE', now() - interval '1 hour', 'running', 'ghost', 999999)" >/dev/null
sql "CALL upkeep.run_maintenance()" >/dev/null 2>&1
is "$(sql "SELECT status FROM upkeep.run_log WHERE run_by = 'ghost'")" failed "a stale 'running' row is marked failed"

finish
