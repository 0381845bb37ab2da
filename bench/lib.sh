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

q() { psql_at "$B_PORT" -d postgres -At "$@"; }

# ms COMMAND...: wall-clock milliseconds of a command
ms() {
	local t0 t1
	t0=$(date +%s%N)
	"$@" >/dev/null
	t1=$(date +%s%N)
	echo $(((t1 - t0) / 1000000))
}

# median N...
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
# ratio A B: A/B with 2 decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b == 0) print "inf"; else printf "%.2f", a / b }'; }

wal_lsn() { q -c "SELECT pg_current_wal_insert_lsn()"; }
wal_bytes() { q -c "SELECT pg_wal_lsn_diff('$2', '$1')::bigint"; }
