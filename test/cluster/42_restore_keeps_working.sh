#!/usr/bin/env bash
# Cluster test: a database restored with pg_dump/pg_restore keeps working.
#
# The configuration tables (policy, archive_manifest, fingerprint) are dumped
# with their rows; the sequences that number their rows (and upkeep.run_id_seq,
# which numbers runs) must come back where they were, or the next archive
# batch or snapshot collides with a restored primary key (23505) and run ids
# in manifests repeat.  Every entry point is run on the restored copy: of a
# fresh 0.2.0 install, and of a 0.1.0 install updated to 0.2.0.
. "$(dirname "$0")/lib.sh"

new_cluster main
sql "CREATE EXTENSION amcheck" >/dev/null

# setup DB [VERSION]: a database with an archive policy that has run, a
# partitioned drop policy and two rounds of fingerprints
setup() {
	local db=$1 version=${2:-}
	sql "CREATE DATABASE $db" >/dev/null
	if [ -n "$version" ]; then
		sql -d "$db" "CREATE EXTENSION pg_upkeep VERSION '$version'" >/dev/null
		sql -d "$db" "ALTER EXTENSION pg_upkeep UPDATE" >/dev/null
	else
		sql -d "$db" "CREATE EXTENSION pg_upkeep" >/dev/null
	fi
	sql -d "$db" "CREATE EXTENSION amcheck;
	    CREATE TABLE logs (id bigint PRIMARY KEY, at timestamptz NOT NULL, msg text);
	    INSERT INTO logs SELECT g, now() - g * interval '1 hour', 'message ' || g FROM generate_series(1, 3000) g;
	    SELECT relid FROM upkeep.set_policy('logs', 'at', '60 days', action => 'archive', batch_size => 300);
	    CREATE TABLE events (id bigint, at date NOT NULL) PARTITION BY RANGE (at);
	    SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('events', (current_date - g * 30)::date)
	                            FROM generate_series(0, 3) g) s;
	    INSERT INTO events SELECT g, current_date - (g % 90) FROM generate_series(1, 900) g;
	    SELECT relid FROM upkeep.set_policy('events', retain => '1 year');
	    CREATE TABLE other (id bigint PRIMARY KEY, at timestamptz NOT NULL);
	    INSERT INTO other SELECT g, now() - g * interval '1 day' FROM generate_series(1, 200) g;" >/dev/null
	sql -d "$db" "CALL upkeep.run_maintenance()" >/dev/null 2>&1
	sql -d "$db" "SELECT count(*) FROM upkeep.snapshot_fingerprints()" >/dev/null
	sql -d "$db" "SELECT count(*) FROM upkeep.snapshot_fingerprints()" >/dev/null
}

# dump_restore FROM TO
dump_restore() {
	local dump="$T_WORK/$1.dump"
	as_postgres "$PGBIN/pg_dump" -h "$(cluster_sock "$DATA")" -p "$PORT" -U postgres -Fc -f "$dump" "$1"
	sql "CREATE DATABASE $2" >/dev/null
	as_postgres "$PGBIN/pg_restore" -h "$(cluster_sock "$DATA")" -p "$PORT" -U postgres -d "$2" "$dump" 2>"$T_WORK/$2.err"
	check "$2: pg_restore ran without errors" test ! -s "$T_WORK/$2.err"
}

# exercise DB ORIGINAL: every entry point works on the restored copy DB
exercise() {
	local db=$1 orig=$2
	is "$(sql -d "$db" "SELECT count(*) FROM upkeep.archive_manifest")" \
		"$(sql -d "$orig" "SELECT count(*) FROM upkeep.archive_manifest")" "$db: manifests came back"
	local max_run max_manifest max_fp
	max_run=$(sql -d "$orig" "SELECT max(run_id) FROM upkeep.archive_manifest")
	max_manifest=$(sql -d "$orig" "SELECT max(id) FROM upkeep.archive_manifest")
	max_fp=$(sql -d "$orig" "SELECT max(id) FROM upkeep.fingerprint")
	check "$db: the original archived in batches (several manifests)" test "$max_manifest" -gt 1

	# archive run (the path the README advertises): new expired rows, a new batch
	sql -d "$db" "INSERT INTO logs SELECT g, now() - interval '100 days', 'late ' || g FROM generate_series(100001, 100500) g" >/dev/null
	is "$(sql_state -d "$db" "CALL upkeep.run_maintenance()")" ok "$db: run_maintenance() runs"
	is "$(sql -d "$db" "SELECT string_agg(DISTINCT status, ',') FROM upkeep.run_log")" ok "$db: every run_log row is ok"
	is "$(sql -d "$db" "SELECT count(*) FROM logs WHERE id > 100000")" 0 "$db: the archive run moved the new rows"
	is "$(sql -d "$db" "SELECT count(*) FROM logs_archive WHERE id > 100000")" 500 "$db: ... into the archive"
	is "$(sql -d "$db" "SELECT count(*) >= 2 AND sum(row_count) >= 500 FROM upkeep.archive_manifest WHERE id > $max_manifest")" t \
		"$db: new manifests numbered after the restored ones"
	is "$(sql -d "$db" "SELECT count(*) FROM upkeep.archive_manifest WHERE id > $max_manifest AND run_id <= $max_run")" 0 \
		"$db: new run ids do not repeat the restored ones"
	# archive_table, directly
	sql -d "$db" "INSERT INTO logs SELECT g, now() - interval '100 days', 'later ' || g FROM generate_series(200001, 200100) g" >/dev/null
	is "$(sql_state -d "$db" "SELECT upkeep.archive_table('logs', older_than => '60 days')")" ok "$db: archive_table() runs"
	is "$(sql -d "$db" "SELECT count(*) FROM logs_archive WHERE id > 200000")" 100 "$db: archive_table() moved the rows"
	# retention on the caller's transaction
	sql -d "$db" "INSERT INTO logs SELECT g, now() - interval '100 days', 'last ' || g FROM generate_series(300001, 300050) g" >/dev/null
	is "$(sql_state -d "$db" "SELECT count(*) FROM upkeep.cleanup_old_data()")" ok "$db: cleanup_old_data() runs"
	is "$(sql -d "$db" "SELECT count(*) FROM logs WHERE id > 300000")" 0 "$db: cleanup_old_data() archived the rows"
	# fingerprints
	is "$(sql_state -d "$db" "SELECT count(*) FROM upkeep.snapshot_fingerprints()")" ok "$db: snapshot_fingerprints() runs"
	is "$(sql -d "$db" "SELECT count(*) FROM upkeep.fingerprint WHERE id > $max_fp")" 3 \
		"$db: new fingerprints numbered after the restored ones"
	is "$(sql_state -d "$db" "SELECT * FROM upkeep.table_fingerprint('other')")" ok "$db: table_fingerprint() runs"
	is "$(sql -d "$db" "SELECT string_agg(check_name || ':' || object || ':' || detail, '; ') FROM upkeep.verify_backup_integrity()
	                    WHERE status = 'failed'")" "" "$db: verify_backup_integrity() finds nothing failed"
	# policies and partitions
	is "$(sql_state -d "$db" "SELECT relid FROM upkeep.set_policy('other', 'at', '30 days')")" ok "$db: set_policy() runs"
	is "$(sql_state -d "$db" "SELECT upkeep.create_monthly_partition('events', (current_date + 120)::date)")" ok \
		"$db: create_monthly_partition() runs"
	is "$(sql_state -d "$db" "CALL upkeep.run_maintenance()")" ok "$db: run_maintenance() with the new policy runs"
	is "$(sql -d "$db" "SELECT count(*) FILTER (WHERE at < now() - interval '30 days') || ' ' || count(*) FROM other")" "0 29" \
		"$db: the new policy deleted the expired rows"
	is "$(sql_state -d "$db" "SELECT upkeep.drop_policy('other')")" ok "$db: drop_policy() runs"
	is "$(sql_state -d "$db" "SELECT count(*) FROM upkeep.status")" ok "$db: upkeep.status reads"
}

setup fresh
dump_restore fresh fresh_restored
exercise fresh_restored fresh

# an installation updated from 0.1.0 must be dumped the same way
setup updated 0.1.0
extconfig="SELECT string_agg(c::regclass::text, ',' ORDER BY c::regclass::text) FROM pg_extension, unnest(extconfig) c
            WHERE extname = 'pg_upkeep'"
is "$(sql -d updated "$extconfig")" "$(sql -d fresh "$extconfig")" "updated: the same configuration objects as a fresh install"
dump_restore updated updated_restored
exercise updated_restored updated

# a restore of a restore keeps the counters too
dump_restore fresh_restored twice_restored
sql -d twice_restored "INSERT INTO logs SELECT g, now() - interval '100 days', 'x' FROM generate_series(400001, 400010) g" >/dev/null
is "$(sql_state -d twice_restored "CALL upkeep.run_maintenance()")" ok "twice_restored: run_maintenance() runs"
is "$(sql_state -d twice_restored "SELECT count(*) FROM upkeep.snapshot_fingerprints()")" ok "twice_restored: snapshot_fingerprints() runs"
finish
