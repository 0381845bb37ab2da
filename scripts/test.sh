#!/usr/bin/env bash
# scripts/test.sh — the README's test command: every pg_upkeep test suite.
#
# Installs what is missing (apt-get), builds and installs the extension,
# starts a throwaway PostgreSQL cluster (initdb as the postgres OS user in
# a temp dir, loopback, free port), then runs:
#   unit     GoogleTest of the PostgreSQL-free core (CMake + CTest)
#   regress  pg_regress: sql/*.sql against expected/*.out
#   pgtap    pgTAP files test/pgtap/*.sql through pg_prove
#   isolation  PostgreSQL's isolation tester: test/isolation/specs/*.spec
#            against test/isolation/expected/*.out (concurrency cases)
#   cluster  test/cluster/*.sh: scripts that drive real clusters (locks,
#            crashes, workers, replication, backups)
#   citus    test/citus/*.sh: a coordinator and two worker nodes, when Citus
#            is installed for the server; otherwise "SKIPPED" and why (Citus
#            is not a Debian package: README, "Citus")
# Each suite ends with "N passed, N failed"; so does the whole run, and the
# exit status is non-zero on any failure.
#
# Usage: scripts/test.sh [--pg 15|17|18] [--installed] [suite...]
#
# With no arguments at all: the whole matrix (what .ci/run runs): every suite
# against PostgreSQL 15, 17 and 18 side by side, then each one's Debian package
# test (scripts/lib/matrix.sh).  Naming suites, or a server with --pg, runs
# just those: `scripts/test.sh regress` is the regress suite on 15.
#
# --installed skips the build: the suites run against the pg_upkeep already
# installed for $PGBIN (scripts/deb.sh test uses it for the .deb).
#
# --pg 15 is the host's own PostgreSQL (Debian 12's packages, or $PGBIN /
# $PG_CONFIG when set).  --pg 17 and --pg 18 run the same suites against
# Debian's own packages of the next stable release (17) and of unstable (18),
# in a root filesystem made once with debootstrap and reused
# (scripts/lib/pgroot.sh; /var/cache/pg-upkeep-roots).  The checkout is copied
# into the root and this script runs there under chroot, so every binary,
# path and library a test uses is the root's own.  The worker soak test runs
# UPKEEP_SOAK_SECONDS=60 there unless set (600 on the host).
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)

if [ "$(id -u)" != 0 ]; then exec sudo -E "$0" "$@"; fi

PG_MAJOR=
INSTALLED=
SUITES=()
while [ $# -gt 0 ]; do
	case "$1" in
	--pg) PG_MAJOR=${2:-}; shift 2 || { echo "--pg needs a major version" >&2; exit 2; } ;;
	--pg=*) PG_MAJOR=${1#--pg=}; shift ;;
	--installed) INSTALLED=1; shift ;;
	*) SUITES+=("$1"); shift ;;
	esac
done
if [ -z "$PG_MAJOR" ] && [ -z "$INSTALLED" ] && [ ${#SUITES[@]} -eq 0 ] && [ -z "${UPKEEP_IN_PGROOT:-}" ]; then
	exec "$ROOT/scripts/lib/matrix.sh"
fi
[ ${#SUITES[@]} -gt 0 ] || SUITES=(unit regress isolation pgtap cluster citus)

if [ -n "$PG_MAJOR" ]; then
	. "$ROOT/scripts/lib/pgroot.sh"
	pgroot_suite "$PG_MAJOR" >/dev/null || { echo "PostgreSQL $PG_MAJOR: not supported (15, 17, 18)" >&2; exit 2; }
	if [ -n "$(pgroot_suite "$PG_MAJOR")" ]; then
		echo "== PostgreSQL $PG_MAJOR in the $(pgroot_suite "$PG_MAJOR") root"
		pgroot_lock "$PG_MAJOR" # one run per root: they share its packages and installed extension
		PGROOT=$(pgroot_ensure "$PG_MAJOR") || exit 1
		pgroot_stage "$PGROOT" "$ROOT" || exit 1
		SRC=$PGROOT_SRC
		pgroot_exec "$PG_MAJOR" env PGBIN="/usr/lib/postgresql/$PG_MAJOR/bin" \
			PG_CONFIG="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config" UPKEEP_IN_PGROOT="$PG_MAJOR" \
			UPKEEP_SOAK_SECONDS="${UPKEEP_SOAK_SECONDS:-60}" ${KEEP_WORK:+KEEP_WORK="$KEEP_WORK"} \
			"/${SRC#"$PGROOT"/}/scripts/test.sh" ${INSTALLED:+--installed} "${SUITES[@]}"
		exit $?
	fi
fi

. "$ROOT/scripts/lib/cluster.sh"
# in a root, pgroot_ensure installed everything (Debian's package names there differ by major)
[ -n "${UPKEEP_IN_PGROOT:-}" ] || ensure_packages "${UPKEEP_PACKAGES[@]}" || exit 1
echo "== PostgreSQL $("$PG_CONFIG" --version | sed 's/^PostgreSQL //')"

if [ -z "$INSTALLED" ]; then
	echo "== build and install"
	(cd "$ROOT" && make -s -j2 PG_CONFIG="$PG_CONFIG" >/dev/null && make -s install PG_CONFIG="$PG_CONFIG" >/dev/null) ||
		{ echo "build failed"; (cd "$ROOT" && make -j2 PG_CONFIG="$PG_CONFIG"); exit 1; }
fi

WORK=$(mktemp -d /tmp/upkeep-test.XXXXXX)
chmod 755 "$WORK"
chown postgres:postgres "$WORK"
PORT=$(free_port)
DATA="$WORK/main/data"
export UPKEEP_TEST_WORK=$WORK
cleanup() {
	cluster_stop "$DATA" immediate
	[ -n "${KEEP_WORK:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT

TOTAL_PASS=0
TOTAL_FAIL=0
declare -A SUITE_RESULT

SUITE_START=$SECONDS
record() { # suite passed failed
	SUITE_RESULT[$1]="$2 passed, $3 failed ($((SECONDS - SUITE_START)) s)"
	TOTAL_PASS=$((TOTAL_PASS + $2))
	TOTAL_FAIL=$((TOTAL_FAIL + $3))
	echo "-- $1: $2 passed, $3 failed"
}

start_main_cluster() {
	[ -f "$DATA/postmaster.pid" ] && return 0
	cluster_init "$DATA" "$PORT" \
		"shared_preload_libraries = 'pg_upkeep, pg_cron'" \
		"cron.database_name = 'postgres'" \
		"max_worker_processes = 16" || return 1
	register_cluster "$DATA" "$PORT"
	cluster_start "$DATA"
}

suite_unit() {
	echo "== unit (GoogleTest via CTest)"
	local build="$WORK/unit-build" out
	cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPG_CONFIG="$PG_CONFIG" >"$WORK/cmake.log" 2>&1 &&
		cmake --build "$build" -j2 >>"$WORK/cmake.log" 2>&1 || { cat "$WORK/cmake.log"; record unit 0 1; return; }
	out=$(cd "$build" && ctest --output-on-failure 2>&1)
	echo "$out" | tail -n 25
	local total failed
	total=$(echo "$out" | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\2/p')
	failed=$(echo "$out" | sed -n 's/.*tests passed, \([0-9]*\) tests failed out of \([0-9]*\).*/\1/p')
	if [ -z "$total" ]; then record unit 0 1; return; fi
	local passed=$((total - failed))
	# the version is written once (pg_upkeep.control); META.json, debian/changelog and extension/ must agree
	if "$ROOT/scripts/version.sh" >/dev/null; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	# every C++ file laid out as .clang-format says (`make format` rewrites them).  Checked on the host
	# only: the layout is the source's, the same for every server, and another release's clang-format
	# (the roots of 17 and 18) lays some constructs out differently.
	if [ -z "${UPKEEP_IN_PGROOT:-}" ]; then
		if format_clean; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
	fi
	record unit "$passed" "$failed"
}

# format_clean: true when clang-format would change no C++ file; names the ones it would
format_clean() {
	local bad=() f
	command -v clang-format >/dev/null || { echo "-- clang-format: not installed" >&2; return 1; }
	while IFS= read -r f; do
		clang-format --dry-run --Werror "$ROOT/$f" >/dev/null 2>&1 || bad+=("$f")
	done < <(cd "$ROOT" && find src include test/unit \( -name '*.cpp' -o -name '*.hpp' -o -name '*.h' \) | sort)
	[ ${#bad[@]} -eq 0 ] && { echo "-- clang-format: every C++ file matches .clang-format"; return 0; }
	echo "-- clang-format: ${#bad[@]} file(s) do not match .clang-format (make format): ${bad[*]}"
	return 1
}

# pg_regress_suite NAME TOOL INPUTS EXPECTED EXT DBNAME: runs PostgreSQL's pg_regress-style TOOL
# (pg_regress, pg_isolation_regress) over INPUTS/*.EXT against EXPECTED/*.out on the main cluster
pg_regress_suite() {
	local name=$1 tool=$2 inputs=$3 expected=$4 ext=$5 dbname=$6
	start_main_cluster || { record "$name" 0 1; return; }
	local dir="$WORK/$name"
	mkdir -p "$dir"
	cp -r "$ROOT/$inputs" "$ROOT/$expected" "$dir/"
	chown -R postgres:postgres "$dir"
	local tests
	tests=$(cd "$ROOT/$inputs" && ls *."$ext" 2>/dev/null | sed "s/\.$ext\$//" | sort)
	[ -n "$tests" ] || { record "$name" 0 0; return; }
	local out
	out=$(cd "$dir" && as_postgres "$("$PG_CONFIG" --pkglibdir)/pgxs/src/test/$tool" \
		--inputdir=. --outputdir=. --bindir="$PGBIN" --host="$(cluster_sock "$DATA")" --port="$PORT" \
		--user=postgres --dbname="$dbname" $tests 2>&1)
	echo "$out" | grep -E "^(ok|not ok|test|     |#)" | sed 's/^/   /' | tail -n 60
	local n_tests n_fail
	n_tests=$(echo "$tests" | wc -w)
	if echo "$out" | grep -q "All [0-9]* tests passed"; then
		n_fail=0
	else
		n_fail=$(echo "$out" | sed -n 's/.* \([0-9]*\) of [0-9]* tests failed.*/\1/p')
		[ -n "$n_fail" ] || n_fail=$n_tests
		local diffs
		for diffs in "$dir/regression.diffs" "$dir/output_iso/regression.diffs"; do
			[ -f "$diffs" ] && head -n 300 "$diffs"
		done
	fi
	record "$name" $((n_tests - n_fail)) "$n_fail"
}

suite_regress() {
	echo "== regress (pg_regress)"
	pg_regress_suite regress regress/pg_regress sql expected sql upkeep_regress
}

suite_isolation() {
	echo "== isolation (pg_isolation_regress)"
	pg_regress_suite isolation isolation/pg_isolation_regress test/isolation/specs test/isolation/expected spec upkeep_isolation
}

suite_pgtap() {
	echo "== pgtap (pg_prove)"
	start_main_cluster || { record pgtap 0 1; return; }
	psql_at "$PORT" -d postgres -c "DROP DATABASE IF EXISTS upkeep_tap" -c "CREATE DATABASE upkeep_tap" >/dev/null
	psql_at "$PORT" -d upkeep_tap -c "CREATE EXTENSION pgtap" -c "CREATE EXTENSION pg_upkeep" >/dev/null
	local out
	out=$(cd "$ROOT" && as_postgres pg_prove -h "$(cluster_sock "$DATA")" -p "$PORT" -U postgres -d upkeep_tap \
		--ext .sql -v test/pgtap/ 2>&1)
	echo "$out" | grep -vE "^ok " | tail -n 60
	local pass fail
	pass=$(echo "$out" | grep -cE "^\s*ok [0-9]+")
	fail=$(echo "$out" | grep -cE "^\s*not ok [0-9]+")
	if ! echo "$out" | grep -q "^Result: PASS"; then
		[ "$fail" -gt 0 ] || fail=1
	fi
	record pgtap "$pass" "$fail"
}

# script_suite NAME DIR: runs every DIR/NN_*.sh (TAP-like, "# N passed, N failed" last) and counts
script_suite() {
	local name=$1 dir=$2 pass=0 fail=0 t out
	for t in "$ROOT/$dir"/[0-9]*.sh; do
		[ -e "$t" ] || continue
		echo "-> $(basename "$t")"
		local t0=$SECONDS
		out=$(UPKEEP_ROOT="$ROOT" bash "$t" 2>&1)
		echo "$out" | sed 's/^/   /' | tail -n 80
		echo "   ($((SECONDS - t0)) s)"
		pass=$((pass + $(echo "$out" | grep -cE "^ok ")))
		fail=$((fail + $(echo "$out" | grep -cE "^not ok ")))
		if ! echo "$out" | grep -qE "^# [0-9]+ passed, 0 failed$"; then
			echo "$out" | grep -qE "^not ok " || fail=$((fail + 1))
		fi
	done
	record "$name" "$pass" "$fail"
}

suite_cluster() {
	echo "== cluster (real clusters: locks, crashes, worker, replication, backups)"
	script_suite cluster test/cluster
}

# Citus is not a Debian package: the suite runs where it is installed for this server, and says
# clearly that it was skipped everywhere else (README, "Citus").
suite_citus() {
	echo "== citus (a coordinator and two worker nodes on loopback)"
	if [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
		echo "-- citus: SKIPPED - Citus is not installed for this PostgreSQL ($("$PG_CONFIG" --pkglibdir)/citus.so" \
			"is absent; Citus is not a Debian package). README \"Citus\" says how to run this suite."
		SUITE_RESULT[citus]="SKIPPED (Citus not installed)"
		return
	fi
	script_suite citus test/citus
}

for s in "${SUITES[@]}"; do
	SUITE_START=$SECONDS
	case "$s" in
	unit) suite_unit ;;
	regress) suite_regress ;;
	isolation) suite_isolation ;;
	pgtap) suite_pgtap ;;
	cluster) suite_cluster ;;
	citus) suite_citus ;;
	*) echo "unknown suite $s"; TOTAL_FAIL=$((TOTAL_FAIL + 1)) ;;
	esac
done

echo "== summary"
for s in "${SUITES[@]}"; do echo "   $s: ${SUITE_RESULT[$s]:-not run}"; done
echo "$TOTAL_PASS passed, $TOTAL_FAIL failed"
[ "$TOTAL_FAIL" -eq 0 ]
