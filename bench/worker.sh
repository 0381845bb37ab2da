#!/usr/bin/env bash
# bench/worker.sh -- the background worker's costs, on one throwaway cluster
# with pg_upkeep preloaded and one database under maintenance:
#   idle CPU    CPU time (utime + stime from /proc) the worker and the launcher
#               use over IDLE_S (60) seconds with nothing due (upkeep.naptime 1s,
#               so the worker wakes 60 times)
#   latency     from a policy becoming due to its run in upkeep.run_log, with
#               upkeep.naptime = NAPTIME (10s): a policy that falls due while the
#               worker sleeps waits at most a naptime (measured by making the
#               worker's last run be due again, via policy_state); a new or
#               changed policy wakes the worker when set_policy() commits.
. "$(dirname "$0")/lib.sh"
IDLE_S=${IDLE_S:-60}
bench_cluster "shared_preload_libraries = 'pg_upkeep'" "upkeep.databases = 'postgres'" "upkeep.naptime = 1"
q -c "CREATE EXTENSION pg_upkeep" >/dev/null
q -c "SELECT pg_reload_conf()" >/dev/null   # the worker stopped at start-up for want of the extension
q -c "CREATE TABLE logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
      INSERT INTO logs (at) SELECT now() - g * interval '1 hour' FROM generate_series(1, 1000) g;
      SELECT relid FROM upkeep.set_policy('logs', 'at', '10 days', run_every => '1 day');" >/dev/null
for _ in $(seq 1 30); do
	[ "$(q -c "SELECT count(*) FROM upkeep.policy_state WHERE last_status = 'ok'")" = 1 ] && break
	sleep 0.5
done
WPID=$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker'")
LPID=$(q -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_upkeep launcher'")
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; } # clock ticks
TICK=$(getconf CLK_TCK)
w0=$(cpu "$WPID"); l0=$(cpu "$LPID")
sleep "$IDLE_S"
w1=$(cpu "$WPID"); l1=$(cpu "$LPID")
W_MS=$(( (w1 - w0) * 1000 / TICK )); L_MS=$(( (l1 - l0) * 1000 / TICK ))
echo "idle over ${IDLE_S}s (naptime 1s, nothing due): worker ${W_MS} ms CPU ($(awk -v c="$W_MS" -v s="$IDLE_S" 'BEGIN { printf "%.3f", c / (s * 10) }') % of a core), launcher ${L_MS} ms CPU"

# latency from due to run
psql_at "$B_PORT" -c "ALTER SYSTEM SET upkeep.naptime = '${NAPTIME:-10}s'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 1
lat=()
for i in 1 2 3; do
	q -c "INSERT INTO logs (at) SELECT now() - interval '30 days' FROM generate_series(1, 10)" >/dev/null
	before=$(q -c "SELECT count(*) FROM upkeep.run_log WHERE table_name = 'public.logs' AND status = 'ok'")
	sleep "0.$((RANDOM % 9 + 1))"
	# times taken by the server (after the commit, and the run's own finished_at): a psql
	# start here costs 100-200 ms, which the polling below must not add to the figure
	t0=$(q -c "UPDATE upkeep.policy_state SET next_due = now()" -c "SELECT pg_catalog.clock_timestamp()" | tail -n 1)   # falls due now, the worker asleep
	until [ "$(q -c "SELECT count(*) FROM upkeep.run_log WHERE table_name = 'public.logs' AND status = 'ok'")" -gt "$before" ]; do sleep 0.02; done
	lat+=($(q -c "SELECT round(extract(epoch FROM max(finished_at) - '$t0'::timestamptz) * 1000) FROM upkeep.run_log WHERE table_name = 'public.logs' AND status = 'ok'"))
done
new=()
for i in 1 2 3; do
	q -c "CREATE TABLE t$i (at timestamptz NOT NULL); INSERT INTO t$i SELECT now() - interval '30 days' FROM generate_series(1, 10)" >/dev/null
	t0=$(q -c "SELECT relid FROM upkeep.set_policy('t$i', 'at', '10 days')" -c "SELECT pg_catalog.clock_timestamp()" | tail -n 1)
	until [ "$(q -c "SELECT count(*) FROM upkeep.run_log WHERE table_name = 'public.t$i' AND status = 'ok'")" = 1 ]; do sleep 0.01; done
	new+=($(q -c "SELECT round(extract(epoch FROM finished_at - '$t0'::timestamptz) * 1000) FROM upkeep.run_log WHERE table_name = 'public.t$i' AND status = 'ok'"))
done
echo "falling due while asleep -> run, naptime ${NAPTIME:-10}s: ${lat[*]} ms (median $(median "${lat[@]}") ms, bounded by the naptime)"
echo "new policy -> first run (set_policy wakes the worker at commit): ${new[*]} ms (median $(median "${new[@]}") ms)"
echo "SUMMARY worker: idle CPU ${W_MS} ms over ${IDLE_S}s (launcher ${L_MS} ms); due->run median $(median "${lat[@]}") ms at naptime ${NAPTIME:-10}s; new policy->run median $(median "${new[@]}") ms"
