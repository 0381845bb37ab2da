#!/usr/bin/env bash
# Citus 14.5 (and 14.4 for partition moves): the archive pg_upkeep creates for a
# distributed source is distributed and co-located with it (rows never funnel into
# one node); a distributed partitioned source archives its expired months into it;
# every move is counted and hashed in the manifest, and verify agrees.  A distributed
# archive with a BEFORE INSERT trigger that drops rows: the batch's counts disagree and
# it rolls back (09000), as on a single server -- also when the trigger is on the
# archive's shards only (made with run_command_on_shards), which the coordinator's
# catalog does not show.
. "$(dirname "$0")/lib.sh"
citus_cluster

C "CREATE TABLE ev (id int8 NOT NULL, at timestamptz NOT NULL, note text, PRIMARY KEY (id))" >/dev/null
C "CREATE INDEX ON ev (at)" >/dev/null
C "SELECT create_distributed_table('ev', 'id')" >/dev/null
C "INSERT INTO ev SELECT g, now() - g * interval '1 hour', 'n' || g FROM generate_series(1, 3000) g" >/dev/null
WANT=$(C "SELECT count(*) FROM ev WHERE at < now() - interval '30 days'")
MOVED=$(C "SELECT upkeep.archive_table('ev', older_than => '30 days', time_column => 'at')")
is "$MOVED" "$WANT" "archive_table moved the $WANT expired rows"
is "$(C "SELECT partmethod FROM pg_dist_partition WHERE logicalrelid = 'ev_archive'::regclass")" h \
	"the archive it created is a distributed table"
is "$(C "SELECT a.colocationid = s.colocationid FROM pg_dist_partition a, pg_dist_partition s
          WHERE a.logicalrelid = 'ev_archive'::regclass AND s.logicalrelid = 'ev'::regclass")" t "co-located with the source"
is "$(C "SELECT count(*) FROM ev_archive")" "$WANT" "the archive holds them (on the shards)"
is "$(C "SELECT pg_catalog.pg_relation_size('ev_archive')")" 0 "nothing funnelled into the coordinator"
is "$(C "SELECT sum(row_count) FROM upkeep.archive_manifest WHERE source_name = 'public.ev'")" "$WANT" \
	"the manifest records every row moved"
is "$(C "SELECT string_agg(DISTINCT status, ',') FROM upkeep.verify_backup_integrity() WHERE object LIKE '%ev%'")" ok \
	"verify: the archive's batches check out"

# a distributed partitioned source: months move whole into a distributed, co-located partitioned archive
M0=$(C "SELECT date_trunc('month', now())::date")
C "CREATE TABLE m (at date NOT NULL, v int8 NOT NULL, pad text) PARTITION BY RANGE (at)" >/dev/null
C "SELECT create_distributed_table('m', 'v')" >/dev/null
for k in 6 5 0; do C "SELECT upkeep.create_monthly_partition('m', ('$M0'::date - interval '$k months')::date)" >/dev/null; done
C "INSERT INTO m SELECT ('$M0'::date - interval '6 months')::date + 2, g, 'old6' FROM generate_series(1, 600) g" >/dev/null
C "INSERT INTO m SELECT ('$M0'::date - interval '5 months')::date + 2, g, 'old5' FROM generate_series(1, 500) g" >/dev/null
C "INSERT INTO m SELECT '$M0'::date, g, 'new' FROM generate_series(1, 100) g" >/dev/null
C "SELECT upkeep.set_policy('m', 'at', '4 months', action => 'archive', premake => 0)" >/dev/null
OUT=$(psql_at "$PORT_coord" -d postgres -At -c "SELECT action || ': ' || rows_affected FROM upkeep.cleanup_old_data(tbl => 'm')" 2>&1)
echo "$OUT" | grep -q 'ARCHIVE 2 partitions.*: 1100$' && ok "the archive run moved 2 months, 1100 rows" || not_ok "archive run: $OUT"
is "$(C "SELECT partmethod FROM pg_dist_partition WHERE logicalrelid = 'm_archive'::regclass")" h \
	"the partitioned archive is distributed"
is "$(C "SELECT count(*) FROM m_archive")" 1100 "and holds the 1100 rows"
is "$(C "SELECT count(*) FROM m")" 100 "the source keeps its current month"
is "$(C "SELECT sum(row_count) FROM upkeep.archive_manifest WHERE source_name = 'public.m'")" 1100 \
	"the manifest counts the rows of the moved partitions (from the shards)"
is "$(C "SELECT string_agg(DISTINCT status, ',') FROM upkeep.verify_backup_integrity() WHERE object LIKE '%m_archive%' OR object LIKE 'public.m %' OR object = 'public.m'")" ok \
	"verify agrees"

# a distributed archive with a BEFORE INSERT trigger that drops every other row
C "CREATE TABLE tr (id int8 NOT NULL, at timestamptz NOT NULL, note text, PRIMARY KEY (id))" >/dev/null
C "CREATE INDEX ON tr (at)" >/dev/null
C "SELECT create_distributed_table('tr', 'id')" >/dev/null
C "INSERT INTO tr SELECT g, now() - g * interval '1 hour', 'n' || g FROM generate_series(1, 1000) g" >/dev/null
C "CREATE TABLE tr_archive (LIKE tr, archived_at timestamptz NOT NULL, PRIMARY KEY (id))" >/dev/null
C "SELECT create_distributed_table('tr_archive', 'id', colocate_with => 'tr')" >/dev/null
C "CREATE FUNCTION drop_odd() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN IF NEW.id % 2 = 1 THEN RETURN NULL; END IF; RETURN NEW; END\$\$" >/dev/null
psql_at "$PORT_coord" -d postgres -At -c "SET citus.enable_unsafe_triggers = on" \
	-c "CREATE TRIGGER drop_odd BEFORE INSERT ON tr_archive FOR EACH ROW EXECUTE FUNCTION drop_odd()" >/dev/null 2>&1 ||
	not_ok "CREATE TRIGGER on the distributed archive"
is "$(C "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'tr_archive'::regclass AND tgname = 'drop_odd'")" 1 \
	"the archive has the row-dropping trigger"
TR_WANT=$(C "SELECT count(*) FROM tr WHERE at < now() - interval '30 days'")
is "$(sql_state "SELECT upkeep.archive_table('tr', 'tr_archive', older_than => '30 days', time_column => 'at')")" 09000 \
	"archive_table into it stops with 09000: the archive took fewer rows than the batch removed"
is "$(C "SELECT count(*) FROM tr")" 1000 "the source keeps every row"
is "$(C "SELECT count(*) FROM tr_archive")" 0 "the archive took none (the batch rolled back)"
# the same trigger on the shards only
psql_at "$PORT_coord" -d postgres -At -c "SET citus.enable_unsafe_triggers = on" -c "DROP TRIGGER drop_odd ON tr_archive" >/dev/null
# (Citus created drop_odd() on the worker nodes with the coordinator's CREATE FUNCTION)
is "$(C "SELECT count(*) FROM run_command_on_shards('tr_archive', \$\$CREATE TRIGGER drop_odd BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION public.drop_odd()\$\$) WHERE success")" 4 \
	"a row-dropping trigger made on each of the archive's 4 shards"
is "$(C "SELECT count(*) FROM pg_trigger WHERE tgrelid = 'tr_archive'::regclass AND NOT tgisinternal")" 0 \
	"the coordinator's catalog shows no trigger on the archive"
is "$(sql_state "SELECT upkeep.archive_table('tr', 'tr_archive', older_than => '30 days', time_column => 'at')")" 09000 \
	"archive_table stops with 09000 when the shards' own trigger drops rows"
is "$(C "SELECT (SELECT count(*) FROM tr) || ' ' || (SELECT count(*) FROM tr_archive)")" "1000 0" \
	"the source keeps every row, the archive took none"
is "$(C "SELECT count(*) FROM run_command_on_shards('tr_archive', \$\$DROP TRIGGER drop_odd ON %s\$\$) WHERE success")" 4 \
	"the shards' triggers dropped"
# the same archive without the trigger: every row accounted for
is "$(C "SELECT upkeep.archive_table('tr', 'tr_archive', older_than => '30 days', time_column => 'at')")" "$TR_WANT" \
	"without the trigger archive_table moves the $TR_WANT expired rows"
is "$(C "SELECT (SELECT count(*) FROM tr_archive) || ' ' || (SELECT count(*) FROM tr)")" "$TR_WANT $((1000 - TR_WANT))" \
	"each row is in the archive or in the source, once"
is "$(C "SELECT sum(row_count) FROM upkeep.archive_manifest WHERE source_name = 'public.tr'")" "$TR_WANT" \
	"the manifest records them"
is "$(C "SELECT string_agg(DISTINCT status, ',') FROM upkeep.verify_backup_integrity() WHERE object LIKE '%tr_archive%'")" ok \
	"verify: the archived rows are the rows the manifest hashed"
finish
