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

ensure_packages "${UPKEEP_PACKAGES[@]}"
echo "== building and installing pg_upkeep"
(cd "$ROOT" && make -s -j2 PG_CONFIG="$PG_CONFIG" >/dev/null && make -s install PG_CONFIG="$PG_CONFIG" >/dev/null)

WORK=$(mktemp -d /tmp/upkeep-demo.XXXXXX)
chmod 755 "$WORK"
chown postgres:postgres "$WORK"
DATA="$WORK/data"
PORT=$(free_port)
trap 'cluster_stop "$DATA" fast; rm -rf "$WORK"' EXIT
cluster_init "$DATA" "$PORT" "shared_preload_libraries = 'pg_upkeep'"
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

echo
echo "== demo finished; the throwaway cluster is being removed"
