#!/usr/bin/env bash
# Cluster test: archival with concurrent writers.
#  - a row updated to a newer time between the batch's planning and its
#    DELETE is neither deleted nor archived (the DELETE re-checks the row);
#  - writers inserting and updating the source during a long archive run:
#    every row ends up in exactly one place, manifests match.
. "$(dirname "$0")/lib.sh"

new_cluster main
sql "CREATE EXTENSION pg_upkeep" >/dev/null
sql "CREATE TABLE src (id bigint PRIMARY KEY, at timestamptz NOT NULL, v int NOT NULL DEFAULT 0);
     CREATE INDEX ON src (at);
     INSERT INTO src SELECT g, now() - interval '100 days' + g * interval '1 second', 0 FROM generate_series(1, 20000) g;" >/dev/null

# session A moves row 500 to a new time and holds its row lock; the archive run must wait for it,
# then see the new version, and leave the row alone
bg "BEGIN; UPDATE src SET at = now() WHERE id = 500; SELECT pg_sleep(1.5); COMMIT;"
sleep 0.3
out=$(sql "SET upkeep.lock_timeout = '10s'; SELECT upkeep.archive_table('src', older_than => '30 days', time_column => 'at', batch_size => 1000)")
is "$out" 19999 "the archive run moved every expired row but the one updated meanwhile"
is "$(sql "SELECT at > now() - interval '1 minute' FROM src WHERE id = 500")" t "row 500 is still in the source, with its new time"
is "$(sql "SELECT count(*) FROM src_archive WHERE id = 500")" 0 "and it was not archived"
is "$(sql "SELECT (SELECT count(*) FROM src) + (SELECT count(*) FROM src_archive)")" 20000 "nothing lost, nothing invented"

# writers during a long procedure run
sql "TRUNCATE src, src_archive; DELETE FROM upkeep.archive_manifest;
     INSERT INTO src SELECT g, now() - interval '100 days' + g * interval '1 second', 0 FROM generate_series(1, 300000) g;
     SELECT relid FROM upkeep.set_policy('src', 'at', '30 days', action => 'archive', batch_size => 500);" >/dev/null
cat > "$T_WORK/writers.sql" <<'SQL'
\set id random(1, 300000)
UPDATE src SET v = v + 1 WHERE id = :id;
INSERT INTO src (id, at) VALUES (1000000 + :client_id * 100000 + :id, now()) ON CONFLICT DO NOTHING;
SQL
chown postgres "$T_WORK/writers.sql"
(cd "$T_WORK" && as_postgres "$PGBIN/pgbench" -n -h "$(cluster_sock "$DATA")" -p "$PORT" -U postgres -c 4 -T 6 -f "$T_WORK/writers.sql" postgres >"$T_WORK/pgbench.out" 2>&1) &
PGB=$!
sleep 0.5
is "$(sql_state "CALL upkeep.run_maintenance()")" ok "the archive run completes while writers work"
wait $PGB
check "the writers did work ($(grep -o 'number of transactions actually processed: [0-9]*' "$T_WORK/pgbench.out" | grep -o '[0-9]*$') transactions)" \
	grep -q "number of failed transactions: 0" "$T_WORK/pgbench.out"
is "$(sql "SELECT count(*) FROM src s JOIN src_archive a USING (id)")" 0 "no row in both"
is "$(sql "SELECT count(*) FROM (SELECT id FROM src WHERE id <= 300000 UNION ALL SELECT id FROM src_archive) u")" 300000 \
	"every original row is in exactly one place"
is "$(sql "SELECT (SELECT sum(row_count) FROM upkeep.archive_manifest) = (SELECT count(*) FROM src_archive)")" t "manifests count every archived row"
is "$(sql "SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE check_name = 'archive_manifest' AND status <> 'ok'")" 0 \
	"every batch's hash matches the archive (updated values were archived as they were)"
finish
