#!/usr/bin/env bash
# Cluster test: kill -9, cancel and SIGTERM at every fault point of a run.
#
# One database holds every kind of work a run does: a plain table archived in
# row batches (src), a partitioned table whose expired months move to a
# partitioned archive (psrc), a plain table with a delete policy (logs), a set
# whose expired months are detached into another schema (dset), and a set
# with rows waiting in its DEFAULT partition for a month premake must create
# (pm).  For each fault point a CALL upkeep.run_maintenance() is stopped
# there -- SIGKILL (the postmaster restarts every backend), a query cancel, a
# backend termination -- and after each round the invariants hold:
#   I1 source + archive = what there was (rows and partitions), nothing lost
#   I2 no row both in a source and in its archive
#   I3 every archived batch matches its manifest (verify_backup_integrity)
#   I4 no orphan partition: each month table is attached to its set, or was
#      detached and moved as the detach policy says -- never half-done
#   I5 no rows left behind in DEFAULT for a month that has its partition
#   I6 after the next clean run: nothing 'running', no stray advisory lock
# and at the end one clean run finishes all the work.
. "$(dirname "$0")/lib.sh"

new_cluster main "restart_after_crash = on" "shared_preload_libraries = 'pg_upkeep'"
# every round gets its own database, a copy of this template with the whole backlog
DB=tmpl
S() { sql -d "$DB" "$@"; }
sql "CREATE DATABASE tmpl" >/dev/null
S "CREATE EXTENSION pg_upkeep" >/dev/null
S "CREATE TABLE src (id int PRIMARY KEY, at timestamptz NOT NULL, payload text);
   CREATE INDEX ON src (at);
   INSERT INTO src SELECT g, now() - interval '400 days' + g * interval '1 hour', md5(g::text) FROM generate_series(1, 8000) g;
   SELECT relid FROM upkeep.set_policy('src', 'at', '60 days', action => 'archive', batch_size => 400);
   CREATE TABLE logs (id int PRIMARY KEY, at timestamptz NOT NULL);
   INSERT INTO logs SELECT g, now() - interval '400 days' + g * interval '1 hour' FROM generate_series(1, 8000) g;
   SELECT relid FROM upkeep.set_policy('logs', 'at', '60 days', batch_size => 400);
   CREATE TABLE psrc (id int, at date NOT NULL, v text) PARTITION BY RANGE (at);
   SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('psrc', (current_date - g * 31)::date) FROM generate_series(0, 11) g) s;
   INSERT INTO psrc SELECT g, current_date - (g % 330), 'v' || g FROM generate_series(1, 6000) g;
   CREATE TABLE psrc_archive (id int, at date NOT NULL, v text, archived_at timestamptz NOT NULL) PARTITION BY RANGE (at);
   SELECT relid FROM upkeep.set_policy('psrc', retain => '4 months', action => 'archive', archive_to => 'psrc_archive');
   CREATE SCHEMA \"Old Data\";
   CREATE TABLE dset (id int, at date NOT NULL) PARTITION BY RANGE (at);
   SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('dset', (current_date - g * 31)::date) FROM generate_series(0, 11) g) s;
   INSERT INTO dset SELECT g, current_date - (g % 330) FROM generate_series(1, 3000) g;
   SELECT relid FROM upkeep.set_policy('dset', retain => '4 months', action => 'detach', detach_schema => 'Old Data');
   CREATE TABLE pm (id int, at date NOT NULL) PARTITION BY RANGE (at);
   CREATE TABLE pm_default PARTITION OF pm DEFAULT;
   INSERT INTO pm SELECT g, current_date + (g % 60) FROM generate_series(1, 600) g;
   SELECT relid FROM upkeep.set_policy('pm', retain => '1 year', premake => 3);" >/dev/null
SRC_ALL=$(S "SELECT count(*) FROM src")
PSRC_ALL=$(S "SELECT count(*) FROM psrc")
DSET_ALL=$(S "SELECT count(*) FROM dset")
PM_ALL=$(S "SELECT count(*) FROM pm")
DSET_PARTS=$(S "SELECT count(*) FROM pg_inherits WHERE inhparent = 'dset'::regclass")
echo "# src $SRC_ALL rows, psrc $PSRC_ALL, dset $DSET_ALL in $DSET_PARTS partitions, pm $PM_ALL"

invariants() {
	local label=$1 bad
	S "CREATE TABLE IF NOT EXISTS src_archive (LIKE src, archived_at timestamptz)" >/dev/null 2>&1 # not made yet: empty
	is "$(S "SELECT (SELECT count(*) FROM src) + (SELECT count(*) FROM src_archive)")" "$SRC_ALL" "$label: I1 src + archive = $SRC_ALL"
	is "$(S "SELECT (SELECT count(*) FROM psrc) + (SELECT count(*) FROM psrc_archive)")" "$PSRC_ALL" "$label: I1 psrc + archive = $PSRC_ALL"
	is "$(S "SELECT (SELECT count(*) FROM dset) + (SELECT coalesce(sum((xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1]::text::int), 0)
	            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'Old Data' AND c.relkind = 'r')")" \
		"$DSET_ALL" "$label: I1 dset + detached = $DSET_ALL"
	is "$(S "SELECT count(*) FROM pm")" "$PM_ALL" "$label: I1 pm keeps its $PM_ALL rows"
	is "$(S "SELECT (SELECT count(*) FROM src s JOIN src_archive a USING (id)) + (SELECT count(*) FROM psrc s JOIN psrc_archive a USING (id))")" 0 \
		"$label: I2 no row in a source and its archive"
	bad=$(S "SELECT string_agg(object || ': ' || detail, '; ') FROM upkeep.verify_backup_integrity() WHERE check_name IN ('archive_manifest', 'partition_set') AND status = 'failed'")
	is "$bad" "" "$label: I3 manifests match, partition sets have no gap"
	is "$(S "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	           WHERE c.relkind = 'r' AND n.nspname = 'public' AND c.relname ~ '^(psrc|psrc_archive|dset|pm)_[0-9]{4}_[0-9]{2}$' AND NOT c.relispartition")" 0 \
		"$label: I4 no month table left detached outside its set"
	is "$(S "SELECT count(*) FROM pm_default d WHERE EXISTS (SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	           WHERE i.inhparent = 'pm'::regclass AND c.relname = 'pm_' || to_char(d.at, 'YYYY_MM'))")" 0 \
		"$label: I5 no row in DEFAULT for a month that has its partition"
}

# run_round POINT MODE NTH: in a fresh copy of the backlog, a CALL stopped at the point's NTH hit by
# MODE (kill | cancel | terminate); then the invariants; then a clean run that must finish the job
run_round() {
	local point=$1 mode=$2 nth=$3 app="victim_${point}_$mode" pid
	DB="r_$(echo "$point" | tr '-' '_')_$mode"
	sql "CREATE DATABASE $DB TEMPLATE tmpl" >/dev/null
	if [ "$mode" = kill ]; then
		psql_at "$PORT" -At -d "dbname=$DB application_name=$app" -c "SET upkeep.fault_points = '$point:kill:$nth'" \
			-c "CALL upkeep.run_maintenance()" >/dev/null 2>&1
		# 18 names the kind of process: "client backend (PID n) was terminated" (before: "server process")
		if grep -qE "(server process|client backend) \(PID [0-9]+\) was terminated by signal 9" "$DATA/server.log" &&
			[ "$(grep -c "terminated by signal 9" "$DATA/server.log")" -gt "$KILLS" ]; then
			KILLS=$((KILLS + 1))
			ok "$point/$mode: the run was killed at the point"
		else
			not_ok "$point/$mode: the run never reached the point"
		fi
		check "$point/$mode: the server is back" wait_ready
	else
		# a session holding the point's lock keeps the run waiting there
		psql_at "$PORT" -At -d "dbname=$DB application_name=holder" -c "SELECT pg_advisory_lock(1431325510, hashtext('$point'))" \
			-c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
		local holder=$!
		BG_PIDS+=($holder)
		WAIT_DB=$DB wait_until 10 "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = 1431325510 AND granted)" || true
		psql_at "$PORT" -At -d "dbname=$DB application_name=$app" -c "SET upkeep.fault_points = '$point:wait:$nth'" \
			-c "CALL upkeep.run_maintenance()" >/dev/null 2>&1 &
		local caller=$!
		if WAIT_DB=$DB wait_until 30 "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = '$app' AND wait_event_type = 'Lock')"; then
			pid=$(S "SELECT pid FROM pg_stat_activity WHERE application_name = '$app'")
			if [ "$mode" = cancel ]; then S "SELECT pg_cancel_backend($pid)" >/dev/null; else S "SELECT pg_terminate_backend($pid)" >/dev/null; fi
			ok "$point/$mode: the run reached the point and was stopped there"
		else
			not_ok "$point/$mode: the run never reached the point"
		fi
		wait "$caller" 2>/dev/null
		S "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'holder'" >/dev/null
		wait "$holder" 2>/dev/null
	fi
	invariants "$point/$mode"
	# the next run marks the interrupted one failed and finishes every job
	is "$(sql_state -d "$DB" "CALL upkeep.run_maintenance()")" ok "$point/$mode: a clean run after it"
	invariants "$point/$mode, after a clean run"
	is "$(S "SELECT (SELECT count(*) FROM upkeep.run_log WHERE status = 'running')
	          + (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = x'55504B50'::int::oid)
	          + (SELECT count(*) FROM src WHERE at < now() - interval '60 days 1 minute')
	          + (SELECT count(*) FROM logs WHERE at < now() - interval '60 days 1 minute')
	          + (SELECT count(*) FROM pm_default)")" 0 \
		"$point/$mode: I6 nothing 'running', no run lock held, every expired row archived or deleted, DEFAULT empty"
	sql "DROP DATABASE $DB" >/dev/null
}

KILLS=$(grep -c "terminated by signal 9" "$DATA/server.log")
POINTS="table-setup batch-start cleanup-after-select archive-before-delete archive-after-insert batch-before-commit commit
partition-between-detach-attach retention-between-detach-move partition-between-create-attach"
for point in $POINTS; do
	nth=2
	case "$point" in partition-between-*|retention-between-*) nth=1 ;; esac
	for mode in kill cancel terminate; do
		run_round "$point" "$mode" "$nth"
	done
done
check "the interrupted runs were recorded as failed by the next run" test "$KILLS" -ge 10
finish
