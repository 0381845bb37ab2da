#!/usr/bin/env bash
# bench/retention.sh -- retention side by side, in one run on one cluster:
#
#  A. Row retention on ROWS rows (default 2,000,000), EXPIRED_PCT (30) % expired,
#     with an index on the time column:
#       plain     DELETE FROM logs WHERE at < cutoff          (one transaction)
#       upkeep    CALL upkeep.run_maintenance()               (batches of 10,000, a commit each)
#       throttled the same with upkeep.batch_pause = PAUSE_MS (10) ms
#     rows/s, WAL bytes, the longest transaction (watched from pg_stat_activity),
#     and the p99 latency of a concurrent pgbench insert/select workload on the
#     same table during each, against the same workload idle.
#  B. Partition retention on a 24-month partitioned table holding the same rows:
#       drop      plain DROP TABLE of the expired partitions (the floor)
#       upkeep    CALL upkeep.run_maintenance()   (policy action drop)
#       partman   pg_partman 4.7 run_maintenance() with retention
#     plus upkeep at a tenth of the rows (flat in row count?).
# Every arm runs RUNS (3) times on freshly loaded data; medians are printed.
# PARTS_ONLY=1 runs part B alone.
. "$(dirname "$0")/lib.sh"
ensure_packages postgresql-15-partman >/dev/null
ROWS=${ROWS:-2000000}
EXPIRED_PCT=${EXPIRED_PCT:-30}
OLTP_TPS=${OLTP_TPS:-400}
PAUSE_MS=${PAUSE_MS:-10} # upkeep.batch_pause of the throttled arm
bench_cluster "max_connections = 50"
q -c "CREATE EXTENSION pg_upkeep" >/dev/null
install_watcher
q -c "CREATE SCHEMA partman" -c "CREATE EXTENSION pg_partman SCHEMA partman" >/dev/null

# rows spread over 730 days; the oldest EXPIRED_PCT % are older than the cutoff
SPAN_S=$((730 * 86400))
RETAIN_S=$((SPAN_S * (100 - EXPIRED_PCT) / 100))
load_logs() {
	q -c "DROP TABLE IF EXISTS logs" >/dev/null
	q -c "CREATE TABLE logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL, payload text)" >/dev/null
	q -c "INSERT INTO logs (at, payload) SELECT now() - interval '$SPAN_S seconds' + (g * ($SPAN_S::float8 / $ROWS)) * interval '1 second', md5(g::text)
	      FROM generate_series(1, $ROWS) g" >/dev/null
	q -c "CREATE INDEX ON logs (at)" >/dev/null
	q -c "VACUUM ANALYZE logs" -c "CHECKPOINT" >/dev/null
}
cat > "$B_WORK/oltp.sql" <<'SQL'
INSERT INTO logs (at, payload) VALUES (now(), 'new');
SELECT id, at FROM logs WHERE at > now() - interval '1 hour' ORDER BY at DESC LIMIT 10;
SQL
chown postgres "$B_WORK/oltp.sql"

# run_arm NAME SQL...: runs the maintenance with pgbench around it; sets R_MS R_WAL R_XACT R_P99
run_arm() {
	local name=$1; shift
	local logp="$B_WORK/pgb_${name}_$RANDOM"
	(cd "$B_WORK" && as_postgres "$PGBIN/pgbench" -n -h "$(cluster_sock "$B_DATA")" -p "$B_PORT" -U postgres -c 4 -j 2 -R "$OLTP_TPS" -T 10 \
		-f "$B_WORK/oltp.sql" -l --log-prefix="$logp" postgres >/dev/null 2>&1) &
	local pgb=$!
	sleep 4 # connections made and caches warm before the idle window
	watch_longest_xact "bench_$name" 60 >"$B_WORK/xact" &
	local watcher=$!
	sleep 0.2
	local w0 t0 t1 w1
	w0=$(wal_lsn)
	t0=$(date +%s%3N)
	as_postgres "$PGBIN/psql" -X -q -h "$(cluster_sock "$B_DATA")" -p "$B_PORT" -U postgres \
		-d "dbname=postgres application_name=bench_$name" "$@" >/dev/null
	t1=$(date +%s%3N)
	w1=$(wal_lsn)
	wait $watcher
	wait $pgb || true
	R_MS=$((t1 - t0))
	R_WAL=$(wal_bytes "$w0" "$w1")
	R_XACT=$(cat "$B_WORK/xact")
	R_P99=$(p99_overlapping "$logp" "$t0" "$t1")
	# the same workload, idle, over the 2.5 s just before (its first second, connecting, left out)
	R_P99_IDLE=$(p99_overlapping "$logp" $((t0 - 2600)) $((t0 - 100)))
	rm -f "$logp".*
}

if [ "${PARTS_ONLY:-0}" = 1 ]; then # PARTS_ONLY=1: part B alone
	SUMMARY_A="rows: not measured (PARTS_ONLY=1)"
else
echo "== A. row retention: $ROWS rows, $EXPIRED_PCT % expired"
declare -a P_MS P_WAL P_X P_P99 U_MS U_WAL U_X U_P99 IDLE U_DEL T_MS T_P99
EXP=0
for r in $(seq 1 "$RUNS"); do
	load_logs
	EXP=$(q -c "SELECT count(*) FROM logs WHERE at < now() - interval '$RETAIN_S seconds'")
	run_arm plain -c "DELETE FROM logs WHERE at < now() - interval '$RETAIN_S seconds'"
	P_MS+=("$R_MS"); P_WAL+=("$R_WAL"); P_X+=("$R_XACT"); P_P99+=("$R_P99"); IDLE+=("$R_P99_IDLE")
	load_logs
	q -c "SELECT relid FROM upkeep.set_policy('logs', 'at', '$RETAIN_S seconds', batch_size => 10000)" >/dev/null
	run_arm upkeep -c "CALL upkeep.run_maintenance()"
	U_MS+=("$R_MS"); U_WAL+=("$R_WAL"); U_X+=("$R_XACT"); U_P99+=("$R_P99"); IDLE+=("$R_P99_IDLE")
	U_DEL+=("$(q -c "SELECT (extract(epoch FROM finished_at - started_at) * 1000)::int FROM upkeep.run_log WHERE action LIKE 'DELETE%' ORDER BY id DESC LIMIT 1")")
	left=$(q -c "SELECT count(*) FROM logs WHERE at < now() - interval '$RETAIN_S seconds' - interval '1 minute'")
	[ "$left" = 0 ] || echo "WARNING: upkeep left $left expired rows"
	load_logs
	q -c "SELECT relid FROM upkeep.set_policy('logs', 'at', '$RETAIN_S seconds', batch_size => 10000)" >/dev/null
	run_arm throttled -c "SET upkeep.batch_pause = '${PAUSE_MS}ms'" -c "CALL upkeep.run_maintenance()"
	T_MS+=("$R_MS"); T_P99+=("$R_P99"); IDLE+=("$R_P99_IDLE")
	echo "run $r: plain ${P_MS[-1]} ms (longest xact ${P_X[-1]} ms, p99 ${P_P99[-1]} ms); upkeep ${U_MS[-1]} ms, of which deleting ${U_DEL[-1]} ms (longest xact ${U_X[-1]} ms, p99 ${U_P99[-1]} ms); upkeep with batch_pause ${PAUSE_MS} ms: ${T_MS[-1]} ms (p99 ${T_P99[-1]} ms); idle p99 ${R_P99_IDLE} ms"
done
pm=$(median "${P_MS[@]}"); um=$(median "${U_MS[@]}")
p_rate=$(awk -v n="$EXP" -v t="$pm" 'BEGIN { printf "%.0f", n / (t / 1000) }')
u_rate=$(awk -v n="$EXP" -v t="$um" 'BEGIN { printf "%.0f", n / (t / 1000) }')
ud=$(median "${U_DEL[@]}")
ud_rate=$(awk -v n="$EXP" -v t="$ud" 'BEGIN { printf "%.0f", n / (t / 1000) }')
idle=$(median "${IDLE[@]}")
printf 'plain DELETE : %7s ms  %9s rows/s  WAL %6s MB  longest xact %6s ms  OLTP p99 %6s ms\n' "$pm" "$p_rate" \
	"$(awk -v b="$(median "${P_WAL[@]}")" 'BEGIN { printf "%.1f", b / 1048576 }')" "$(median "${P_X[@]}")" "$(median "${P_P99[@]}")"
printf 'upkeep CALL  : %7s ms  %9s rows/s  WAL %6s MB  longest xact %6s ms  OLTP p99 %6s ms\n' "$um" "$u_rate" \
	"$(awk -v b="$(median "${U_WAL[@]}")" 'BEGIN { printf "%.1f", b / 1048576 }')" "$(median "${U_X[@]}")" "$(median "${U_P99[@]}")"
echo "upkeep deleting only (run_log, without the final ANALYZE): $ud ms, $ud_rate rows/s ($(ratio "$ud_rate" "$p_rate")x plain)"
echo "idle OLTP p99: $idle ms; expired rows per run: $EXP; OLTP load: $OLTP_TPS tps, 4 clients"
echo "upkeep vs plain rows/s: $(ratio "$u_rate" "$p_rate")x (target >= 1.0); OLTP p99 vs idle: plain $(ratio "$(median "${P_P99[@]}")" "$idle")x, upkeep $(ratio "$(median "${U_P99[@]}")" "$idle")x (target <= 1.5)"
echo "upkeep with upkeep.batch_pause = ${PAUSE_MS}ms: $(median "${T_MS[@]}") ms, OLTP p99 $(median "${T_P99[@]}") ms: $(ratio "$(median "${T_P99[@]}")" "$idle")x idle (target <= 1.5), $(ratio "$EXP" "$(awk -v t="$(median "${T_MS[@]}")" 'BEGIN { print t / 1000 }')") rows/s"
SUMMARY_A="rows: plain ${pm} ms vs upkeep ${um} ms, deleting ${ud} ms (${EXP} rows; $(ratio "$u_rate" "$p_rate")x rows/s, $(ratio "$ud_rate" "$p_rate")x deleting only; longest xact $(median "${P_X[@]}") vs $(median "${U_X[@]}") ms; p99 plain/upkeep/paused/idle $(median "${P_P99[@]}")/$(median "${U_P99[@]}")/$(median "${T_P99[@]}")/${idle} ms)"

fi
echo "== B. partition retention: 24 monthly partitions, same rows"
load_parts() { # NAME ROWS
	local t=$1 n=$2
	q -c "DROP TABLE IF EXISTS $t CASCADE" >/dev/null
	q -c "CREATE TABLE $t (id bigint NOT NULL, at timestamptz NOT NULL, payload text) PARTITION BY RANGE (at)" >/dev/null
	q -c "SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('$t', (date_trunc('month', now()) - g * interval '1 month')::date)
	      FROM generate_series(-2, 23) g) s" >/dev/null
	q -c "INSERT INTO $t SELECT g, now() - interval '$SPAN_S seconds' + (g * ($SPAN_S::float8 / $n)) * interval '1 second', md5(g::text)
	      FROM generate_series(1, $n) g" >/dev/null
	q -c "VACUUM ANALYZE $t" -c "CHECKPOINT" >/dev/null
}
expired_parts() { # the partitions of $1 whose upper bound is before now - retain
	q -c "SELECT string_agg(c.oid::regclass::text, ', ') FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
	      WHERE i.inhparent = '$1'::regclass
	        AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz <= now() - interval '$RETAIN_S seconds'"
}
declare -a D_MS U2_MS M_MS S_MS
for r in $(seq 1 "$RUNS"); do
	load_parts p_drop "$ROWS"
	victims=$(expired_parts p_drop)
	D_MS+=("$(ms q -c "DROP TABLE $victims")")
	load_parts p_upkeep "$ROWS"
	q -c "SELECT relid FROM upkeep.set_policy('p_upkeep', retain => '$RETAIN_S seconds', premake => 2)" >/dev/null
	U2_MS+=("$(ms q -c "CALL upkeep.run_maintenance(tbl => 'p_upkeep')")")
	load_parts p_small $((ROWS / 10))
	q -c "SELECT relid FROM upkeep.set_policy('p_small', retain => '$RETAIN_S seconds', premake => 2)" >/dev/null
	S_MS+=("$(ms q -c "CALL upkeep.run_maintenance(tbl => 'p_small')")")
	# pg_partman: the same set, taken over by create_parent, retention configured
	q -c "DROP TABLE IF EXISTS p_partman CASCADE" -c "DELETE FROM partman.part_config WHERE parent_table = 'public.p_partman'" >/dev/null
	q -c "CREATE TABLE p_partman (id bigint NOT NULL, at timestamptz NOT NULL, payload text) PARTITION BY RANGE (at)" >/dev/null
	q -c "SELECT partman.create_parent('public.p_partman', 'at', 'native', 'monthly', p_premake := 2,
	        p_start_partition := (date_trunc('month', now()) - interval '23 months')::text)" >/dev/null
	q -c "INSERT INTO p_partman SELECT g, now() - interval '$SPAN_S seconds' + (g * ($SPAN_S::float8 / $ROWS)) * interval '1 second', md5(g::text)
	      FROM generate_series(1, $ROWS) g" -c "VACUUM ANALYZE p_partman" -c "CHECKPOINT" >/dev/null
	q -c "UPDATE partman.part_config SET retention = '$RETAIN_S seconds', retention_keep_table = false WHERE parent_table = 'public.p_partman'" >/dev/null
	M_MS+=("$(ms q -c "SELECT partman.run_maintenance('public.p_partman', p_analyze := false, p_jobmon := false)")")
	echo "run $r: DROP ${D_MS[-1]} ms; upkeep ${U2_MS[-1]} ms ($ROWS rows), ${S_MS[-1]} ms ($((ROWS / 10)) rows); pg_partman ${M_MS[-1]} ms"
done
dm=$(median "${D_MS[@]}"); u2=$(median "${U2_MS[@]}"); sm=$(median "${S_MS[@]}"); mm=$(median "${M_MS[@]}")
echo "expired partitions dropped per run: $(q -c "SELECT count(*) FROM upkeep.run_log WHERE table_name = 'public.p_upkeep' AND action LIKE 'DROP%'" >/dev/null; echo "$victims" | tr ',' '\n' | wc -l)"
echo "plain DROP $dm ms; upkeep $u2 ms ($(ratio "$u2" "$dm")x the DROP floor, target <= 1.1); upkeep at 1/10 rows $sm ms (flat: $(ratio "$u2" "$sm")x); pg_partman $mm ms ($(ratio "$mm" "$u2")x slower than upkeep)"
echo "SUMMARY $SUMMARY_A; partitions: DROP $dm ms, upkeep $u2 ms ($(ratio "$u2" "$dm")x), upkeep 1/10 rows $sm ms, pg_partman $mm ms"
