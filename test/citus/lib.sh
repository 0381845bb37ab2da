# test/citus/lib.sh — a Citus cluster on loopback for the Citus suite.
#
# Sources test/cluster/lib.sh (ok/is/check/finish, clusters in temp dirs as
# the postgres OS user) and adds citus_cluster: a coordinator and two worker
# nodes, each with shared_preload_libraries = 'citus, pg_upkeep', joined into
# one cluster, the pg_upkeep extension created on the coordinator (Citus
# creates it on the workers).  Ports: PORT (= PORT_coord), PORT_w1, PORT_w2.
#
# Citus is not a Debian package: the suite runs where Citus is installed for
# the server under test (PG_CONFIG's pkglibdir has citus.so) and is skipped,
# saying so, everywhere else (scripts/test.sh citus).
UPKEEP_ROOT=${UPKEEP_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
. "$UPKEEP_ROOT/test/cluster/lib.sh"

citus_available() { [ -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; }

# citus_cluster [extra conf lines...]
citus_cluster() {
	local conf=("shared_preload_libraries = 'citus, pg_upkeep'" "max_worker_processes = 24"
		"max_connections = 200" "citus.shard_count = 4" "citus.log_remote_commands = off" "$@")
	new_cluster coord "${conf[@]}"
	new_cluster w1 "${conf[@]}"
	new_cluster w2 "${conf[@]}"
	local p
	for p in "$PORT_coord" "$PORT_w1" "$PORT_w2"; do
		sql -p "$p" "CREATE EXTENSION citus" >/dev/null || { not_ok "CREATE EXTENSION citus on port $p"; finish; }
	done
	sql -p "$PORT_coord" "SELECT pg_catalog.citus_set_coordinator_host('127.0.0.1', $PORT_coord)" >/dev/null &&
		sql -p "$PORT_coord" "SELECT pg_catalog.citus_add_node('127.0.0.1', $PORT_w1)" >/dev/null &&
		sql -p "$PORT_coord" "SELECT pg_catalog.citus_add_node('127.0.0.1', $PORT_w2)" >/dev/null ||
		{ not_ok "Citus nodes joined"; finish; }
	sql -p "$PORT_coord" "CREATE EXTENSION pg_upkeep" >/dev/null || { not_ok "CREATE EXTENSION pg_upkeep on the coordinator"; finish; }
	is "$(sql -p "$PORT_w1" "SELECT extversion FROM pg_extension WHERE extname = 'pg_upkeep'")" \
		"$(sql -p "$PORT_coord" "SELECT extversion FROM pg_extension WHERE extname = 'pg_upkeep'")" \
		"pg_upkeep created on the worker nodes by Citus"
	PORT=$PORT_coord
}

# C QUERY / W1 QUERY / W2 QUERY: one query on the coordinator / a worker node (database postgres)
C() { sql -p "$PORT_coord" "$1"; }
W1() { sql -p "$PORT_w1" "$1"; }
W2() { sql -p "$PORT_w2" "$1"; }
