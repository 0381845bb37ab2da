#!/usr/bin/env bash
# bench/partitions.sh -- partition creation and steady-state maintenance, side
# by side, in one run on one throwaway cluster, for SETS (1,000) range-
# partitioned tables (id bigint, at timestamptz, v text), RUNS (3) times each:
#
#  1. create 12 monthly partitions per set, one transaction per arm:
#       plain     CREATE TABLE ... PARTITION OF ... FOR VALUES ...   (the floor)
#       upkeep    upkeep.create_monthly_partition(set, month)
#       partman   pg_partman 4.7 create_parent(native, monthly, premake 11) + run_maintenance()
#  2. premake: every set has its current and next month; maintenance must
#     add 3 more so that 4 future months are ready:
#       upkeep    set_policy(premake => 4) + CALL upkeep.run_maintenance()
#       partman   part_config.premake = 4 + CALL partman.run_maintenance_proc()
#     plain     CREATE TABLE ... PARTITION OF for the same 3 months per set (the floor)
#  3. steady state (nothing to do): maintenance passes over the sets, timed by
#     psql's \timing: the first in a new session (cold caches) and the second
#     in the same session (warm, as in the long-lived worker).
#
# pg_partman 4.7 also makes a template table and a DEFAULT partition per set;
# counts of children are printed so the work compared is visible.  Every arm
# runs in a database of its own, freshly created: DDL gets slower as a
# catalog grows, so arms sharing one database would favour whichever ran first.
. "$(dirname "$0")/lib.sh"
ensure_packages postgresql-15-partman >/dev/null
SETS=${SETS:-1000}
bench_cluster "max_connections = 30"
DB=postgres
q() { psql_at "$B_PORT" -d "$DB" -At -v ON_ERROR_STOP=1 "$@" 2>&1 | grep -v "^NOTICE:" || true; }
# fresh_db NAME: a new database NAME_r<run> with both extensions; selects it for q.
# Databases are never dropped during the bench: dropping one with thousands of
# files makes ext4 skip its recently freed inodes on every file created in the
# next minutes, which doubled whichever arm came next (4.6 s vs 11.6 s for the
# same premake); the cluster goes as a whole at the end.
fresh_db() {
	DB=postgres
	q -c "CREATE DATABASE ${1}_r$r" >/dev/null
	DB=${1}_r$r
	q -c "CREATE EXTENSION pg_upkeep" -c "CREATE SCHEMA partman" -c "CREATE EXTENSION pg_partman SCHEMA partman" -c "CHECKPOINT" >/dev/null
}

make_sets() { # prefix
	q -c "DO \$\$ BEGIN FOR i IN 1..$SETS LOOP
	        EXECUTE format('CREATE TABLE %I (id bigint NOT NULL, at timestamptz NOT NULL, v text) PARTITION BY RANGE (at)', '$1' || i);
	      END LOOP; END \$\$" >/dev/null
}
drop_sets() { # prefix
	q -c "DELETE FROM partman.part_config WHERE parent_table LIKE 'public.$1%'" >/dev/null
	q -c "DO \$\$ DECLARE r record; BEGIN
	        FOR r IN SELECT oid::regclass AS t FROM pg_class WHERE relname LIKE '$1%' AND relkind = 'p' AND NOT relispartition LOOP
	          EXECUTE format('DROP TABLE %s CASCADE', r.t); END LOOP;
	        FOR r IN SELECT oid::regclass AS t FROM pg_class WHERE relname LIKE 'template_public_$1%' AND relkind = 'r' LOOP
	          EXECUTE format('DROP TABLE %s', r.t); END LOOP; END \$\$" >/dev/null
	q -c "DELETE FROM upkeep.policy" -c "DELETE FROM upkeep.policy_state" -c "CHECKPOINT" >/dev/null
}
# nth_timing N STATEMENT: round trip (ms, as psql's \timing) of the statement's Nth run in a new session:
# 1 = cold caches (connection set-up excluded), 2 = warm, as in a long-lived worker
nth_timing() { q -c '\timing on' -c "$2" -c "$2" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' | sed -n "$1p" | awk '{ printf "%d", $1 + 0.5 }'; }
children() { q -c "SELECT count(*) FROM pg_inherits i JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname LIKE '$1%' AND p.relkind = 'p'"; }
M0="date_trunc('month', now())"

declare -a PLAIN UPK PART PRE_U PRE_P PRE_PL STEADY_U STEADY_P WARM_U WARM_P
for r in $(seq 1 "$RUNS"); do
	# ---- 1. twelve months per set (CREATE_PHASE=0 skips it: pg_partman takes minutes there)
	if [ "${CREATE_PHASE:-1}" = 1 ]; then
	fresh_db b_plain
	make_sets pl_
	PLAIN+=("$(ms q -c "DO \$\$ DECLARE m timestamptz; BEGIN FOR i IN 1..$SETS LOOP FOR k IN 0..11 LOOP
	    m := $M0 + k * interval '1 month';
	    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', 'pl_' || i || '_' || to_char(m, 'YYYY_MM'),
	                   'pl_' || i, m, m + interval '1 month');
	  END LOOP; END LOOP; END \$\$")")
	n_plain=$(children pl_)
	fresh_db b_upkeep
	make_sets up_
	UPK+=("$(ms q -c "DO \$\$ BEGIN FOR i IN 1..$SETS LOOP FOR k IN 0..11 LOOP
	    PERFORM upkeep.create_monthly_partition(('up_' || i)::regclass, ($M0 + k * interval '1 month')::date);
	  END LOOP; END LOOP; END \$\$")")
	n_upk=$(children up_)
	fresh_db b_partman
	make_sets pm_
	PART+=("$(ms q -c "DO \$\$ BEGIN FOR i IN 1..$SETS LOOP
	    PERFORM partman.create_parent('public.pm_' || i, 'at', 'native', 'monthly', p_premake := 11,
	                                  p_start_partition := to_char($M0, 'YYYY-MM-DD'), p_jobmon := false);
	  END LOOP; END \$\$" -c "SELECT partman.run_maintenance(p_jobmon := false)")")
	n_part=$(children pm_)
	echo "run $r (12 months): plain ${PLAIN[-1]} ms ($n_plain children), upkeep ${UPK[-1]} ms ($n_upk), pg_partman ${PART[-1]} ms ($n_part incl. DEFAULT)"
	fi

	# ---- 2. premake 4 more months per set, by maintenance
	fresh_db b_upkeep2
	make_sets up_
	q -c "DO \$\$ BEGIN FOR i IN 1..$SETS LOOP
	        PERFORM upkeep.create_monthly_partition(('up_' || i)::regclass, $M0::date);
	        PERFORM upkeep.create_monthly_partition(('up_' || i)::regclass, ($M0 + interval '1 month')::date);
	        PERFORM upkeep.set_policy(('up_' || i)::regclass, retain => '10 years', premake => 4);
	      END LOOP; END \$\$" -c "CHECKPOINT" >/dev/null
	PRE_U+=("$(ms q -c "CALL upkeep.run_maintenance()")")
	nu=$(children up_)
	STEADY_U+=("$(nth_timing 1 "CALL upkeep.run_maintenance()")")
	WARM_U+=("$(nth_timing 2 "CALL upkeep.run_maintenance()")")
	fresh_db b_plain2
	make_sets pl_
	q -c "DO \$\$ DECLARE m timestamptz; BEGIN FOR i IN 1..$SETS LOOP FOR k IN 0..1 LOOP
	    m := $M0 + k * interval '1 month';
	    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', 'pl_' || i || '_' || to_char(m, 'YYYY_MM'),
	                   'pl_' || i, m, m + interval '1 month');
	  END LOOP; END LOOP; END \$\$" -c "CHECKPOINT" >/dev/null
	PRE_PL+=("$(ms q -c "DO \$\$ DECLARE m timestamptz; BEGIN FOR i IN 1..$SETS LOOP FOR k IN 2..4 LOOP
	    m := $M0 + k * interval '1 month';
	    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)', 'pl_' || i || '_' || to_char(m, 'YYYY_MM'),
	                   'pl_' || i, m, m + interval '1 month');
	  END LOOP; END LOOP; END \$\$")")
	fresh_db b_partman2
	make_sets pm_
	q -c "DO \$\$ BEGIN FOR i IN 1..$SETS LOOP
	        PERFORM partman.create_parent('public.pm_' || i, 'at', 'native', 'monthly', p_premake := 1,
	                                      p_start_partition := to_char($M0, 'YYYY-MM-DD'), p_jobmon := false);
	      END LOOP; END \$\$" -c "UPDATE partman.part_config SET premake = 4, infinite_time_partitions = true" -c "CHECKPOINT" >/dev/null
	PRE_P+=("$(ms q -c "CALL partman.run_maintenance_proc(p_jobmon := false)")")
	np=$(children pm_)
	STEADY_P+=("$(nth_timing 1 "SELECT partman.run_maintenance(p_jobmon := false)")")
	WARM_P+=("$(nth_timing 2 "SELECT partman.run_maintenance(p_jobmon := false)")")
	echo "run $r (premake 4): plain DDL ${PRE_PL[-1]} ms, upkeep ${PRE_U[-1]} ms ($nu children), pg_partman ${PRE_P[-1]} ms ($np incl. DEFAULT); steady state: upkeep ${STEADY_U[-1]} ms (warm ${WARM_U[-1]}), pg_partman ${STEADY_P[-1]} ms (warm ${WARM_P[-1]})"
	DB=postgres
	for d in b_plain b_upkeep b_partman b_upkeep2 b_partman2 b_plain2; do q -c "DROP DATABASE IF EXISTS $d" >/dev/null; done
done
pl=$(median "${PLAIN[@]:-0}"); up=$(median "${UPK[@]:-0}"); pa=$(median "${PART[@]:-0}")
pu=$(median "${PRE_U[@]}"); pp=$(median "${PRE_P[@]}"); ppl=$(median "${PRE_PL[@]}"); su=$(median "${STEADY_U[@]}"); sp=$(median "${STEADY_P[@]}")
wu=$(median "${WARM_U[@]}"); wp=$(median "${WARM_P[@]}")
echo "12 months x $SETS sets: plain DDL $pl ms, upkeep $up ms ($(ratio "$up" "$pl")x the floor, target <= 1.2), pg_partman $pa ms (upkeep $(ratio "$pa" "$up")x faster)"
echo "premake (3 new months) x $SETS sets by maintenance: upkeep $pu ms ($(awk -v t="$pu" -v n="$SETS" 'BEGIN { printf "%.2f", t / n }') ms/set), pg_partman $pp ms ($(awk -v t="$pp" -v n="$SETS" 'BEGIN { printf "%.1f", t / n }') ms/set): $(ratio "$pp" "$pu")x (target >= 10); plain DDL of the same months $ppl ms: upkeep $(ratio "$pu" "$ppl")x the floor (target <= 1.2)"
echo "steady state, $SETS sets (psql \\timing, connection set-up excluded): new session: upkeep $su ms, pg_partman $sp ms: $(ratio "$sp" "$su")x (target >= 50); warm session (as the worker): upkeep $wu ms, pg_partman $wp ms: $(ratio "$wp" "$wu")x"
echo "SUMMARY partitions ($SETS sets, median of $RUNS): 12 months plain $pl / upkeep $up / partman $pa ms; premake plain $ppl / upkeep $pu / partman $pp ms ($(ratio "$pp" "$pu")x partman, $(ratio "$pu" "$ppl")x plain); steady upkeep $su / partman $sp ms ($(ratio "$sp" "$su")x; warm $wu / $wp ms, $(ratio "$wp" "$wu")x)"
