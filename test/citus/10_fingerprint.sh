#!/usr/bin/env bash
# Citus 14.1: a fingerprint covers every row of every shard.  table_fingerprint(),
# snapshot_fingerprints() and verify_backup_integrity()'s fingerprint check on
# distributed and reference tables equal the same rows' fingerprint in a plain
# table; fingerprint_agg is pushed down to the shards and combined.
. "$(dirname "$0")/lib.sh"
citus_cluster

C "CREATE TABLE events (id int8 NOT NULL, at timestamptz NOT NULL, note text, span interval, tags text[])" >/dev/null
C "SELECT create_distributed_table('events', 'id')" >/dev/null
C "INSERT INTO events SELECT g, '2026-01-01'::timestamptz + g * interval '1 minute', 'n' || g,
     g * interval '1 second', ARRAY['a' || g % 7] FROM generate_series(1, 300000) g" >/dev/null
C "CREATE TABLE plain_copy AS SELECT * FROM events" >/dev/null
C "SELECT undistribute_table('plain_copy')" >/dev/null 2>&1 || true
is "$(C "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid = 'plain_copy'::regclass")" 0 "the copy is a plain local table"
is "$(C "SELECT pg_catalog.pg_relation_size('events')")" 0 "the coordinator's shell relation is empty (the rows are on the shards)"

want=$(C "SELECT row_count || ' ' || fingerprint FROM upkeep.table_fingerprint('plain_copy')")
is "$(echo "$want" | cut -d' ' -f1)" 300000 "plain copy: 300000 rows"
is "$(C "SELECT row_count || ' ' || fingerprint FROM upkeep.table_fingerprint('events')")" "$want" \
	"table_fingerprint(distributed table) = the same rows' fingerprint in a plain table"
# fingerprint_agg itself is not pushed down: Citus checks a custom aggregate's argument types
# exactly and the aggregate takes VARIADIC "any".  sum(upkeep.row_hash(t)) is the distributed form.
is "$(C "SELECT count(*) || ' ' || upkeep.fingerprint_agg(e) FROM (SELECT * FROM events OFFSET 0) e")" "$want" \
	"fingerprint_agg over the rows gathered on the coordinator = the plain table's"
plan=$(C "EXPLAIN (VERBOSE, COSTS OFF) SELECT count(*), sum(upkeep.row_hash(e)) FROM events e")
echo "$plan" | grep -q 'Task Count: 4' && echo "$plan" | grep -qi 'sum(upkeep.row_hash(' &&
	ok "count(*) and sum(upkeep.row_hash(t)) run on every shard (4 tasks, sum pushed down)" ||
	not_ok "row_hash sum pushed down to the shards (plan: $(echo "$plan" | tr '\n' ' '))"

# a worker node's settings do not change the hash (text-output columns: interval, text[])
for p in "$PORT_w1" "$PORT_w2"; do
	sql -p "$p" "ALTER SYSTEM SET DateStyle = 'German'" >/dev/null
	sql -p "$p" "ALTER SYSTEM SET IntervalStyle = 'sql_standard'" >/dev/null
	sql -p "$p" "SELECT pg_reload_conf()" >/dev/null
done
is "$(C "SELECT row_count || ' ' || fingerprint FROM upkeep.table_fingerprint('events')")" "$want" \
	"worker nodes with another DateStyle/IntervalStyle: the same fingerprint"

# a column named like the query's row alias (t) is a column, not the row: the fingerprint is still the row's
C "CREATE TABLE odd (id int8 NOT NULL, t text, v int)" >/dev/null
C "SELECT create_distributed_table('odd', 'id')" >/dev/null
C "INSERT INTO odd SELECT g, 'x' || g, g FROM generate_series(1, 1000) g" >/dev/null
C "CREATE TABLE odd_plain AS SELECT * FROM odd" >/dev/null
is "$(C "SELECT row_count || ' ' || fingerprint FROM upkeep.table_fingerprint('odd')")" \
	"$(C "SELECT row_count || ' ' || fingerprint FROM upkeep.table_fingerprint('odd_plain')")" \
	"a distributed table with a column named t: the same fingerprint as its plain copy"

# reference table
C "CREATE TABLE ref (k int PRIMARY KEY, v text)" >/dev/null
C "SELECT create_reference_table('ref')" >/dev/null
C "INSERT INTO ref SELECT g, md5(g::text) FROM generate_series(1, 5000) g" >/dev/null
C "CREATE TABLE ref_plain AS SELECT * FROM ref" >/dev/null
is "$(C "SELECT row_count || ' ' || fingerprint FROM upkeep.table_fingerprint('ref')")" \
	"$(C "SELECT row_count || ' ' || fingerprint FROM upkeep.table_fingerprint('ref_plain')")" \
	"table_fingerprint(reference table) = the same rows in a plain table"

# a changed row is seen: snapshot, change one row on a shard, verify fails
C "SELECT upkeep.set_policy('events', 'at', '100 years')" >/dev/null || not_ok "set_policy on the distributed table"
C "SELECT count(*) FROM upkeep.snapshot_fingerprints()" >/dev/null
is "$(C "SELECT row_count FROM upkeep.fingerprint WHERE table_name = 'public.events' ORDER BY id DESC LIMIT 1")" 300000 \
	"snapshot_fingerprints stored 300000 rows for the distributed table"
is "$(C "SELECT status FROM upkeep.verify_backup_integrity() WHERE check_name = 'fingerprint' AND object = 'public.events'")" ok \
	"verify: fingerprint ok before the change"
C "UPDATE events SET note = 'changed' WHERE id = 4242" >/dev/null
is "$(C "SELECT status FROM upkeep.verify_backup_integrity() WHERE check_name = 'fingerprint' AND object = 'public.events'")" failed \
	"verify: a row changed on a shard fails the fingerprint check"

finish
