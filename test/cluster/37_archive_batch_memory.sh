#!/usr/bin/env bash
# Cluster test: an archive batch costs no memory beyond PostgreSQL's own
# statement, whatever its size.  The rows of a batch stream out of its one
# statement into the digest, each hashed in a memory context reset after it
# (0.1.0 held every row of a batch in an SPI tuple table: 231 MB for 1.5 M
# rows, on top of the statement).  Measured as the growth of a backend's peak
# RSS (VmHWM) over one batch of 1.1 million rows, side by side with the same
# DELETE ... RETURNING -> INSERT statement run by hand on an identical table.
# shared_buffers is small because peak RSS also counts the shared-buffer
# pages a backend touches.
. "$(dirname "$0")/lib.sh"

new_cluster main "work_mem = '4MB'" "shared_buffers = '16MB'"
sql "CREATE EXTENSION pg_upkeep;
     CREATE TABLE big (id int PRIMARY KEY, at timestamptz NOT NULL, payload text, tags text[]);
     INSERT INTO big SELECT g, now() - interval '400 days', md5(g::text) || md5((g + 1)::text), ARRAY[md5(g::text)]
       FROM generate_series(1, 1100000) g;
     CREATE TABLE plain (LIKE big INCLUDING ALL);
     INSERT INTO plain SELECT * FROM big;
     CREATE TABLE plain_archive (LIKE big INCLUDING ALL, archived_at timestamptz);" >/dev/null
sql "VACUUM ANALYZE big, plain" >/dev/null

hwm="(regexp_match(pg_read_file('/proc/self/status'), 'VmHWM:\s+(\d+)'))[1]::bigint"
# growth of VmHWM (kB) in a fresh session over one statement
hwm_growth() {
	psql_at "$PORT" -At -c "CREATE TEMP TABLE m AS SELECT $hwm AS before" -c "$1" -c "SELECT $hwm - before FROM m" | tail -1
}
plain_kb=$(hwm_growth "WITH moved AS (DELETE FROM ONLY plain RETURNING id, at, payload, tags),
  ins AS (INSERT INTO plain_archive (id, at, payload, tags, archived_at) SELECT id, at, payload, tags, now() FROM moved RETURNING 1)
  SELECT (SELECT count(*) FROM ins), count(*) FROM moved")
ours_kb=$(hwm_growth "SELECT upkeep.archive_table('big', older_than => '30 days', time_column => 'at', batch_size => 2000000)")
echo "# peak RSS growth over 1.1 M rows in one statement: plain SQL ${plain_kb} kB, archive_table batch ${ours_kb} kB"
is "$(sql "SELECT (SELECT count(*) FROM big_archive), (SELECT count(*) FROM big),
             (SELECT sum(row_count) FROM upkeep.archive_manifest WHERE archive = 'big_archive'::regclass),
             (SELECT count(*) FROM upkeep.archive_manifest WHERE archive = 'big_archive'::regclass)" | tr '|' ' ')" \
	"1100000 0 1100000 1" "one batch moved the 1.1 million rows, with one manifest"
lt "$ours_kb" "$((plain_kb + 16384))" "the batch needs at most 16 MB more than PostgreSQL's own statement (${ours_kb} kB vs ${plain_kb} kB)"
is "$(sql "SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE check_name = 'archive_manifest' AND status <> 'ok'")" 0 \
	"the batch verifies against its manifest"
finish
