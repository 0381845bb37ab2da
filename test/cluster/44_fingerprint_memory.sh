#!/usr/bin/env bash
# Cluster test: fingerprints and manifest checks hash any number of rows in
# flat memory.
#
# Values without a binary encoding (composites, ranges, xml, hstore, arrays
# of those) are hashed through their output functions, which allocate as they
# go; the scan must free that memory row by row.  Measured as the growth of
# the backend's peak resident set (VmHWM in /proc/<pid>/status) across one
# table_fingerprint() and one verify_backup_integrity(), for a table and an
# archive of N rows and of 10 N rows: the growth must not follow the row
# count.  The tables are read once first in the same session, without
# parallel workers, so shared buffers mapped by the scan do not count
# (shared_buffers is large enough to hold them without a ring buffer).  The
# old code grew by ~7 kB a row; the margin (8 MB over 180000 more rows)
# catches anything above ~45 bytes a row.
. "$(dirname "$0")/lib.sh"

SMALL=${SMALL:-20000}
new_cluster main "shared_buffers = 1GB"

# fill DB ROWS: a table with only text-output columns, and an archive of the same rows
fill() {
	local db=$1 rows=$2
	sql "CREATE DATABASE $db TEMPLATE template0" >/dev/null
	sql -d "$db" "CREATE EXTENSION pg_upkeep; CREATE EXTENSION hstore;
	    CREATE TYPE pair AS (a int, b text); CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
	    CREATE TABLE wide (id bigint PRIMARY KEY, at timestamptz NOT NULL, p pair, ps pair[], r tstzrange, x xml, h hstore,
	                       moods mood[], iv interval, nums numrange[]);
	    INSERT INTO wide SELECT g, now() - interval '400 days' + g * interval '1 second', ROW(g, 'pair ' || g)::pair,
	                            ARRAY[ROW(g, 'a')::pair, ROW(-g, 'b')::pair],
	                            tstzrange(now() - g * interval '1 minute', now()), ('<r n=\"' || g || '\">' || md5(g::text) || '</r>')::xml,
	                            hstore(ARRAY['k' || g, 'v' || g, 'w', md5(g::text)]), ARRAY['sad', 'happy']::mood[], g * interval '1 second',
	                            ARRAY[numrange(g, g + 1), numrange(-g, 0)]
	                       FROM generate_series(1, $rows) g;
	    CREATE TABLE gone (LIKE wide INCLUDING ALL);
	    INSERT INTO gone SELECT * FROM wide;
	    SELECT relid FROM upkeep.set_policy('gone', 'at', '30 days', action => 'archive', batch_size => 50000);" >/dev/null
	sql -d "$db" "CALL upkeep.run_maintenance()" >/dev/null 2>&1
	is "$(sql -d "$db" "SELECT count(*) FROM gone_archive")" "$rows" "$db: $rows rows archived"
}

# peak_growth DB QUERY: kB the backend's VmHWM grows by while running QUERY (after reading the tables once)
hwm="SELECT (regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\\s+(\\d+)'))[1]"
peak_growth() {
	local out
	out=$(psql_at "$PORT" -d "$1" -At -c "SET max_parallel_workers_per_gather = 0" -c "SELECT count(*) FROM wide" -c "SELECT count(*) FROM gone_archive" \
		-c "SELECT count(*) FROM (SELECT * FROM upkeep.table_fingerprint('pg_class')) s" -c "$hwm" -c "$2" -c "$hwm")
	local before after
	before=$(echo "$out" | sed -n 4p)
	after=$(echo "$out" | sed -n 6p)
	[ -n "$before" ] && [ -n "$after" ] || { echo 999999999; return; }
	echo $((after - before))
}

fill small "$SMALL"
fill big "$((SMALL * 10))"

fp_small=$(peak_growth small "SELECT row_count FROM upkeep.table_fingerprint('wide')")
fp_big=$(peak_growth big "SELECT row_count FROM upkeep.table_fingerprint('wide')")
echo "# table_fingerprint: peak grew $fp_small kB for $SMALL rows, $fp_big kB for $((SMALL * 10)) rows"
lt "$fp_big" "$((fp_small + 8192))" "table_fingerprint: memory does not grow with the rows (+$fp_small kB, then +$fp_big kB for 10x)"

v_small=$(peak_growth small "SELECT count(*) FROM upkeep.verify_backup_integrity()")
v_big=$(peak_growth big "SELECT count(*) FROM upkeep.verify_backup_integrity()")
echo "# verify_backup_integrity (archive manifests): peak grew $v_small kB for $SMALL rows, $v_big kB for $((SMALL * 10)) rows"
lt "$v_big" "$((v_small + 8192))" "verify_backup_integrity: memory does not grow with the archive (+$v_small kB, then +$v_big kB for 10x)"
is "$(sql -d big "SELECT status FROM upkeep.verify_backup_integrity() WHERE check_name = 'archive_manifest'")" ok "big: the manifests match"

finish
