#!/usr/bin/env bash
# bench/fingerprint.sh -- table_fingerprint() against the alternatives, on
# one table of ROWS rows (default 2,000,000) with some toasted values, in one
# run on one throwaway cluster, each measured RUNS times (median):
#   count(*)                                 the single-process scan bound
#   upkeep.table_fingerprint(t)              ours: XXH3-128 per row, summed mod 2^128
#   sum(hashtext(t::text))                   a common hand-rolled checksum
#   md5(string_agg(t::text, '' ORDER BY id)) the usual "dump and hash"
#   count(t)                                 the whole-row floor: building each row as a record
#   upkeep.fingerprint_agg(id, at, ...)      the same fingerprint as a combinable aggregate over
#                                            the table's columns (every column, in order)
#   upkeep.fingerprint_agg(t)                the same aggregate over whole rows (builds each row value)
#   count(*), sum(upkeep.row_hash(t))        the form table_fingerprint pushes to Citus shards
# Times are server round trips (psql's \timing), without psql's start; the
# arms' runs are interleaved.  Prints MB/s (table size / time) and the ratios.  Parallel query is off for
# these arms so each is single-process.  Then count(*), count(t), fingerprint_agg
# over the columns and over whole rows again with PAR_WORKERS (2) parallel workers each (max_parallel_workers_per_gather,
# the parallel plan forced for both: parallel_setup_cost = parallel_tuple_cost =
# min_parallel_table_scan_size = 0), checked with EXPLAIN (Gather, same number
# of workers planned) and the workers launched reported: the issue's target is
# fingerprint_agg at >= 0.5x count(*) with the same number of workers.
COLS="id, at, name, amount, tags, note"
. "$(dirname "$0")/lib.sh"
ROWS=${ROWS:-2000000}
bench_cluster "max_parallel_workers_per_gather = 0" "work_mem = 256MB"
q -c "CREATE EXTENSION pg_upkeep" >/dev/null
q -c "CREATE TABLE t (id bigint PRIMARY KEY, at timestamptz NOT NULL, name text, amount numeric, tags int[], note text)" >/dev/null
q -c "INSERT INTO t SELECT g, now() - g * interval '1 second', 'name ' || g, g / 7.0, ARRAY[g % 10, g % 7],
             CASE WHEN g % 1000 = 0 THEN repeat(md5(g::text), 200) ELSE 'short note ' || (g % 97) END
        FROM generate_series(1, $ROWS) g" >/dev/null
q -c "VACUUM ANALYZE t" >/dev/null
SIZE=$(q -c "SELECT pg_total_relation_size('t') - pg_indexes_size('t')")
MB=$(awk -v s="$SIZE" 'BEGIN { printf "%.1f", s / 1048576 }')
TOASTED=$(q -c "SELECT count(*) FROM t WHERE pg_column_size(note) < octet_length(note)")
echo "table: $ROWS rows, $MB MB heap+toast, $TOASTED compressed/toasted values"
# warm the cache
q -c "SELECT count(*) FROM t" >/dev/null; q -c "SELECT * FROM upkeep.table_fingerprint('t')" >/dev/null

declare -A T R
ARMS=(count count_t fingerprint agg_cols agg row_hash hashtext md5)
for _ in $(seq 1 "$RUNS"); do # runs interleaved: a load change on the shared box hits every arm
	for arm in "${ARMS[@]}"; do
		case $arm in
		count) R[$arm]+=" $(sms -c "SELECT count(*) FROM t")" ;;
		fingerprint) R[$arm]+=" $(sms -c "SELECT * FROM upkeep.table_fingerprint('t')")" ;;
		count_t) R[$arm]+=" $(sms -c "SELECT count(t) FROM t")" ;;
		agg_cols) R[$arm]+=" $(sms -c "SELECT upkeep.fingerprint_agg($COLS) FROM t")" ;;
		agg) R[$arm]+=" $(sms -c "SELECT upkeep.fingerprint_agg(t) FROM t")" ;;
		row_hash) R[$arm]+=" $(sms -c "SELECT count(*), sum(upkeep.row_hash(t)) FROM t")" ;;
		hashtext) R[$arm]+=" $(sms -c "SELECT sum(hashtext(t::text)) FROM t")" ;;
		md5) R[$arm]+=" $(sms -c "SELECT md5(string_agg(t::text, '' ORDER BY id)) FROM t")" ;;
		esac
	done
done
for arm in "${ARMS[@]}"; do
	# shellcheck disable=SC2086
	T[$arm]=$(median ${R[$arm]})
	printf '%-12s median %6s ms  %8s MB/s   (runs:%s)\n' "$arm" "${T[$arm]}" \
		"$(awk -v m="$MB" -v t="${T[$arm]}" 'BEGIN { printf "%.0f", m / (t / 1000) }')" "${R[$arm]}"
done
echo "fingerprint vs count(*): $(ratio "${T[count]}" "${T[fingerprint]}")x the scan-bound speed (target >= 0.5)"
echo "fingerprint_agg(columns) vs count(*), 0 workers: $(ratio "${T[count]}" "${T[agg_cols]}")x the speed of count(*)"
echo "fingerprint_agg(t) vs count(*), 0 workers: $(ratio "${T[count]}" "${T[agg]}")x the speed of count(*); vs count(t) (whole-row floor): $(ratio "${T[count_t]}" "${T[agg]}")x; count(t) is $(ratio "${T[count]}" "${T[count_t]}")x count(*)"
echo "count(*) + sum(row_hash(t)) (the Citus shard form) vs count(*): $(ratio "${T[count]}" "${T[row_hash]}")x"
echo "fingerprint vs md5(string_agg): $(ratio "${T[md5]}" "${T[fingerprint]}")x faster (target >= 15)"
echo "fingerprint vs sum(hashtext): $(ratio "${T[hashtext]}" "${T[fingerprint]}")x faster"
# Parallel query: the same number of workers for both, the parallel plan forced for both.
PAR_WORKERS=${PAR_WORKERS:-2}
PAR="SET max_parallel_workers_per_gather = $PAR_WORKERS; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;
     SET min_parallel_table_scan_size = 0; SET parallel_leader_participation = on;"
declare -A PQ=([pcount]="SELECT count(*) FROM t" [pcount_t]="SELECT count(t) FROM t"
	[pagg_cols]="SELECT upkeep.fingerprint_agg($COLS) FROM t" [pagg]="SELECT upkeep.fingerprint_agg(t) FROM t")
PARMS=(pcount pcount_t pagg_cols pagg)
same=$(q -c "$PAR SELECT upkeep.fingerprint_agg($COLS) = (SELECT fingerprint FROM upkeep.table_fingerprint('t'))
                AND upkeep.fingerprint_agg(t) = (SELECT fingerprint FROM upkeep.table_fingerprint('t')) FROM t")
for arm in "${PARMS[@]}"; do
	plan=$(q -c "$PAR EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ${PQ[$arm]}")
	planned=$(echo "$plan" | sed -n 's/.*Workers Planned: \([0-9]*\).*/\1/p' | head -1)
	launched=$(echo "$plan" | sed -n 's/.*Workers Launched: \([0-9]*\).*/\1/p' | head -1)
	gather=$(echo "$plan" | grep -c "Gather" || true)
	echo "$arm plan: Gather nodes $gather, workers planned ${planned:-0}, launched ${launched:-0}; $(echo "$plan" | grep -E "Aggregate|Scan" | sed 's/^ *//; s/->  //' | paste -sd '|' -)"
	[ "${planned:-0}" = "$PAR_WORKERS" ] || echo "WARNING: $arm planned ${planned:-0} workers, not $PAR_WORKERS"
done
for _ in $(seq 1 "$RUNS"); do
	for arm in "${PARMS[@]}"; do R[$arm]+=" $(sms -c "$PAR" -c "${PQ[$arm]}")"; done
done
for arm in "${PARMS[@]}"; do
	# shellcheck disable=SC2086
	T[$arm]=$(median ${R[$arm]})
	printf '%-12s median %6s ms  %8s MB/s   (runs:%s; %s workers)\n' "$arm" "${T[$arm]}" \
		"$(awk -v m="$MB" -v t="${T[$arm]}" 'BEGIN { printf "%.0f", m / (t / 1000) }')" "${R[$arm]}" "$PAR_WORKERS"
done
echo "parallel fingerprint_agg (columns and whole rows) equals table_fingerprint: $same"
echo "fingerprint_agg(columns) vs count(*), $PAR_WORKERS workers each: $(ratio "${T[pcount]}" "${T[pagg_cols]}")x the speed of count(*) (target >= 0.5)"
echo "fingerprint_agg(t) vs count(*), $PAR_WORKERS workers each: $(ratio "${T[pcount]}" "${T[pagg]}")x; vs count(t): $(ratio "${T[pcount_t]}" "${T[pagg]}")x"
echo "parallel speed-up: count(*) $(ratio "${T[count]}" "${T[pcount]}")x, fingerprint_agg(columns) $(ratio "${T[agg_cols]}" "${T[pagg_cols]}")x (on $(nproc) cores)"
echo "SUMMARY fingerprint: ${T[fingerprint]} ms for $ROWS rows ($MB MB); count(*) ${T[count]} ms; md5 ${T[md5]} ms; hashtext ${T[hashtext]} ms; vs count $(ratio "${T[count]}" "${T[fingerprint]}")x, vs md5 $(ratio "${T[md5]}" "${T[fingerprint]}")x; fingerprint_agg(columns) ${T[agg_cols]} ms = $(ratio "${T[count]}" "${T[agg_cols]}")x count(*) at 0 workers, ${T[pagg_cols]} ms = $(ratio "${T[pcount]}" "${T[pagg_cols]}")x count(*) ${T[pcount]} ms at $PAR_WORKERS workers; fingerprint_agg(t) ${T[pagg]} ms = $(ratio "${T[pcount]}" "${T[pagg]}")x at $PAR_WORKERS workers"
