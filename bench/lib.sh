# bench/lib.sh -- shared helpers for the benchmarks: one throwaway cluster
# per bench run (postgres OS user, temp dir, loopback, free port), timing,
# medians and WAL measurements.  Source it from a bench script.
set -euo pipefail
BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$BENCH_ROOT/scripts/lib/cluster.sh"
if [ "$(id -u)" != 0 ]; then exec sudo -E "$0" "$@"; fi
ensure_packages "${UPKEEP_PACKAGES[@]}" >/dev/null
(cd "$BENCH_ROOT" && make -s -j2 PG_CONFIG="$PG_CONFIG" >/dev/null && make -s install PG_CONFIG="$PG_CONFIG" >/dev/null)

RUNS=${RUNS:-3}
B_WORK=$(mktemp -d /tmp/upkeep-bench.XXXXXX)
chmod 755 "$B_WORK"
chown postgres:postgres "$B_WORK"
B_DATA="$B_WORK/data"
B_PORT=$(free_port)
trap 'cluster_stop "$B_DATA" immediate; rm -rf "$B_WORK"' EXIT

# bench_cluster [extra conf lines]: a cluster tuned like a small production box
bench_cluster() {
	cluster_init "$B_DATA" "$B_PORT" "shared_buffers = 1GB" "max_wal_size = 8GB" "checkpoint_timeout = 30min" \
		"max_worker_processes = 16" "max_locks_per_transaction = 1024" "autovacuum = off" "$@" >/dev/null
	# durability as in production: the cluster helper turns fsync off for tests; benches keep it on
	as_postgres sed -i -e 's/^fsync = off/fsync = on/' -e 's/^synchronous_commit = off/synchronous_commit = on/' "$B_DATA/postgresql.conf"
	register_cluster "$B_DATA" "$B_PORT"
	cluster_start "$B_DATA"
}

q() { psql_at "$B_PORT" -d postgres -At -v ON_ERROR_STOP=1 "$@" 2>&1 | grep -v "^NOTICE:" || true; }

# ms COMMAND...: wall-clock milliseconds of a command
ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

# sms ARGS...: server round-trip milliseconds of the statements given as psql -c arguments
# (psql's \timing, summed), without psql's start and connection (100-200 ms on a busy 2-core box)
sms() {
	psql_at "$B_PORT" -d postgres -At -v ON_ERROR_STOP=1 -c '\timing on' "$@" | awk '/^Time: / { t += $2 } END { printf "%d", t + 0.5 }'
}

# median N...
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# ratio A B: A/B with 2 decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.2f", a / b }'; }

wal_lsn() { q -c "SELECT pg_current_wal_insert_lsn()"; }
wal_bytes() { q -c "SELECT pg_wal_lsn_diff('$2', '$1')::bigint"; }

# The longest transaction (ms) a backend with application_name $1 keeps open
# (pg_upkeep's final ANALYZE, which holds no lock that blocks writers, apart),
# watched server-side every millisecond from the moment it appears until it
# goes idle (at most $2 seconds).  Start it before the watched statement.
install_watcher() {
	q -c "CREATE OR REPLACE FUNCTION bench_watch(app text, max_s float8) RETURNS int LANGUAGE plpgsql AS \$\$
	DECLARE m float8 := 0; seen bool := false; a float8; t0 timestamptz := clock_timestamp();
	BEGIN
	  LOOP
	    PERFORM pg_stat_clear_snapshot();
	    SELECT max(extract(epoch FROM clock_timestamp() - xact_start)) * 1000 INTO a
	      FROM pg_stat_activity WHERE application_name = app AND xact_start IS NOT NULL AND state <> 'idle'
	       AND query NOT LIKE 'pg_upkeep: ANALYZE%';
	    IF a IS NOT NULL THEN seen := true; m := greatest(m, a); ELSIF seen THEN EXIT; END IF;
	    EXIT WHEN extract(epoch FROM clock_timestamp() - t0) > max_s;
	    PERFORM pg_sleep(0.001);
	  END LOOP;
	  RETURN m::int;
	END \$\$" >/dev/null
}
watch_longest_xact() { q -c "SELECT bench_watch('$1', $2)"; }

# p99 (ms) of pgbench transactions overlapping [from_ms, to_ms] (epoch ms), from pgbench -l logs with prefix $1
p99_overlapping() {
	local prefix=$1 from=$2 to=$3
	cat "$prefix".* 2>/dev/null | awk -v f="$from" -v t="$to" '
		{ end_ms = $5 * 1000 + $6 / 1000; lat_ms = $3 / 1000; start_ms = end_ms - lat_ms;
		  if (start_ms < t && end_ms > f) print lat_ms }' | sort -n | awk '
		{ a[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } i = int(NR * 0.99); if (i < 1) i = 1; printf "%.2f", a[i] }'
}
