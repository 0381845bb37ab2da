#!/usr/bin/env bash
# bench/citus.sh -- pg_upkeep on a Citus cluster (a coordinator and two worker
# nodes on loopback, test/citus/lib.sh's citus_cluster, citus.shard_count 4)
# against hand-written SQL on the same cluster, in one run, each arm RUNS (3)
# times on fresh data (medians):
#
#  a. partitions: SETS (4) distributed partitioned tables (distributed by id,
#     partitioned by month on `at`), 12 monthly partitions each, one statement
#     per partition in one session:
#       plain    CREATE TABLE ... PARTITION OF ... FOR VALUES FROM (..) TO (..)
#       upkeep   SELECT upkeep.create_monthly_partition(parent, month)
#     time ratio, and the remote commands each issues (counted once per arm on
#     fresh tables: citus.log_remote_commands = on, client_min_messages = log,
#     the "issuing" lines psql prints on stderr).
#  b. retention: a distributed table of ROWS (500,000) rows, EXPIRED_PCT (30) %
#     older than the cutoff, an index on the time column:
#       plain    DELETE FROM t WHERE at < now() - interval '...'
#       upkeep   set_policy('t', 'at', '...'), then
#                SELECT sum(rows_affected) FROM upkeep.cleanup_old_data(tbl => 't')
#                (one transaction, batches of 10,000) and, separately,
#                CALL upkeep.run_maintenance(tbl => 't') (a commit per batch)
#     rows/s ratio (issue 14 target: >= 0.7x the plain DELETE).
#  c. archive: the same table into an archive:
#       upkeep   SELECT upkeep.archive_table('t', older_than => '...', time_column => 'at')  (auto-created t_archive)
#       plain    WITH d AS (DELETE FROM t WHERE at < ... RETURNING *) INSERT INTO t_archive SELECT ...
#     The hand-written arm's archive is the same kind of table pg_upkeep created
#     (local on the coordinator, or distributed co-located with t: whichever
#     upkeep's auto-created archive turned out to be, printed), with the same
#     columns (source columns, archived_at, the primary key).
# Times are the server round trips of the measured statements (psql's \timing),
# without psql's start and connection.  Remote commands: the "issuing" lines of
# citus.log_remote_commands, one extra pass per arm on fresh data.
# Citus is not a Debian package: without citus.so in $PG_CONFIG --pkglibdir the
# script prints "SKIPPED: Citus not installed" and exits 0.  The nodes run
# with fsync and synchronous_commit on, shared_buffers 256MB each (three
# servers share the machine).
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
PG_CONFIG=${PG_CONFIG:-$PGBIN/pg_config}
if [ ! -f "$("$PG_CONFIG" --pkglibdir)/citus.so" ]; then
	echo "SKIPPED: Citus not installed ($("$PG_CONFIG" --pkglibdir)/citus.so absent)"
	exit 0
fi
. "$(dirname "$0")/lib.sh"
. "$BENCH_ROOT/test/citus/lib.sh"
set -e
trap 't_cleanup; rm -rf "$B_WORK"' EXIT
ROWS=${ROWS:-500000}
EXPIRED_PCT=${EXPIRED_PCT:-30}
SETS=${SETS:-4}
citus_cluster "fsync = on" "synchronous_commit = on" "shared_buffers = 256MB" "max_wal_size = 4GB" \
	"checkpoint_timeout = 30min" "autovacuum = off" "max_locks_per_transaction = 1024" >/dev/null
[ "$N_FAIL" -eq 0 ] || { echo "Citus cluster setup failed"; exit 1; }
echo "Citus $(C "SELECT extversion FROM pg_extension WHERE extname = 'citus'"), coordinator :$PORT_coord, workers :$PORT_w1 :$PORT_w2, $(C "SHOW citus.shard_count") shards"

# cq SQL...: statements (each a -c) in one session on the coordinator, output dropped
cq() {
	local args=()
	for s in "$@"; do args+=(-c "$s"); done
	psql_at "$PORT_coord" -d postgres -At -v ON_ERROR_STOP=1 "${args[@]}" >/dev/null 2>"$B_WORK/err" ||
		{ cat "$B_WORK/err" >&2; return 1; }
}
# cf FILE [log]: run a script in one session; with "log", count the remote commands Citus issues
cf() {
	local pre=()
	[ "${2:-}" = log ] && pre=(-c "SET citus.log_remote_commands = on" -c "SET client_min_messages = log")
	psql_at "$PORT_coord" -d postgres -At -v ON_ERROR_STOP=1 "${pre[@]}" -f "$1" >/dev/null 2>"$B_WORK/err" ||
		{ grep -v issuing "$B_WORK/err" >&2; return 1; }
	[ "${2:-}" != log ] || grep -c "issuing" "$B_WORK/err"
}
# cql SQL: one statement with Citus's remote command log on; prints the number of commands issued
cql() {
	psql_at "$PORT_coord" -d postgres -At -v ON_ERROR_STOP=1 -c "SET citus.log_remote_commands = on" \
		-c "SET client_min_messages = log" -c "$1" >/dev/null 2>"$B_WORK/err" || { grep -v issuing "$B_WORK/err" >&2; return 1; }
	grep -c "issuing" "$B_WORK/err"
}
# lastlog ACTION-PREFIX: ms of the newest run_log entry whose action starts so
lastlog() { C "SELECT coalesce((SELECT (extract(epoch FROM finished_at - started_at) * 1000)::int FROM upkeep.run_log
	WHERE action LIKE '$1%' ORDER BY id DESC LIMIT 1)::text, 'n/a')"; }
# tms SQL... / tmsf FILE: run statements (each a -c) / a script in one session on the coordinator and
# write to $B_WORK/ms the server round trips they took (psql's \timing, summed): psql's start and
# connection (100-200 ms here, more than some arms) stay out of the figures
tsum() { awk '/^Time: / { t += $2 } END { printf "%d", t + 0.5 }' >"$B_WORK/ms"; }
tms() {
	local args=(-c '\timing on')
	for s in "$@"; do args+=(-c "$s"); done
	psql_at "$PORT_coord" -d postgres -At -v ON_ERROR_STOP=1 "${args[@]}" 2>"$B_WORK/err" | tsum ||
		{ cat "$B_WORK/err" >&2; return 1; }
}
tmsf() {
	psql_at "$PORT_coord" -d postgres -At -v ON_ERROR_STOP=1 -c '\timing on' -f "$1" 2>"$B_WORK/err" | tsum ||
		{ cat "$B_WORK/err" >&2; return 1; }
}

# ---------------------------------------------------------------- a. partitions
echo "== a. partitions: $SETS distributed partitioned tables x 12 monthly partitions"
# mkparents PREFIX: SETS distributed partitioned tables PREFIX_1..N, nothing attached
mkparents() {
	local i stmts=()
	for i in $(seq 1 "$SETS"); do
		stmts+=("CREATE TABLE $1_$i (id bigint NOT NULL, at timestamptz NOT NULL, payload text) PARTITION BY RANGE (at)"
			"SELECT create_distributed_table('$1_$i', 'id')")
	done
	cq "${stmts[@]}"
}
# partsql ARM PREFIX > file: 12 months for each set, one statement each
partsql() {
	local i m from to
	for i in $(seq 1 "$SETS"); do
		for m in $(seq 0 11); do
			from=$(date -u -d "2027-01-01 +$m month" +%Y-%m-01)
			to=$(date -u -d "2027-01-01 +$((m + 1)) month" +%Y-%m-01)
			if [ "$1" = plain ]; then
				echo "CREATE TABLE $2_${i}_p${from//-/_} PARTITION OF $2_$i FOR VALUES FROM ('$from') TO ('$to');"
			else
				echo "SELECT upkeep.create_monthly_partition('$2_$i', '$from');"
			fi
		done
	done
}
declare -A PM PCMD
PM_plain=()
PM_upkeep=()
for arm in plain upkeep; do
	mkparents "cnt_$arm"
	partsql "$arm" "cnt_$arm" >"$B_WORK/p.sql"
	PCMD[$arm]=$(cf "$B_WORK/p.sql" log)
	n=$(C "SELECT count(*) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhparent WHERE c.relname LIKE 'cnt\_${arm}\_%'")
	[ "$n" = $((SETS * 12)) ] || echo "WARNING: $arm made $n partitions, not $((SETS * 12))"
done
for r in $(seq 1 "$RUNS"); do
	line="run $r:"
	for arm in plain upkeep; do
		pfx="p${r}_$arm"
		mkparents "$pfx"
		partsql "$arm" "$pfx" >"$B_WORK/p.sql"
		tmsf "$B_WORK/p.sql"
		if [ "$arm" = plain ]; then PM_plain+=("$(cat "$B_WORK/ms")"); else PM_upkeep+=("$(cat "$B_WORK/ms")"); fi
		line="$line $arm $(cat "$B_WORK/ms") ms"
	done
	echo "$line"
done
PM[plain]=$(median "${PM_plain[@]}")
PM[upkeep]=$(median "${PM_upkeep[@]}")
printf 'plain DDL     : %6s ms  (%s per partition)  remote commands %s\n' "${PM[plain]}" \
	"$(awk -v t="${PM[plain]}" -v n=$((SETS * 12)) 'BEGIN { printf "%.1f ms", t / n }')" "${PCMD[plain]}"
printf 'upkeep        : %6s ms  (%s per partition)  remote commands %s\n' "${PM[upkeep]}" \
	"$(awk -v t="${PM[upkeep]}" -v n=$((SETS * 12)) 'BEGIN { printf "%.1f ms", t / n }')" "${PCMD[upkeep]}"
echo "upkeep / plain time: $(ratio "${PM[upkeep]}" "${PM[plain]}")x (target <= 1.1); remote commands $(ratio "${PCMD[upkeep]}" "${PCMD[plain]}")x for $((SETS * 12)) partitions"
SUM_A="partitions ${PM[upkeep]} vs ${PM[plain]} ms = $(ratio "${PM[upkeep]}" "${PM[plain]}")x, remote commands ${PCMD[upkeep]} vs ${PCMD[plain]}"

# ---------------------------------------------------------------- b./c. data
SPAN_S=$((100 * 86400))
RETAIN_S=$((SPAN_S * (100 - EXPIRED_PCT) / 100))
CUT="now() - interval '$RETAIN_S seconds'"
# load: a fresh distributed table t of ROWS rows (index on at), no archive
load() {
	cq "DROP TABLE IF EXISTS t, t_archive" \
		"CREATE TABLE t (id bigint PRIMARY KEY, at timestamptz NOT NULL, payload text, amount numeric)" \
		"SELECT create_distributed_table('t', 'id')" \
		"INSERT INTO t SELECT g, now() - interval '$SPAN_S seconds' + (g * ($SPAN_S::float8 / $ROWS)) * interval '1 second', md5(g::text), g / 3.0
		   FROM generate_series(1, $ROWS) g" \
		"CREATE INDEX ON t (at)" "VACUUM ANALYZE t" "CHECKPOINT"
	for p in "$PORT_w1" "$PORT_w2"; do sql -p "$p" "CHECKPOINT" >/dev/null; done
	EXP=$(C "SELECT count(*) FROM t WHERE at < $CUT")
}
rate() { awk -v n="$1" -v t="$2" 'BEGIN { if (t == 0) print "inf"; else printf "%.0f", n / (t / 1000) }'; }

echo "== b. retention: $ROWS rows, $EXPIRED_PCT % expired, distributed by id, index on at"
declare -a R_plain R_pan R_func R_fdel R_call R_cdel
for r in $(seq 1 "$RUNS"); do
	load
	tms "DELETE FROM t WHERE at < $CUT"
	R_plain+=("$(cat "$B_WORK/ms")")
	left=$(C "SELECT count(*) FROM t")
	[ "$left" = $((ROWS - EXP)) ] || echo "WARNING: plain left $left rows"
	tms "ANALYZE t" # what upkeep does after deleting; reported apart
	R_pan+=("$(cat "$B_WORK/ms")")
	load
	cq "SELECT relid FROM upkeep.set_policy('t', 'at', '$RETAIN_S seconds')"
	tms "SELECT sum(rows_affected) FROM upkeep.cleanup_old_data(tbl => 't')"
	R_func+=("$(cat "$B_WORK/ms")"); R_fdel+=("$(lastlog DELETE)")
	left=$(C "SELECT count(*) FROM t")
	[ "$left" = $((ROWS - EXP)) ] || echo "WARNING: cleanup_old_data left $left rows, expected $((ROWS - EXP))"
	load
	cq "SELECT relid FROM upkeep.set_policy('t', 'at', '$RETAIN_S seconds')"
	tms "CALL upkeep.run_maintenance(tbl => 't')"
	R_call+=("$(cat "$B_WORK/ms")"); R_cdel+=("$(lastlog DELETE)")
	left=$(C "SELECT count(*) FROM t")
	[ "$left" = $((ROWS - EXP)) ] || echo "WARNING: run_maintenance left $left rows, expected $((ROWS - EXP))"
	echo "run $r: $EXP rows: plain DELETE ${R_plain[-1]} ms (+ ANALYZE ${R_pan[-1]} ms), cleanup_old_data ${R_func[-1]} ms (deleting ${R_fdel[-1]} ms), run_maintenance ${R_call[-1]} ms (deleting ${R_cdel[-1]} ms)"
done
# remote commands, on fresh data once more
load; RC_plain=$(cql "DELETE FROM t WHERE at < $CUT")
load; cq "SELECT relid FROM upkeep.set_policy('t', 'at', '$RETAIN_S seconds')"
RC_func=$(cql "SELECT sum(rows_affected) FROM upkeep.cleanup_old_data(tbl => 't')")
RB=$(C "SELECT batches FROM upkeep.run_log WHERE action LIKE 'DELETE%' ORDER BY id DESC LIMIT 1")
rp=$(median "${R_plain[@]}"); rpa=$(median "${R_pan[@]}"); rf=$(median "${R_func[@]}"); rc=$(median "${R_call[@]}")
rfd=$(median "${R_fdel[@]}"); rcd=$(median "${R_cdel[@]}")
printf 'plain DELETE        : %6s ms  %9s rows/s  (ANALYZE t afterwards: %s ms)  remote commands %s\n' "$rp" "$(rate "$EXP" "$rp")" "$rpa" "$RC_plain"
printf 'cleanup_old_data()  : %6s ms  %9s rows/s  %sx the plain DELETE (target >= 0.7), %sx DELETE + ANALYZE; deleting only (run_log) %s ms = %sx  remote commands %s (%s batches)\n' \
	"$rf" "$(rate "$EXP" "$rf")" "$(ratio "$rp" "$rf")" "$(ratio "$((rp + rpa))" "$rf")" "$rfd" "$(ratio "$rp" "$rfd")" "$RC_func" "$RB"
printf 'CALL run_maintenance: %6s ms  %9s rows/s  %sx the plain DELETE, %sx DELETE + ANALYZE; deleting only (run_log) %s ms = %sx\n' \
	"$rc" "$(rate "$EXP" "$rc")" "$(ratio "$rp" "$rc")" "$(ratio "$((rp + rpa))" "$rc")" "$rcd" "$(ratio "$rp" "$rcd")"
SUM_B="retention $EXP rows: plain DELETE $rp ms (+ANALYZE $rpa), cleanup_old_data $rf ms ($(ratio "$rp" "$rf")x rows/s; deleting only $rfd ms, $(ratio "$rp" "$rfd")x), run_maintenance $rc ms ($(ratio "$rp" "$rc")x; deleting only $(ratio "$rp" "$rcd")x); remote commands $RC_func vs $RC_plain"

echo "== c. archive: $ROWS rows, $EXPIRED_PCT % expired, into an archive"
declare -a A_plain A_up
KIND=""
kind() { # kind of t_archive: local / distributed (colocated?) / reference / citus local
	C "SELECT coalesce((SELECT CASE partmethod WHEN 'h' THEN 'distributed by ' || column_to_column_name(logicalrelid, partkey)
	          || CASE WHEN colocationid = (SELECT colocationid FROM pg_dist_partition WHERE logicalrelid = 't'::regclass)
	                  THEN ', co-located with t' ELSE ', not co-located' END
	        WHEN 'n' THEN CASE WHEN repmodel = 't' THEN 'reference' ELSE 'citus local' END ELSE partmethod::text END
	      FROM pg_dist_partition WHERE logicalrelid = 't_archive'::regclass), 'local on the coordinator')"
}
# the hand-written arm's archive: the same columns and key as upkeep's, and distributed as upkeep's ($KIND)
plain_archive_table() {
	cq "CREATE TABLE t_archive (LIKE t, archived_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (id))"
	case $KIND in
	distributed*) cq "SELECT create_distributed_table('t_archive', 'id', colocate_with => 't')" ;;
	reference) cq "SELECT create_reference_table('t_archive')" ;;
	"citus local") cq "SELECT citus_add_local_table_to_metadata('t_archive')" ;;
	esac
}
PLAIN_ARCHIVE="WITH d AS (DELETE FROM t WHERE at < $CUT RETURNING *)
	INSERT INTO t_archive (id, at, payload, amount) SELECT id, at, payload, amount FROM d"
for r in $(seq 1 "$RUNS"); do
	load
	tms "SELECT upkeep.archive_table('t', older_than => '$RETAIN_S seconds', time_column => 'at')"
	A_up+=("$(cat "$B_WORK/ms")")
	KIND=$(kind)
	got=$(C "SELECT (SELECT count(*) FROM t_archive) || ' ' || (SELECT count(*) FROM t)")
	[ "$got" = "$EXP $((ROWS - EXP))" ] || echo "WARNING: upkeep archive/source rows $got, expected $EXP $((ROWS - EXP))"
	load
	plain_archive_table
	[ "$(kind)" = "$KIND" ] || echo "WARNING: hand-written archive is $(kind), upkeep's is $KIND"
	tms "$PLAIN_ARCHIVE"
	A_plain+=("$(cat "$B_WORK/ms")")
	got=$(C "SELECT (SELECT count(*) FROM t_archive) || ' ' || (SELECT count(*) FROM t)")
	[ "$got" = "$EXP $((ROWS - EXP))" ] || echo "WARNING: plain archive/source rows $got, expected $EXP $((ROWS - EXP))"
	echo "run $r: $EXP rows: plain CTE ${A_plain[-1]} ms, archive_table ${A_up[-1]} ms"
done
load; RCA_up=$(cql "SELECT upkeep.archive_table('t', older_than => '$RETAIN_S seconds', time_column => 'at')")
load
plain_archive_table
RCA_plain=$(cql "$PLAIN_ARCHIVE")
ap=$(median "${A_plain[@]}"); au=$(median "${A_up[@]}")
echo "archive table (both arms): $KIND"
printf 'plain CTE       : %6s ms  %9s rows/s  remote commands %s\n' "$ap" "$(rate "$EXP" "$ap")" "$RCA_plain"
printf 'archive_table() : %6s ms  %9s rows/s  %sx the plain CTE  remote commands %s\n' "$au" "$(rate "$EXP" "$au")" "$(ratio "$ap" "$au")" "$RCA_up"
SUM_C="archive ($KIND) $EXP rows: plain $ap ms, archive_table $au ms ($(ratio "$ap" "$au")x rows/s); remote commands $RCA_up vs $RCA_plain"

echo "SUMMARY citus: $SUM_A; $SUM_B; $SUM_C"
