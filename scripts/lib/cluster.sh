# scripts/lib/cluster.sh — throwaway PostgreSQL 15 clusters for tests, demo and benches.
#
# Source it, then:
#   cluster_init DIR PORT [conf lines...]   initdb as the postgres OS user in DIR, loopback only
#   cluster_start DIR / cluster_stop DIR [mode] / cluster_restart DIR
#   psql_at PORT [psql args...]             psql as the postgres role via the cluster's socket dir
#   free_port                               an unused loopback TCP port
# initdb refuses root, so everything runs as the postgres OS user (runuser when we are root).

PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
export PG_CONFIG=${PG_CONFIG:-$PGBIN/pg_config}

as_postgres() {
	if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi
}

free_port() {
	python3 - <<'PY'
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

# The socket directory of a cluster is its data directory's parent /sock.
cluster_sock() { echo "$(dirname "$1")/sock"; }

cluster_init() {
	local dir=$1 port=$2; shift 2
	local base; base=$(dirname "$dir")
	mkdir -p "$base" "$base/sock"
	chown postgres:postgres "$base" "$base/sock" 2>/dev/null || true
	as_postgres "$PGBIN/initdb" -D "$dir" -U postgres --auth=trust --no-locale -E UTF8 --data-checksums >"$base/initdb.log" 2>&1 \
		|| { cat "$base/initdb.log"; return 1; }
	{
		echo "port = $port"
		echo "listen_addresses = '127.0.0.1'"
		echo "unix_socket_directories = '$base/sock'"
		echo "fsync = off"
		echo "synchronous_commit = off"
		echo "full_page_writes = on"
		echo "max_locks_per_transaction = 256"
		echo "log_line_prefix = '%m [%p] %b %a: '"
		echo "logging_collector = off"
		for line in "$@"; do echo "$line"; done
	} | as_postgres tee -a "$dir/postgresql.conf" >/dev/null
}

cluster_start() {
	local dir=$1
	as_postgres "$PGBIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 60 start >/dev/null \
		|| { tail -50 "$dir/server.log"; return 1; }
}

cluster_stop() {
	local dir=$1 mode=${2:-fast}
	[ -f "$dir/postmaster.pid" ] || return 0
	as_postgres "$PGBIN/pg_ctl" -D "$dir" -m "$mode" -w -t 60 stop >/dev/null 2>&1 || true
}

cluster_restart() { cluster_stop "$1"; cluster_start "$1"; }

# psql_at PORT args... (host = the socket dir of the cluster owning PORT, found via $UPKEEP_SOCK_<port>)
psql_at() {
	local port=$1; shift
	local host_var="UPKEEP_SOCK_$port"
	as_postgres "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "${!host_var:-127.0.0.1}" -p "$port" -U postgres "$@"
}

# register_cluster DIR PORT: remember the socket dir for psql_at
register_cluster() {
	export "UPKEEP_SOCK_$2=$(cluster_sock "$1")"
}

# ensure_packages pkg...: apt-get install whatever is missing (needs root)
ensure_packages() {
	local missing=()
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "installing: ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null 2>&1 || true
		apt-get install -y -qq "${missing[@]}" >/dev/null || { echo "apt-get install failed" >&2; return 1; }
	fi
}

UPKEEP_PACKAGES=(build-essential g++ make cmake python3 postgresql-15 postgresql-server-dev-15 postgresql-15-cron
	postgresql-15-pgtap libtap-parser-sourcehandler-pgtap-perl libgtest-dev libxxhash-dev postgresql-15-partman
	pgbackrest clang-format)
