#!/usr/bin/env bash
# Citus 14.7: a distributed table with neither an index on its time column nor a
# single-column integer key is still maintained -- in time slices, each one scanned
# shard by shard -- deleting and archiving exactly the expired rows.
. "$(dirname "$0")/lib.sh"
citus_cluster

C "CREATE TABLE ev (tenant text NOT NULL, seq int NOT NULL, at timestamptz NOT NULL, PRIMARY KEY (tenant, seq))" >/dev/null
C "SELECT create_distributed_table('ev', 'tenant')" >/dev/null
C "INSERT INTO ev SELECT 't' || (g % 17), g, now() - (g % 100) * interval '1 day' FROM generate_series(1, 20000) g" >/dev/null
WANT_KEEP=$(C "SELECT count(*) FROM ev WHERE at >= now() - interval '30 days'")
C "SELECT upkeep.set_policy('ev', 'at', '30 days', batch_size => 1000)" >/dev/null
C "SELECT count(*) FROM upkeep.cleanup_old_data(tbl => 'ev')" >/dev/null
is "$(C "SELECT status FROM upkeep.run_log WHERE relid = 'ev'::regclass ORDER BY id DESC LIMIT 1")" ok \
	"retention ran (no 'no safe batching')"
C "SELECT message FROM upkeep.run_log WHERE relid = 'ev'::regclass ORDER BY id DESC LIMIT 1" | grep -q 'time slices without an index (distributed' &&
	ok "by time slices, and says why (no index: each batch scans every shard)" ||
	not_ok "message: $(C "SELECT message FROM upkeep.run_log WHERE relid = 'ev'::regclass ORDER BY id DESC LIMIT 1")"
is "$(C "SELECT count(*) FROM ev WHERE at < now() - interval '30 days'")" 0 "every expired row deleted"
is "$(C "SELECT count(*) FROM ev")" "$WANT_KEEP" "every other row kept"
lt 1 "$(C "SELECT batches FROM upkeep.run_log WHERE relid = 'ev'::regclass ORDER BY id DESC LIMIT 1")" "in several batches"

# archive the same way
C "INSERT INTO ev SELECT 'u' || (g % 13), g, now() - (g % 100) * interval '1 day' FROM generate_series(1, 5000) g" >/dev/null
WANT=$(C "SELECT count(*) FROM ev WHERE at < now() - interval '30 days'")
is "$(C "SELECT upkeep.archive_table('ev', older_than => '30 days', batch_size => 700)")" "$WANT" "archive_table moved the $WANT expired rows"
is "$(C "SELECT count(*) FROM ev_archive")" "$WANT" "all of them are in the archive"
is "$(C "SELECT sum(row_count) FROM upkeep.archive_manifest WHERE source_name = 'public.ev'")" "$WANT" "and in the manifest"
finish
