#!/usr/bin/env bash
# scripts/demo.sh — the README's set-up-and-demo command.
#
# Installs what is missing (apt-get), builds and installs pg_upkeep, starts a
# throwaway PostgreSQL 15 cluster (postgres OS user, temp dir, loopback port,
# pg_upkeep preloaded), walks through every feature on sample data, and stops
# the cluster again.  Nothing outside the temp dir is touched besides the
# packages and `make install`.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
. "$ROOT/scripts/lib/cluster.sh"
if [ "$(id -u)" != 0 ]; then exec sudo -E "$0" "$@"; fi

if [ "${1:-}" = --installed ]; then # the pg_upkeep installed for $PGBIN (scripts/deb.sh test: the .deb)
	echo "== using the installed pg_upkeep ($PGBIN)"
else
	ensure_packages "${UPKEEP_PACKAGES[@]}"
	echo "== building and installing pg_upkeep"
	(cd "$ROOT" && make -s -j2 PG_CONFIG="$PG_CONFIG" >/dev/null && make -s install PG_CONFIG="$PG_CONFIG" >/dev/null)
fi

WORK=$(mktemp -d /tmp/upkeep-demo.XXXXXX)
chmod 755 "$WORK"
chown postgres:postgres "$WORK"
DATA="$WORK/data"
PORT=$(free_port)
trap 'cluster_stop "$DATA" fast; rm -rf "$WORK"' EXIT
cluster_init "$DATA" "$PORT" "shared_preload_libraries = 'pg_upkeep'" "upkeep.naptime = 2" "max_worker_processes = 16"
register_cluster "$DATA" "$PORT"
cluster_start "$DATA"
echo "== throwaway cluster on 127.0.0.1:$PORT ($DATA)"

demo() { # title, then SQL on stdin, echoed
	echo
	echo "---- $1"
	psql_at "$PORT" -d postgres -e -v VERBOSITY=default
}

demo "install" <<'SQL'
CREATE EXTENSION pg_upkeep;
\dx pg_upkeep
SQL

demo "monthly partitions: create a month, idempotently, in the configured zone" <<'SQL'
CREATE TABLE events (id bigint GENERATED ALWAYS AS IDENTITY, at timestamptz NOT NULL, payload text)
  PARTITION BY RANGE (at);
SELECT upkeep.create_monthly_partition('events', date '2024-02-10');
SELECT upkeep.create_monthly_partition('events', date '2024-02-29');   -- same month: same partition
SET timezone = 'America/New_York';                                   -- the caller's zone does not matter
SELECT upkeep.create_monthly_partition('events', date '2024-03-01');
RESET timezone;
SELECT c.oid::regclass AS partition, pg_get_expr(c.relpartbound, c.oid) AS bounds
  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass ORDER BY 1;
SQL

demo "rows parked in the DEFAULT partition move into the new month" <<'SQL'
CREATE TABLE events_default PARTITION OF events DEFAULT;
INSERT INTO events (at, payload) SELECT timestamptz '2024-04-01 00:00+00' + g * interval '1 hour', 'x'
  FROM generate_series(0, 24 * 45) g;
SELECT tableoid::regclass, count(*) FROM events GROUP BY 1 ORDER BY 1;
SELECT upkeep.create_monthly_partition('events', date '2024-04-01');
SELECT tableoid::regclass, count(*) FROM events GROUP BY 1 ORDER BY 1;
SQL

demo "safety: conflicts and non-owners get clear errors, nothing half-made" <<'SQL'
\set ON_ERROR_STOP 0
CREATE TABLE events_2024_06 (id bigint, at timestamptz, payload text);   -- a squatter on the name
SELECT upkeep.create_monthly_partition('events', date '2024-06-01');
CREATE ROLE mallory;
SET ROLE mallory;
SELECT upkeep.create_monthly_partition('events', date '2024-07-01');
RESET ROLE;
SQL

demo "retention policies: delete old rows, drop old partitions (a fixed 'now' keeps the demo repeatable)" <<'SQL'
SET upkeep.debug_now = '2024-06-15 12:00+00';
CREATE TABLE app_log (id bigserial PRIMARY KEY, at timestamptz, msg text);
CREATE INDEX ON app_log (at);
INSERT INTO app_log (at, msg) SELECT timestamptz '2024-06-15 12:00+00' - g * interval '10 minutes', 'line ' || g
  FROM generate_series(1, 20000) g;
INSERT INTO app_log (at, msg) VALUES (NULL, 'no time: never deleted');
SELECT relid, time_column, retain, action, batch_size FROM upkeep.set_policy('app_log', 'at', '60 days', batch_size => 2000);
SELECT relid, time_column, retain, action, premake FROM upkeep.set_policy('events', retain => '2 months', premake => 2);
SELECT * FROM upkeep.cleanup_old_data(dry_run => true);        -- exact counts, nothing changes
BEGIN;
SELECT * FROM upkeep.cleanup_old_data();                        -- in your transaction ...
ROLLBACK;                                                        -- ... so it can be rolled back
CALL upkeep.run_maintenance();                                   -- a commit per batch; premakes too
SELECT table_name, action, rows, batches, status, left(message, 60) AS message FROM upkeep.run_log ORDER BY id;
SELECT table_name, action, retain, table_size, cutoff, rows_past_cutoff, partitions, premade, last_result FROM upkeep.status;
SQL

demo "archival: rows move exactly once, every batch in the manifest" <<'SQL'
SET upkeep.debug_now = '2024-06-15 12:00+00';
CREATE TABLE orders (id bigint PRIMARY KEY, placed timestamptz NOT NULL, total numeric);
INSERT INTO orders SELECT g, timestamptz '2024-06-15 12:00+00' - g * interval '1 hour', g FROM generate_series(1, 5000) g;
SELECT upkeep.archive_table('orders', older_than => '90 days', time_column => 'placed', batch_size => 1000) AS moved;
SELECT (SELECT count(*) FROM orders) AS in_orders, (SELECT count(*) FROM orders_archive) AS in_archive,
       (SELECT count(*) FROM orders JOIN orders_archive USING (id)) AS in_both;
SELECT id, row_count, key_min, key_max, content_hash FROM upkeep.archive_manifest ORDER BY id;
SQL

demo "integrity: fingerprints and verification" <<'SQL'
SELECT * FROM upkeep.table_fingerprint('orders_archive');
SELECT relid FROM upkeep.set_policy('orders', 'placed', '90 days', action => 'archive');
SELECT table_name, row_count, fingerprint FROM upkeep.snapshot_fingerprints();
CREATE EXTENSION amcheck;
SELECT * FROM upkeep.verify_backup_integrity();
UPDATE orders_archive SET total = 0 WHERE id = 4000;              -- tampering behind pg_upkeep's back
SELECT check_name, object, status, left(detail, 90) AS detail FROM upkeep.verify_backup_integrity() WHERE status <> 'ok';
SQL

echo
echo "---- the background worker: maintain this database every 2 seconds"
psql_at "$PORT" -d postgres -c "ALTER SYSTEM SET upkeep.databases = 'postgres'" -c "SELECT pg_reload_conf()" >/dev/null
psql_at "$PORT" -d postgres -q -c "INSERT INTO app_log (at, msg) SELECT now() - interval '200 days', 'old' FROM generate_series(1, 500)" \
	-c "SELECT relid FROM upkeep.set_policy('app_log', 'at', '60 days')" >/dev/null
for _ in $(seq 1 30); do
	[ "$(psql_at "$PORT" -d postgres -At -c "SELECT count(*) FROM app_log WHERE at < now() - interval '60 days'")" = 0 ] && break
	sleep 0.5
done
demo "the worker did it" <<'SQL'
SELECT pid, backend_type, application_name, datname, state FROM pg_stat_activity WHERE backend_type LIKE 'pg_upkeep%';
SELECT count(*) AS expired_left FROM app_log WHERE at < now() - interval '60 days';
SELECT table_name, action, rows, status, run_by FROM upkeep.run_log WHERE run_by = 'worker' ORDER BY id;
SELECT relid::regclass AS table_name, last_status, next_due FROM upkeep.policy_state ORDER BY 1::text;
SQL

echo
echo "== demo finished; the throwaway cluster is being removed"
