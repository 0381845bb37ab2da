# test/cluster/lib.sh — helpers for cluster-level tests (TAP-like output).
#
# Each test script sources this, calls new_cluster, makes assertions with
# ok/not_ok/is/check, and ends with finish, which prints "# N passed, N failed"
# and exits non-zero on failure.  Clusters live in temp dirs, run as the
# postgres OS user on free loopback ports, and are removed on exit.
set -uo pipefail
UPKEEP_ROOT=${UPKEEP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$UPKEEP_ROOT/scripts/lib/cluster.sh"

N_PASS=0
N_FAIL=0
CLUSTERS=()
BG_PIDS=()
T_WORK=$(mktemp -d /tmp/upkeep-ctest.XXXXXX)
chmod 755 "$T_WORK"
chown postgres:postgres "$T_WORK"

ok() { N_PASS=$((N_PASS + 1)); echo "ok - $*"; }
not_ok() { N_FAIL=$((N_FAIL + 1)); echo "not ok - $*"; }

# check DESC command...: passes when the command succeeds
check() {
	local desc=$1; shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; fi
}

# is GOT EXPECTED DESC
is() {
	if [ "$1" == "$2" ]; then ok "$3"; else not_ok "$3 (got '$1', expected '$2')"; fi
}

# lt A B DESC: numeric A < B
lt() {
	if python3 -c "import sys; sys.exit(0 if float('$1') < float('$2') else 1)" 2>/dev/null; then ok "$3"; else not_ok "$3 ($1 is not < $2)"; fi
}

t_cleanup() {
	local p c
	for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
	for c in "${CLUSTERS[@]}"; do cluster_stop "$c" immediate; done
	if [ -n "${KEEP_WORK:-}" ]; then echo "# KEEP_WORK: kept $T_WORK"; else rm -rf "$T_WORK"; fi
}
trap t_cleanup EXIT

# new_cluster NAME [conf lines...]: sets DATA_<NAME>/PORT_<NAME> and, for the first one, DATA/PORT
new_cluster() {
	local name=$1; shift
	local dir="$T_WORK/$name/data" port
	port=$(free_port)
	cluster_init "$dir" "$port" "$@" || { not_ok "initdb $name"; finish; }
	register_cluster "$dir" "$port"
	cluster_start "$dir" || { not_ok "start $name"; finish; }
	CLUSTERS+=("$dir")
	eval "DATA_$name=$dir; PORT_$name=$port"
	if [ -z "${DATA:-}" ]; then DATA=$dir; PORT=$port; fi
}

# sql [-p PORT] [-d DB] QUERY: one value/rows, unaligned, tuples only; errors to stderr
sql() {
	local port=$PORT db=postgres
	while [ $# -gt 1 ]; do
		case "$1" in -p) port=$2; shift 2 ;; -d) db=$2; shift 2 ;; *) break ;; esac
	done
	psql_at "$port" -d "$db" -At -c "$1"
}

# sql_state [-p PORT] [-d DB] QUERY...: runs statements (each a -c), prints the SQLSTATE of the error or "ok"
sql_state() {
	local port=$PORT db=postgres args=()
	while [ $# -gt 0 ]; do
		case "$1" in -p) port=$2; shift 2 ;; -d) db=$2; shift 2 ;; *) args+=(-c "$1"); shift ;; esac
	done
	local out
	if out=$(psql_at "$port" -d "$db" -At -v VERBOSITY=sqlstate "${args[@]}" 2>&1 >/dev/null); then
		echo ok
	else
		echo "$out" | sed -n 's/.*ERROR:  \([0-9A-Z]\{5\}\).*/\1/p' | head -1
	fi
}

# bg [-p PORT] [-d DB] QUERY: run in the background (pid recorded, killed at exit)
bg() {
	local port=$PORT db=postgres
	while [ $# -gt 1 ]; do
		case "$1" in -p) port=$2; shift 2 ;; -d) db=$2; shift 2 ;; *) break ;; esac
	done
	psql_at "$port" -d "$db" -At -c "$1" >/dev/null 2>&1 &
	BG_PIDS+=($!)
}

# wait_until SECONDS QUERY: poll until the query returns 't' (database $WAIT_DB, port $WAIT_PORT if set)
wait_until() {
	local deadline=$((SECONDS + $1)) q=$2
	while [ $SECONDS -lt $deadline ]; do
		[ "$(sql -p "${WAIT_PORT:-$PORT}" -d "${WAIT_DB:-postgres}" "$q" 2>/dev/null)" = t ] && return 0
		sleep 0.2
	done
	return 1
}

# wait_ready: wait (up to 60 s) until the cluster on $PORT accepts queries again, e.g. after a crash restart
wait_ready() {
	local deadline=$((SECONDS + 60))
	while [ $SECONDS -lt $deadline ]; do
		sql "SELECT 1" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# now_ms: wall clock in milliseconds
now_ms() { date +%s%3N; }

finish() {
	echo "# $N_PASS passed, $N_FAIL failed"
	[ "$N_FAIL" -eq 0 ]
	exit $?
}
