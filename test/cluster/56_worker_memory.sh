#!/usr/bin/env bash
# Cluster test: a worker whose cycles fail keeps flat memory, and no C++
# exception escapes it.
#  - 1,000 failing cycles (fault point worker-cycle:error, armed by ALTER
#    SYSTEM + reload: the worker re-reads its settings), driven by
#    wake_worker(): its private resident memory (RssAnon) stays flat, and the
#    log gets a few lines, not a thousand;
#  - an allocation failure (std::bad_alloc) in the cycle or in the follow-up
#    work (VACUUM, DETACH) is reported, the cluster does not crash-restart,
#    and the same worker carries on.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/worker_lib.sh"

new_cluster main "shared_preload_libraries = 'pg_upkeep'" "upkeep.naptime = 1" "max_worker_processes = 16"
sql "CREATE DATABASE app" >/dev/null
A() { sql -d app "$@"; }
export WAIT_DB=app
A "CREATE EXTENSION pg_upkeep;
   CREATE TABLE logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
   CREATE INDEX ON logs (at);
   SELECT relid FROM upkeep.set_policy('logs', 'at', '10 days', run_every => '1 second');" >/dev/null
set_databases app
check "the worker runs" wait_until 15 "SELECT upkeep.wake_worker()"
W=$(worker_pids app)
check "the worker shows its cycles in pg_stat_activity" wait_until 10 \
	"SELECT query ~ '^pg_upkeep worker: cycle [0-9]+ ok' FROM pg_stat_activity WHERE pid = $W"

# drive N cycles: wake the worker, wait until its cycle number moves on
drive() {
	A "DO \$\$
	DECLARE c0 int; c int; deadline timestamptz;
	BEGIN
	  FOR i IN 1..$1 LOOP
	    PERFORM pg_stat_clear_snapshot();
	    SELECT substring(query FROM 'cycle ([0-9]+)')::int INTO c0 FROM pg_stat_activity WHERE pid = $W;
	    PERFORM upkeep.wake_worker();
	    deadline := clock_timestamp() + interval '10 s';
	    LOOP
	      PERFORM pg_stat_clear_snapshot();
	      SELECT substring(query FROM 'cycle ([0-9]+)')::int INTO c FROM pg_stat_activity WHERE pid = $W;
	      EXIT WHEN c > c0;
	      IF clock_timestamp() > deadline THEN RAISE EXCEPTION 'the worker did not finish a cycle within 10 s'; END IF;
	      PERFORM pg_sleep(0.002);
	    END LOOP;
	  END LOOP;
	END \$\$" >/dev/null
}
cycle_no() { A "SELECT substring(query FROM 'cycle ([0-9]+)')::int FROM pg_stat_activity WHERE pid = $W"; }

# ---- 1,000 failing cycles
set_conf upkeep.fault_points 'worker-cycle:error'
check "the worker's cycles fail at the fault point" wait_until 10 \
	"SELECT query ~ 'cycle [0-9]+ failed: fault injected at worker-cycle' FROM pg_stat_activity WHERE pid = $W"
drive 100
rss0=$(rss_kb "$W"); anon0=$(awk '/^RssAnon:/ {print $2}' "/proc/$W/status")
c0=$(cycle_no)
drive 1000
c1=$(cycle_no)
rss1=$(rss_kb "$W"); anon1=$(awk '/^RssAnon:/ {print $2}' "/proc/$W/status")
check "1,000 more cycles ran ($c0 -> $c1)" test $((c1 - c0)) -ge 1000
is "$(A "SELECT query ~ 'failed: fault injected at worker-cycle' FROM pg_stat_activity WHERE pid = $W")" t "and they failed"
echo "# RSS ${rss0} kB -> ${rss1} kB, RssAnon ${anon0} kB -> ${anon1} kB over $((c1 - c0)) failing cycles"
check "private memory stays flat over 1,000 failing cycles (RssAnon ${anon0} -> ${anon1} kB, < 1 MB growth)" \
	test $((anon1 - anon0)) -lt 1024
lines=$(log_count 'fault injected at worker-cycle')
check "a few log lines for 1,100 identical failures, not one each ($lines)" test "$lines" -le 5
is "$(worker_pids app)" "$W" "the same worker throughout"

# ---- std::bad_alloc inside the cycle
set_conf upkeep.fault_points 'worker-cycle:oom'
check "an allocation failure in the cycle is reported" wait_until 10 \
	"SELECT query ~ 'cycle [0-9]+ failed: .*out of memory' FROM pg_stat_activity WHERE pid = $W"

# ---- std::bad_alloc in the follow-up work (VACUUM after a large delete)
set_conf upkeep.fault_points 'worker-followup:oom'
A "INSERT INTO logs (at) SELECT now() - interval '20 days' FROM generate_series(1, 20000)" >/dev/null
check "an allocation failure in the follow-up VACUUM is reported in run_log" wait_until 20 \
	"SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE action = 'VACUUM' AND status = 'failed' AND message ~ 'out of memory')"
check "no crash restart" no_crash_restart
is "$(worker_pids app)" "$W" "the same worker carries on"
set_conf upkeep.fault_points ''
A "INSERT INTO logs (at) SELECT now() - interval '20 days' FROM generate_series(1, 20000)" >/dev/null
check "and its next VACUUM works" wait_until 20 \
	"SELECT EXISTS (SELECT 1 FROM upkeep.run_log WHERE action = 'VACUUM' AND status = 'ok')"
check "its cycles are ok again" wait_until 10 \
	"SELECT query ~ '^pg_upkeep worker: cycle [0-9]+ ok' FROM pg_stat_activity WHERE pid = $W"
is "$(worker_pids app)" "$W" "still the same worker"
check "no ERROR or FATAL from pg_upkeep's processes" no_upkeep_errors
finish_worker
