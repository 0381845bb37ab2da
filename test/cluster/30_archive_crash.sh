#!/usr/bin/env bash
# Cluster test: archival survives kill -9 at any moment.
#
# A large archive run (CALL run_maintenance, a commit per batch) is killed
# with SIGKILL at a different moment each round; the postmaster crash-restarts
# every backend.  After each recovery:
#   I1 count(source) + count(archive) = original        (nothing lost or invented)
#   I2 no key is in both tables                          (no duplicate)
#   I3 the manifest matches the archive: per archived_at batch group, the row
#      count; in total, the rows                          (no batch half-recorded)
#   I4 the next run can go on, and the last one finishes the job.
. "$(dirname "$0")/lib.sh"

ROUNDS=${ROUNDS:-12}
new_cluster main "restart_after_crash = on"
sql "CREATE EXTENSION pg_upkeep" >/dev/null
sql "CREATE TABLE src (id bigint PRIMARY KEY, at timestamptz NOT NULL, payload text);
     CREATE INDEX ON src (at);
     INSERT INTO src SELECT g, now() - interval '400 days' + g * interval '10 seconds', md5(g::text)
       FROM generate_series(1, 600000) g;
     SELECT relid FROM upkeep.set_policy('src', 'at', '30 days', action => 'archive', batch_size => 100);" >/dev/null
ORIGINAL=$(sql "SELECT count(*) FROM src")
EXPIRED=$(sql "SELECT count(*) FROM src WHERE at < now() - interval '30 days'")
echo "# original rows $ORIGINAL, expired $EXPIRED"

invariants() {
	local label=$1
	is "$(sql "SELECT (SELECT count(*) FROM src) + (SELECT count(*) FROM src_archive)")" "$ORIGINAL" "$label: I1 nothing lost, nothing invented"
	is "$(sql "SELECT count(*) FROM src s JOIN src_archive a USING (id)")" 0 "$label: I2 no key in both tables"
	is "$(sql "SELECT count(*) FROM (SELECT archived_at, count(*) AS n FROM src_archive GROUP BY 1) a
	            FULL JOIN (SELECT archived_at, sum(row_count) AS n FROM upkeep.archive_manifest
	                        WHERE archive = 'src_archive'::regclass GROUP BY 1) m USING (archived_at)
	           WHERE a.n IS DISTINCT FROM m.n")" 0 "$label: I3 manifest batches match the archive"
}

# the first run creates the archive; give it a head start
CALLER="dbname=postgres application_name=upkeep_crash_victim"
psql_at "$PORT" -At -d "$CALLER" -c "CALL upkeep.run_maintenance()" >/dev/null 2>&1 &
sleep 1
kills=0
for round in $(seq 1 "$ROUNDS"); do
	if [ "$round" -gt 1 ]; then
		psql_at "$PORT" -At -d "$CALLER" -c "CALL upkeep.run_maintenance()" >/dev/null 2>&1 &
		# the victim connected (a psql start takes 100-200 ms on a loaded machine), then
		# a different moment each round: 20..250 ms into the run
		for _ in $(seq 1 100); do
			[ -n "$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'upkeep_crash_victim'" 2>/dev/null)" ] && break
			sleep 0.05
		done
		sleep "0.$(printf '%03d' $(( (round * 97) % 230 + 20 )))"
	fi
	pid=$(sql "SELECT pid FROM pg_stat_activity WHERE application_name = 'upkeep_crash_victim' LIMIT 1" 2>/dev/null)
	if [ -n "$pid" ]; then
		kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
	fi
	wait 2>/dev/null
	check "round $round: server back after the crash" wait_ready
	invariants "round $round (archived so far: $(sql "SELECT count(*) FROM src_archive"))"
done
check "at least 10 runs were killed mid-flight ($kills)" test "$kills" -ge 10
check "the server log shows the crash restarts" grep -q "terminated by signal 9" "$DATA/server.log"

# the next run marks the killed runs failed and finishes the job
is "$(sql_state "CALL upkeep.run_maintenance()")" ok "a clean run after the crashes"
is "$(sql "SELECT count(*) FROM src WHERE at < now() - interval '30 days' - interval '1 minute'")" 0 "every expired row is archived"
invariants "final"
is "$(sql "SELECT count(*) FROM upkeep.run_log WHERE status = 'running'")" 0 "no run is left 'running'"
check "killed runs are recorded as failed" test "$(sql "SELECT count(*) FROM upkeep.run_log WHERE status = 'failed' AND message LIKE 'interrupted%'")" -ge 1
finish
