#!/usr/bin/env bash
# Cluster test: backups and restores proven from SQL.
#  - pg_dump/pg_restore into a new database, and a pg_basebackup restored as
#    a second cluster: table fingerprints are equal to the original's and
#    verify_backup_integrity() is clean (the configuration travelled along);
#  - a restore missing rows fails the fingerprint check, naming the table;
#  - WAL archiving: healthy archive_command -> ok, failing one -> failed;
#  - an UNLOGGED managed table: pg_dump carries its rows (ok), a physical
#    backup and crash recovery leave it empty -- 'warning', not comparable,
#    never 'failed'.
. "$(dirname "$0")/lib.sh"

ARCHIVE_DIR="$T_WORK/wal_archive"
mkdir -p "$ARCHIVE_DIR" && chown postgres:postgres "$ARCHIVE_DIR"
new_cluster main "wal_level = replica" "max_wal_senders = 4" "archive_mode = on" \
	"archive_command = 'test ! -f $ARCHIVE_DIR/%f && cp %p $ARCHIVE_DIR/%f'"
sql "CREATE EXTENSION pg_upkeep; CREATE EXTENSION amcheck;" >/dev/null
sql "CREATE TABLE logs (id bigint PRIMARY KEY, at timestamptz NOT NULL, msg text, big text, tags text[], meta jsonb);
     INSERT INTO logs SELECT g, now() - g * interval '10 minutes', 'message ' || g,
            CASE WHEN g % 100 = 0 THEN repeat(md5(g::text), 400) END, ARRAY['a' || g % 7], jsonb_build_object('n', g)
       FROM generate_series(1, 60000) g;
     SELECT relid FROM upkeep.set_policy('logs', 'at', '200 days', action => 'archive', batch_size => 2000);
     CREATE TABLE events (id bigint, at date NOT NULL, v numeric) PARTITION BY RANGE (at);
     SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('events', (current_date - g * 30)::date) FROM generate_series(0, 5) g) s;
     INSERT INTO events SELECT g, current_date - (g % 150), g / 3.0 FROM generate_series(1, 30000) g;
     SELECT relid FROM upkeep.set_policy('events', retain => '1 year');
     CREATE UNLOGGED TABLE scratch (id bigint PRIMARY KEY, at timestamptz NOT NULL, note text);
     INSERT INTO scratch SELECT g, now() - g * interval '1 minute', 'note ' || g FROM generate_series(1, 5000) g;
     SELECT relid FROM upkeep.set_policy('scratch', 'at', '1 year');" >/dev/null
sql "CALL upkeep.run_maintenance()" >/dev/null 2>&1
check "the archive run moved rows" test "$(sql "SELECT count(*) FROM logs_archive")" -gt 0
sql "SELECT count(*) FROM upkeep.snapshot_fingerprints()" >/dev/null
fp_orig=$(sql "SELECT string_agg(table_name || '=' || row_count || ':' || fingerprint, ' ' ORDER BY table_name) FROM upkeep.fingerprint")
fp_logged=$(sql "SELECT string_agg(table_name || '=' || row_count || ':' || fingerprint, ' ' ORDER BY table_name) FROM upkeep.fingerprint
                 WHERE table_name <> 'public.scratch'")
bad=$(sql "SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE status = 'failed'")
is "$bad" 0 "the original verifies clean"

# ---- WAL archiving health
sql "SELECT pg_switch_wal()" >/dev/null
check "a WAL segment reaches the archive" wait_until 20 "SELECT archived_count > 0 FROM pg_stat_archiver"
is "$(sql "SELECT status FROM upkeep.verify_backup_integrity() WHERE check_name = 'wal_archiving'")" ok "WAL archiving is healthy"

# ---- pg_dump / pg_restore into a new database
DUMP="$T_WORK/upkeep.dump"
as_postgres "$PGBIN/pg_dump" -h "$(cluster_sock "$DATA")" -p "$PORT" -U postgres -Fc -f "$DUMP" postgres
sql "CREATE DATABASE restored" >/dev/null
as_postgres "$PGBIN/pg_restore" -h "$(cluster_sock "$DATA")" -p "$PORT" -U postgres -d restored "$DUMP" 2>"$T_WORK/restore.err"
check "pg_restore ran without errors" test ! -s "$T_WORK/restore.err"
is "$(sql -d restored "SELECT count(*) FROM upkeep.policy")" 3 "policies came back with the dump"
is "$(sql -d restored "SELECT count(*) FROM upkeep.archive_manifest") " "$(sql "SELECT count(*) FROM upkeep.archive_manifest") " "manifests came back"
now_restored=$(sql -d restored "SELECT string_agg(f.table_name || '=' || t.row_count || ':' || t.fingerprint, ' ' ORDER BY f.table_name)
                                FROM (SELECT DISTINCT table_name FROM upkeep.fingerprint) f, upkeep.table_fingerprint(f.table_name::regclass) t")
is "$now_restored" "$fp_orig" "pg_restore: every table's fingerprint equals the original's"
is "$(sql -d restored "SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE status = 'failed'")" 0 "pg_restore: verify_backup_integrity() is clean"
is "$(sql -d restored "SELECT string_agg(DISTINCT status, ',') FROM upkeep.verify_backup_integrity() WHERE check_name IN ('fingerprint', 'archive_manifest')")" \
	ok "pg_restore: fingerprints and manifests all ok"

# a restore that lost rows is caught and the table named
sql -d restored "DELETE FROM logs WHERE id IN (SELECT id FROM logs ORDER BY id LIMIT 3)" >/dev/null
is "$(sql -d restored "SELECT object || ' ' || status FROM upkeep.verify_backup_integrity() WHERE check_name = 'fingerprint' AND status <> 'ok'")" \
	"public.logs failed" "a restore missing rows fails the fingerprint check for that table"
# a restore that lost an archived row fails the manifest check, naming the archive
sql -d restored "DELETE FROM logs_archive WHERE id = (SELECT max(id) FROM logs_archive)" >/dev/null
is "$(sql -d restored "SELECT object || ' ' || status FROM upkeep.verify_backup_integrity() WHERE check_name = 'archive_manifest'")" \
	"public.logs_archive failed" "a lost archived row fails the manifest check"

# ---- pg_basebackup, restored as a second cluster
BB="$T_WORK/basebackup/data"
mkdir -p "$(dirname "$BB")" "$T_WORK/basebackup/sock" && chown -R postgres:postgres "$T_WORK/basebackup"
as_postgres "$PGBIN/pg_basebackup" -h "$(cluster_sock "$DATA")" -p "$PORT" -U postgres -D "$BB" -X stream -c fast
check "pg_basebackup took a backup" test -f "$BB/PG_VERSION"
BBPORT=$(free_port)
as_postgres sed -i -e "s/^port = .*/port = $BBPORT/" -e "s|^unix_socket_directories = .*|unix_socket_directories = '$T_WORK/basebackup/sock'|" \
	-e "s/^archive_mode = .*/archive_mode = off/" "$BB/postgresql.conf"
register_cluster "$BB" "$BBPORT"
cluster_start "$BB" && CLUSTERS+=("$BB")
now_bb=$(sql -p "$BBPORT" "SELECT string_agg(f.table_name || '=' || t.row_count || ':' || t.fingerprint, ' ' ORDER BY f.table_name)
                           FROM (SELECT DISTINCT table_name FROM upkeep.fingerprint WHERE table_name <> 'public.scratch') f,
                                upkeep.table_fingerprint(f.table_name::regclass) t")
is "$now_bb" "$fp_logged" "pg_basebackup: every logged table's fingerprint equals the original's"
is "$(sql -p "$BBPORT" "SELECT count(*) FROM scratch")" 0 "pg_basebackup: the unlogged table came back empty"
is "$(sql -p "$BBPORT" "SELECT string_agg(check_name || ':' || object || ':' || detail, '; ') FROM upkeep.verify_backup_integrity() WHERE status = 'failed'")" \
	"" "pg_basebackup: verify_backup_integrity() is clean"
is "$(sql -p "$BBPORT" "SELECT status || ' ' || (detail ~ '^not comparable: .*UNLOGGED') FROM upkeep.verify_backup_integrity() WHERE object = 'public.scratch'")" \
	"warning true" "pg_basebackup: the emptied unlogged table is a warning, not comparable"
is "$(sql -p "$BBPORT" "SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE check_name = 'amcheck' AND status = 'ok'")" \
	"$(sql "SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE check_name = 'amcheck' AND status = 'ok'")" \
	"pg_basebackup: every B-tree index passes amcheck"

# ---- a failing archive_command is reported
psql_at "$PORT" -c "ALTER SYSTEM SET archive_command = 'false'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
sql "CREATE TABLE churn AS SELECT g FROM generate_series(1, 1000) g; SELECT pg_switch_wal();" >/dev/null
check "the archiver records a failure" wait_until 30 "SELECT failed_count > 0 FROM pg_stat_archiver"
is "$(sql "SELECT status FROM upkeep.verify_backup_integrity() WHERE check_name = 'wal_archiving'")" failed "a failing archive_command is reported failed"

# ---- crash recovery empties the unlogged table: not comparable, not failed
is "$(sql "SELECT status FROM upkeep.verify_backup_integrity() WHERE object = 'public.scratch'")" ok "before the crash the unlogged table matches"
cluster_stop "$DATA" immediate
cluster_start "$DATA"
is "$(sql "SELECT count(*) FROM scratch")" 0 "crash recovery emptied the unlogged table"
is "$(sql "SELECT status || ' ' || (detail ~ '^not comparable: .*UNLOGGED') FROM upkeep.verify_backup_integrity() WHERE object = 'public.scratch'")" \
	"warning true" "after a crash the unlogged table is a warning, not comparable"
is "$(sql "SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE check_name = 'fingerprint' AND status = 'failed'")" 0 \
	"after a crash no fingerprint fails"

finish
