#!/usr/bin/env bash
# Cluster test: `make installcheck`, the PGXS convention packagers use, runs
# the regress and the isolation suite against a running server and passes.
#
# As a packager would: a server is started (the configuration scripts/test.sh
# uses: pg_upkeep and pg_cron preloaded, data checksums on), and the postgres OS
# user (initdb refuses root, and pg_regress must write results/ and output_iso/
# next to the Makefile) runs `make installcheck` in a copy of the tree, with
# nothing but PGHOST/PGPORT/PGUSER naming the server.
. "$(dirname "$0")/lib.sh"

new_cluster main "shared_preload_libraries = 'pg_upkeep, pg_cron'" "cron.database_name = 'postgres'" \
	"max_worker_processes = 16"

TREE="$T_WORK/tree"
mkdir -p "$TREE"
tar -C "$UPKEEP_ROOT" --exclude=.git --exclude='./build*' --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
	--exclude=./results --exclude=./output_iso --exclude=./regression.diffs --exclude=./regression.out -cf - . |
	tar -C "$TREE" -xf -
chown -R postgres:postgres "$TREE"

N_SQL=$(cd "$TREE/sql" && ls *.sql | wc -l)
N_SPEC=$(cd "$TREE/test/isolation/specs" && ls *.spec | wc -l)
check "the copy has regress tests and isolation specs" test "$N_SQL" -gt 0 -a "$N_SPEC" -gt 0

OUT="$T_WORK/installcheck.log"
as_postgres env -u PGDATABASE PGHOST="$(cluster_sock "$DATA")" PGPORT="$PORT" PGUSER=postgres \
	make -C "$TREE" installcheck PG_CONFIG="$PG_CONFIG" >"$OUT" 2>&1
RC=$?
is "$RC" 0 "make installcheck exits 0"
grep -E "^(ok|not ok|test) |tests (passed|failed)" "$OUT" | sed 's/^/#   /'
[ "$RC" -eq 0 ] || { tail -n 40 "$OUT" | sed 's/^/#   /'; head -n 80 "$TREE/regression.diffs" "$TREE/output_iso/regression.diffs" 2>/dev/null | sed 's/^/#   /'; }
check "the regress suite ran against the running server: all $N_SQL tests passed" grep -q "All $N_SQL tests passed" "$OUT"
check "the isolation suite ran against it too: all $N_SPEC specs passed" grep -q "All $N_SPEC tests passed" "$OUT"
check "regress results were written in the tree (results/)" test -f "$TREE/results/00_install.out"
check "isolation results were written in the tree (output_iso/)" test -d "$TREE/output_iso/results"
is "$(sql "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database WHERE datname LIKE 'upkeep_%' OR datname LIKE '%regression%'")" \
	"upkeep_isolation,upkeep_regress" "the suites used upkeep_regress and upkeep_isolation, no stray database"

# and it fails when a test does (a wrong expected line), so exit 0 above means something
echo "a line no test prints" | as_postgres tee -a "$TREE/expected/00_install.out" >/dev/null
as_postgres env PGHOST="$(cluster_sock "$DATA")" PGPORT="$PORT" PGUSER=postgres \
	make -C "$TREE" installcheck PG_CONFIG="$PG_CONFIG" REGRESS=00_install ISOLATION= >"$OUT.2" 2>&1
RC=$?
check "make installcheck fails when a test's output differs (exit $RC)" test "$RC" -ne 0
# pg_regress of 15 prints "00_install ... FAILED"; from 16 on, TAP: "not ok 1 - 00_install"
check "and says which" grep -qE "00_install .*FAILED|not ok +[0-9]+ +- +00_install" "$OUT.2"

finish
