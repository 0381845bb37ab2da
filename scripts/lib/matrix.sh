#!/usr/bin/env bash
# scripts/lib/matrix.sh — what `scripts/test.sh` with no arguments runs (and
# so .ci/run): the three-version matrix and the Debian package.  Three lanes
# run side by side, each with its own log:
#   15  the host's PostgreSQL 15: scripts/test.sh --pg 15 (every suite;
#       worker soak 180 s), then scripts/deb.sh test (the .deb installed,
#       demo, regress, removed)
#   17  the trixie root (made with debootstrap on first use, then reused):
#       scripts/test.sh --pg 17 (every suite; worker soak 60 s), then
#       scripts/deb.sh --pg 17 test
#   18  the sid root, the same with --pg 18
# The lanes share the machine's cores; most of a suite's time is spent
# waiting on clusters (naptimes, timeouts, the soak), which is what lets them
# overlap.  Ends with one block per lane and "N passed, N failed" overall;
# the exit status is non-zero if any lane failed.
#
# The worker soak runs 180 s on 15 and 60 s on 17 and 18 here, so that the
# matrix stays well inside CI's 45 minutes on a 2-core machine (the lane of 15
# is the longest); `scripts/test.sh --pg 15 cluster` alone soaks 600 s.
#
# Environment: UPKEEP_CI_LANES="15 17 18" (a subset to run), UPKEEP_CI_LOGS
# (directory for the lane logs; default a temporary one, kept on failure),
# UPKEEP_SOAK_SECONDS (the soak of every lane).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1

LANES=${UPKEEP_CI_LANES:-15 17 18}
LOGS=${UPKEEP_CI_LOGS:-$(mktemp -d /tmp/upkeep-ci.XXXXXX)}
mkdir -p "$LOGS"
START=$SECONDS

lane() { # lane MAJOR: the suites, then the package
	local v=$1 rc=0 t0=$SECONDS
	echo "== lane $v: suites" >"$LOGS/$v.log"
	local soak=${UPKEEP_SOAK_SECONDS:-}
	[ -n "$soak" ] || { [ "$v" = 15 ] && soak=180 || soak=60; }
	# each part's output in a file of its own, so its own summary line is the one counted
	UPKEEP_SOAK_SECONDS=$soak scripts/test.sh --pg "$v" >"$LOGS/$v.suites.log" 2>&1 || rc=1
	cat "$LOGS/$v.suites.log" >>"$LOGS/$v.log"
	echo "== lane $v: suites took $((SECONDS - t0)) s" >>"$LOGS/$v.log"
	t0=$SECONDS
	echo "== lane $v: package" >>"$LOGS/$v.log"
	scripts/deb.sh --pg "$v" test --out "$LOGS/deb" >"$LOGS/$v.package.log" 2>&1 || rc=1
	cat "$LOGS/$v.package.log" >>"$LOGS/$v.log"
	echo "== lane $v: package took $((SECONDS - t0)) s" >>"$LOGS/$v.log"
	return $rc
}

# the host's packages first (apt and dpkg take one lock: not from three lanes at once)
. scripts/lib/cluster.sh
ensure_packages "${UPKEEP_PACKAGES[@]}" debootstrap dpkg-dev debhelper postgresql-server-dev-all || exit 1

# each lane in its own process group (set -m), so an interrupted run stops
# every lane's scripts, which stop their clusters and leave their roots unmounted
declare -A PID
set -m
for v in $LANES; do
	lane "$v" &
	PID[$v]=$!
	echo "== lane $v started (log: $LOGS/$v.log)"
done
set +m
trap 'for p in "${PID[@]}"; do kill -TERM -- "-$p" 2>/dev/null; done; wait; exit 130' INT TERM HUP

pass=0
fail=0
declare -A RC
for v in $LANES; do
	wait "${PID[$v]}"
	RC[$v]=$?
done
for v in $LANES; do
	echo
	echo "======== PostgreSQL $v (${RC[$v]}) ========"
	# the summaries, and whatever failed
	grep -E "^== |^   [a-z]+: [0-9]+ passed|^   [a-z]+: SKIPPED|^[0-9]+ passed, [0-9]+ failed$|^# [0-9]+ passed|not ok|failed$" "$LOGS/$v.log" |
		grep -vE "^   # [0-9]+ passed, 0 failed$"
	p=$(grep -E "^[0-9]+ passed, [0-9]+ failed$" "$LOGS/$v.suites.log" 2>/dev/null | tail -n 1 | cut -d' ' -f1)
	f=$(grep -E "^[0-9]+ passed, [0-9]+ failed$" "$LOGS/$v.suites.log" 2>/dev/null | tail -n 1 | cut -d' ' -f3)
	dp=$(grep -E "^# [0-9]+ passed, [0-9]+ failed$" "$LOGS/$v.package.log" 2>/dev/null | tail -n 1 | cut -d' ' -f2)
	df=$(grep -E "^# [0-9]+ passed, [0-9]+ failed$" "$LOGS/$v.package.log" 2>/dev/null | tail -n 1 | cut -d' ' -f4)
	pass=$((pass + ${p:-0} + ${dp:-0}))
	fail=$((fail + ${f:-0} + ${df:-0}))
	[ "${RC[$v]}" -eq 0 ] || { [ $((${f:-0} + ${df:-0})) -gt 0 ] || fail=$((fail + 1)); }
done
echo
echo "== the matrix took $((SECONDS - START)) s (lanes: $LANES; logs: $LOGS)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ] || exit 1
[ -n "${UPKEEP_CI_LOGS:-}" ] || rm -rf "$LOGS"
