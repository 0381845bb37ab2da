#!/usr/bin/env bash
# Cluster test: a cancel or statement_timeout ends verify_backup_integrity().
#
# Every check runs in a subtransaction so that one failing check does not
# hide the others -- but a query cancel (pg_cancel_backend) or a
# statement_timeout must end the call with its own error (57014), at once,
# never turn into a 'failed' row while the rest of the checks go on.
#  - deterministic: each check (manifests, amcheck, fingerprints) is held at
#    a fault point while the cancel or the timeout arrives;
#  - real: a slow amcheck over big indexes, and a big fingerprint;
#  - and one failing check still does not hide the others.
. "$(dirname "$0")/lib.sh"

new_cluster main
sql "CREATE EXTENSION pg_upkeep; CREATE EXTENSION amcheck;" >/dev/null
sql "CREATE TABLE logs (id bigint PRIMARY KEY, at timestamptz NOT NULL, msg text);
     INSERT INTO logs SELECT g, now() - g * interval '1 hour', 'message ' || g FROM generate_series(1, 3000) g;
     SELECT relid FROM upkeep.set_policy('logs', 'at', '60 days', action => 'archive', batch_size => 500);" >/dev/null
sql "CALL upkeep.run_maintenance()" >/dev/null 2>&1
sql "SELECT count(*) FROM upkeep.snapshot_fingerprints()" >/dev/null
is "$(sql "SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE status = 'failed'")" 0 "verifies clean"
is "$(sql "SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE check_name IN ('archive_manifest', 'amcheck', 'fingerprint') AND status = 'ok'")" \
	5 "manifests (1 archive), amcheck (2 indexes) and fingerprints (2 tables) are checked"

OUT="$T_WORK/out"
# start_verify APPNAME [SET statements]: verify_backup_integrity() in the background; $VPID is psql's pid
start_verify() {
	local app=$1; shift
	local args=()
	for s in "$@"; do args+=(-c "$s"); done
	PGAPPNAME=$app psql_at "$PORT" -d postgres -At -v VERBOSITY=sqlstate "${args[@]}" \
		-c "SELECT check_name, status, detail FROM upkeep.verify_backup_integrity()" >"$OUT.$app" 2>"$OUT.$app.err" &
	VPID=$!
}
# finished_within PID SECONDS: waits for PID; fails when it takes longer
finished_within() {
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.1
	done
	return 0
}
hold() { # hold POINT: a session keeps the fault point's advisory lock
	bg "SELECT pg_advisory_lock(1431325510, hashtext('$1')); SELECT pg_sleep(120)"
	HOLDER=${BG_PIDS[-1]}
	wait_until 10 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 1431325510)" ||
		not_ok "the holder of $1 got its lock"
}
release() { kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; }

for point in verify-manifests verify-amcheck fingerprint-scan; do
	hold "$point"
	# statement_timeout while the check waits at the point
	start_verify "t_$point" "SET upkeep.fault_points = '$point:wait:1'" "SET statement_timeout = '1s'"
	check "$point: statement_timeout ends the call promptly" finished_within "$VPID" 20
	check "$point: ... with SQLSTATE 57014" grep -q "ERROR:  57014" "$OUT.t_$point.err"
	is "$(wc -l <"$OUT.t_$point")" 0 "$point: ... and no rows"
	# pg_cancel_backend while the check waits at the point
	start_verify "c_$point" "SET upkeep.fault_points = '$point:wait:1'"
	check "$point: the check waits at the fault point" wait_until 10 \
		"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'c_$point' AND wait_event_type = 'Lock')"
	sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'c_$point'" >/dev/null
	check "$point: pg_cancel_backend ends the call promptly" finished_within "$VPID" 20
	check "$point: ... with SQLSTATE 57014" grep -q "ERROR:  57014" "$OUT.c_$point.err"
	is "$(wc -l <"$OUT.c_$point")" 0 "$point: ... and no rows"
	release
done

# a table_fingerprint() of its own is cancelled too
hold fingerprint-scan
is "$(sql_state "SET upkeep.fault_points = 'fingerprint-scan:wait:1'" "SET statement_timeout = '1s'" \
	"SELECT * FROM upkeep.table_fingerprint('logs')")" 57014 "table_fingerprint(): statement_timeout gives 57014"
release

# ---- real slowness: amcheck over big indexes, a big fingerprint
sql "CREATE TABLE big (id bigint PRIMARY KEY, at timestamptz NOT NULL, msg text);
     INSERT INTO big SELECT g, now() - g * interval '1 second', md5(g::text) FROM generate_series(1, 2000000) g;
     CREATE INDEX ON big (msg); CREATE INDEX ON big (at);
     SELECT relid FROM upkeep.set_policy('big', 'at', '10 years');
     SELECT count(*) FROM upkeep.snapshot_fingerprints();" >/dev/null
t0=$(now_ms)
is "$(sql "SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE status = 'failed'")" 0 "big: verifies clean"
full=$(($(now_ms) - t0))
echo "# a full verify takes $full ms"
check "big: a full verify takes long enough to be interrupted (> 1.5 s)" test "$full" -gt 1500
t0=$(now_ms)
is "$(sql_state "SET statement_timeout = '400ms'" "SELECT * FROM upkeep.verify_backup_integrity()")" 57014 \
	"big: statement_timeout during amcheck gives 57014"
took=$(($(now_ms) - t0))
lt "$took" "$((400 + full / 2))" "big: ... promptly ($took ms, the full verify $full ms)"

start_verify c_big
check "big: the verify is running" wait_until 10 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'c_big' AND state = 'active')"
sleep 0.3
t0=$(now_ms)
sql "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE application_name = 'c_big'" >/dev/null
check "big: pg_cancel_backend ends the call" finished_within "$VPID" 30
took=$(($(now_ms) - t0))
check "big: ... with SQLSTATE 57014" grep -q "ERROR:  57014" "$OUT.c_big.err"
lt "$took" "$((full / 2))" "big: ... promptly ($took ms after the cancel)"

# the fingerprint check alone: without amcheck the big table's fingerprint is the slow part
sql "DROP EXTENSION amcheck" >/dev/null
is "$(sql_state "SET statement_timeout = '50ms'" "SELECT * FROM upkeep.table_fingerprint('big')")" 57014 \
	"big: statement_timeout during table_fingerprint() gives 57014"

# ---- independence: one failing check does not hide the others
sql "CREATE EXTENSION amcheck" >/dev/null
is "$(sql "SET upkeep.fault_points = 'verify-manifests:error';
           SELECT string_agg(DISTINCT check_name || ':' || status, ',' ORDER BY check_name || ':' || status)
             FROM upkeep.verify_backup_integrity() WHERE check_name IN ('archive_manifest', 'amcheck', 'fingerprint')")" \
	"amcheck:ok,archive_manifest:failed,fingerprint:ok" "an erroring manifest check is a failed row; the others still run"
is "$(sql "SET upkeep.fault_points = 'verify-amcheck:error:1';
           SELECT count(*) FILTER (WHERE status = 'failed') || ' ' || count(*) FILTER (WHERE status = 'ok')
             FROM upkeep.verify_backup_integrity() WHERE check_name = 'amcheck'")" \
	"1 4" "an erroring index check fails that index only"
finish
