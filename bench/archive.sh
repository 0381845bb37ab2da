#!/usr/bin/env bash
# bench/archive.sh -- archival side by side, in one run on one cluster:
#
#  A. ROWS (2,000,000) rows, EXPIRED_PCT (30) % older than the cutoff, an index
#     on the time column, into an archive with the source's primary key:
#       plain    WITH d AS (DELETE ... RETURNING *) INSERT INTO archive SELECT ...   (one transaction)
#       upkeep   CALL upkeep.run_maintenance()  (action archive, batches of 10,000,
#                each batch one DELETE ... RETURNING -> INSERT statement, hashed and
#                recorded in upkeep.archive_manifest, a commit each)
#     rows/s, WAL bytes, the longest transaction.
#  B. Partition moves (partitioned source, partitioned archive): the time to
#     archive one expired month holding 10k, 100k and 1M rows -- it must not
#     grow with the rows (DETACH, ADD COLUMN with a default, ATTACH).
# RUNS (3) runs on fresh data; medians.
. "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-2000000}
EXPIRED_PCT=${EXPIRED_PCT:-30}
bench_cluster
q -c "CREATE EXTENSION pg_upkeep" >/dev/null
install_watcher
SPAN_S=$((730 * 86400))
RETAIN_S=$((SPAN_S * (100 - EXPIRED_PCT) / 100))

load() {
	q -c "DROP TABLE IF EXISTS src, src_archive" >/dev/null
	q -c "CREATE TABLE src (id bigint PRIMARY KEY, at timestamptz NOT NULL, payload text, amount numeric)" >/dev/null
	q -c "INSERT INTO src SELECT g, now() - interval '$SPAN_S seconds' + (g * ($SPAN_S::float8 / $ROWS)) * interval '1 second', md5(g::text), g / 3.0
	      FROM generate_series(1, $ROWS) g" >/dev/null
	q -c "CREATE INDEX ON src (at)" >/dev/null
	q -c "CREATE TABLE src_archive (LIKE src, archived_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (id))" >/dev/null
	q -c "VACUUM ANALYZE src" -c "CHECKPOINT" >/dev/null
}
arm() { # name sql...
	local name=$1; shift
	watch_longest_xact "bench_$name" 120 >"$B_WORK/xact" &
	local w=$!
	sleep 0.2
	local w0 t0 t1 w1
	w0=$(wal_lsn); t0=$(date +%s%3N)
	as_postgres "$PGBIN/psql" -X -q -h "$(cluster_sock "$B_DATA")" -p "$B_PORT" -U postgres \
		-d "dbname=postgres application_name=bench_$name" "$@" >/dev/null
	t1=$(date +%s%3N); w1=$(wal_lsn)
	wait $w
	A_MS=$((t1 - t0)); A_WAL=$(wal_bytes "$w0" "$w1"); A_X=$(cat "$B_WORK/xact")
}
echo "== A. row archival: $ROWS rows, $EXPIRED_PCT % expired"
declare -a P_MS P_WAL P_X U_MS U_WAL U_X U_MOVE
for r in $(seq 1 "$RUNS"); do
	load
	EXP=$(q -c "SELECT count(*) FROM src WHERE at < now() - interval '$RETAIN_S seconds'")
	arm plain -c "WITH d AS (DELETE FROM src WHERE at < now() - interval '$RETAIN_S seconds' RETURNING *)
	              INSERT INTO src_archive (id, at, payload, amount) SELECT id, at, payload, amount FROM d"
	P_MS+=("$A_MS"); P_WAL+=("$A_WAL"); P_X+=("$A_X")
	load
	q -c "SELECT relid FROM upkeep.set_policy('src', 'at', '$RETAIN_S seconds', action => 'archive', archive_to => 'src_archive')" >/dev/null
	arm upkeep -c "CALL upkeep.run_maintenance()"
	U_MS+=("$A_MS"); U_WAL+=("$A_WAL"); U_X+=("$A_X")
	U_MOVE+=("$(q -c "SELECT (extract(epoch FROM finished_at - started_at) * 1000)::int FROM upkeep.run_log WHERE action LIKE 'ARCHIVE%' ORDER BY id DESC LIMIT 1")")
	check=$(q -c "SELECT (SELECT count(*) FROM src) + (SELECT count(*) FROM src_archive) = $ROWS AND (SELECT sum(row_count) FROM upkeep.archive_manifest) = (SELECT count(*) FROM src_archive)")
	[ "$check" = t ] || echo "WARNING: conservation check failed"
	q -c "DELETE FROM upkeep.policy" -c "DELETE FROM upkeep.archive_manifest" >/dev/null
	echo "run $r: plain ${P_MS[-1]} ms (longest xact ${P_X[-1]} ms); upkeep ${U_MS[-1]} ms, moving ${U_MOVE[-1]} ms (longest xact ${U_X[-1]} ms)"
done
pm=$(median "${P_MS[@]}"); um=$(median "${U_MS[@]}"); mv=$(median "${U_MOVE[@]}")
rate() { awk -v n="$EXP" -v t="$1" 'BEGIN { printf "%.0f", n / (t / 1000) }'; }
mb() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
printf 'plain CTE    : %6s ms  %9s rows/s  WAL %6s MB  longest xact %6s ms\n' "$pm" "$(rate "$pm")" "$(mb "$(median "${P_WAL[@]}")")" "$(median "${P_X[@]}")"
printf 'upkeep CALL  : %6s ms  %9s rows/s  WAL %6s MB  longest xact %6s ms  (moving only: %s ms, %s rows/s)\n' "$um" "$(rate "$um")" \
	"$(mb "$(median "${U_WAL[@]}")")" "$(median "${U_X[@]}")" "$mv" "$(rate "$mv")"
echo "upkeep vs plain rows/s: $(ratio "$(rate "$um")" "$(rate "$pm")")x overall, $(ratio "$(rate "$mv")" "$(rate "$pm")")x moving only (target >= 1.0); $EXP rows archived per run"
SUMMARY_A="rows: plain $pm ms vs upkeep $um ms (moving $mv ms) for $EXP rows: $(ratio "$(rate "$um")" "$(rate "$pm")")x / $(ratio "$(rate "$mv")" "$(rate "$pm")")x rows/s; WAL $(mb "$(median "${P_WAL[@]}")") vs $(mb "$(median "${U_WAL[@]}")") MB; longest xact $(median "${P_X[@]}") vs $(median "${U_X[@]}") ms"

echo "== B. partition moves: one expired month of N rows"
# policy first: partitions are born with their bounds CHECK (the move must be flat in rows);
# policy later: partitions made before it get the CHECK validated first (a scan under
# SHARE UPDATE EXCLUSIVE, writers not blocked), then the same flat move.
SUM_B=""
for order in first later; do
	for n in 10000 100000 1000000; do
		runs=(); moves=()
		for r in $(seq 1 "$RUNS"); do
			q -c "DROP TABLE IF EXISTS ps, ps_archive CASCADE" -c "DELETE FROM upkeep.policy" >/dev/null
			q -c "CREATE TABLE ps (id bigint NOT NULL, at timestamptz NOT NULL, payload text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at)" >/dev/null
			policy="SELECT relid FROM upkeep.set_policy('ps', retain => '2 months', action => 'archive', premake => 1)"
			[ "$order" = first ] && q -c "$policy" >/dev/null
			q -c "SELECT count(*) FROM (SELECT upkeep.create_monthly_partition('ps', (date_trunc('month', now()) - g * interval '1 month')::date) FROM generate_series(-1, 3) g) s" >/dev/null
			# all N rows in the month three months back; the cutoff (2 months) expires that month only
			q -c "INSERT INTO ps SELECT g, date_trunc('month', now()) - interval '3 months' + (g % 20) * interval '1 day', md5(g::text) FROM generate_series(1, $n) g" >/dev/null
			q -c "VACUUM ANALYZE ps" -c "CHECKPOINT" >/dev/null
			[ "$order" = later ] && q -c "$policy" >/dev/null
			q -c "CALL upkeep.run_maintenance()" >/dev/null
			runs+=("$(q -c "SELECT (extract(epoch FROM finished_at - started_at) * 1000)::numeric(10,1) FROM upkeep.run_log WHERE action LIKE 'ARCHIVE%' ORDER BY id DESC LIMIT 1")")
			moved=$(q -c "SELECT count(*) FROM ps_archive")
		done
		echo "policy $order, month of $n rows: archive action ${runs[*]} ms (median $(median "${runs[@]}") ms), archive holds $moved rows"
		SUM_B="$SUM_B ${order}/${n}:$(median "${runs[@]}")ms"
	done
done
echo "SUMMARY archive $SUMMARY_A; partition moves$SUM_B"
