# test/cluster/worker_lib.sh — helpers shared by the background-worker cluster tests (5x_*.sh).
# Source after lib.sh.  Not a test itself (scripts/test.sh runs only [0-9]*.sh).

# worker_pids DB: the pids of pg_upkeep workers connected to DB (one a line)
worker_pids() {
	sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = '$1' ORDER BY pid"
}
# worker_count DB
worker_count() {
	sql "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = '$1'"
}
launcher_pid() {
	sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_upkeep launcher'"
}
# max_workers_per_db: the highest number of workers connected to one database right now (0 if none)
max_workers_per_db() {
	sql "SELECT COALESCE(max(n), 0) FROM (SELECT count(*) n FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' GROUP BY datid) s"
}
# rss_kb PID: resident set size of a server process (kB)
rss_kb() {
	awk '/^VmRSS:/ {print $2}' "/proc/$1/status"
}
# upkeep_errors: ERROR/FATAL/PANIC lines written by pg_upkeep's processes (a SIGTERM's FATAL excepted)
upkeep_errors() {
	grep -E 'pg_upkeep (worker|launcher) ?[^:]*: (ERROR|FATAL|PANIC): ' "$DATA/server.log" | grep -v 'due to administrator command'
}
# no_crash_restart: the postmaster never reinitialised the cluster
no_crash_restart() {
	! grep -qE 'terminating any other active server processes|was terminated by signal|all server processes terminated' "$DATA/server.log"
}
# log_count PATTERN: lines of the server log matching the extended regex
log_count() {
	grep -cE "$1" "$DATA/server.log"
}
# set_databases LIST: upkeep.databases by ALTER SYSTEM and a reload
set_databases() {
	psql_at "$PORT" -c "ALTER SYSTEM SET upkeep.databases = '$1'" -c "SELECT pg_reload_conf()" >/dev/null
}
# set_conf NAME VALUE: ALTER SYSTEM and a reload
set_conf() {
	psql_at "$PORT" -c "ALTER SYSTEM SET $1 = '$2'" -c "SELECT pg_reload_conf()" >/dev/null
}
# no_upkeep_errors: passes when upkeep_errors finds nothing (prints what it found otherwise)
no_upkeep_errors() {
	local found
	found=$(upkeep_errors)
	[ -z "$found" ] && return 0
	echo "$found" | head -5 | sed 's/^/# /'
	return 1
}
# log_has REGEX (a wait_until-able query): the server log matches REGEX at least N times
log_matches_sql() {
	echo "SELECT (SELECT count(*) FROM regexp_matches(pg_read_file('$DATA/server.log'), \$re\$$1\$re\$, 'g')) >= ${2:-1}"
}
# finish_worker: finish, showing the end of the server log when something failed
finish_worker() {
	if [ "$N_FAIL" -gt 0 ]; then
		echo "# work dir: $T_WORK; server log (last lines):"
		grep -vE 'statement: ' "$DATA/server.log" | tail -${LOG_TAIL:-40} | cut -c1-300 | sed 's/^/# /'
	fi
	finish
}
