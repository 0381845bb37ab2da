#!/usr/bin/env bash
# Cluster test: a trigger that changes rows on their way into the archive, created
# between two batches of a run that commits each batch.  Each batch decides under its
# own lock on the archive how to hash what it moves: from the first batch after the
# trigger appeared it hashes the rows as the archive stored them (the INSERT's
# RETURNING), so every manifest entry matches the archive and verify says ok.  (Decided
# once per run, the later batches hashed the rows as the source held them, and verify
# failed on each of them.)
. "$(dirname "$0")/lib.sh"

new_cluster main
sql "CREATE EXTENSION pg_upkeep;
     CREATE TABLE src (id bigint PRIMARY KEY, at timestamptz NOT NULL, v int NOT NULL DEFAULT 0);
     CREATE INDEX ON src (at);
     INSERT INTO src SELECT g, now() - interval '100 days' + g * interval '1 minute', 0 FROM generate_series(1, 1000) g;
     SELECT relid FROM upkeep.set_policy('src', 'at', '30 days', action => 'archive', batch_size => 100);
     CREATE FUNCTION bump() RETURNS trigger LANGUAGE plpgsql AS \$\$BEGIN NEW.v := NEW.v + 1000; RETURN NEW; END\$\$;" >/dev/null

# a session holds the fault point's lock: the run stops before its second batch, holding no lock
bg "SELECT pg_advisory_lock(1431325510, hashtext('batch-start')); SELECT pg_sleep(120)"
HOLDER=${BG_PIDS[-1]}
check "the holder has the fault point's lock" wait_until 10 \
	"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = 1431325510)"
psql_at "$PORT" -d "dbname=postgres application_name=midrun" -At -c "SET upkeep.fault_points = 'batch-start:wait:2'" \
	-c "CALL upkeep.run_maintenance(tbl => 'src')" >"$T_WORK/run.out" 2>&1 &
RUN=$!
BG_PIDS+=($RUN)
check "the run waits before its second batch" wait_until 30 \
	"SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE application_name = 'midrun' AND wait_event_type = 'Lock')"
is "$(sql "SELECT count(*) FROM src_archive")" 100 "its first batch is committed (100 rows archived)"
# the trigger appears on the archive between the batches
sql "CREATE TRIGGER bump BEFORE INSERT ON src_archive FOR EACH ROW EXECUTE FUNCTION bump()" >/dev/null
kill "$HOLDER" 2>/dev/null
wait "$RUN"
is "$(sql "SELECT status FROM upkeep.run_log WHERE table_name = 'public.src' AND action LIKE 'ARCHIVE%' ORDER BY id DESC LIMIT 1")" ok \
	"the run finished ok"
is "$(sql "SELECT count(*) FROM src WHERE at < now() - interval '30 days'")" 0 "it archived every expired row"
is "$(sql "SELECT count(*) FILTER (WHERE v = 0) || ' ' || count(*) FILTER (WHERE v = 1000) FROM src_archive")" \
	"100 $(($(sql "SELECT count(*) FROM src_archive") - 100))" \
	"the first batch's rows as they were, the later ones changed by the trigger"
is "$(sql "SELECT sum(row_count) FROM upkeep.archive_manifest WHERE source_name = 'public.src'")" \
	"$(sql "SELECT count(*) FROM src_archive")" "the manifest counts every archived row"
is "$(sql "SELECT string_agg(DISTINCT status, ',') FROM upkeep.verify_backup_integrity() WHERE object LIKE '%src_archive%'")" ok \
	"verify: every batch's hash matches what the archive holds"
finish
