#!/usr/bin/env bash
# Cluster test: ALTER EXTENSION pg_upkeep UPDATE from 0.1.0, the version users
# have installed, while the background worker runs.
#
# extension/pg_upkeep--0.1.0.sql is the released script (never edited); the
# library is the new one for both versions, so 0.1.0's SQL definitions must
# keep working on it until the update.  The test
#  - installs 0.1.0 in database app, creates policies of every action (delete,
#    archive of rows, archive of partitions, drop, detach with detach_schema)
#    and runs every 0.1.0 entry point, maintenance by CALL and by the worker;
#  - takes fingerprints, then starts a long worker run (upkeep.batch_pause)
#    and, while it runs, has another superuser update the extension, with a
#    DBA's own privileges on run_maintenance() in place;
#  - checks that every row of upkeep.policy, run_log, archive_manifest,
#    fingerprint and policy_state survived unchanged, that the worker's run
#    went on to the end, that the DBA's privileges and the members' owner were
#    kept, and that the extension's members and their definitions (functions,
#    columns, constraints, indexes, policies, grants, initial privileges,
#    comments, dumped configuration) equal a fresh 0.2.0 install in database
#    fresh;
#  - runs every 0.2.0 entry point (the table argument is tbl now; "only" =>
#    is refused), verify_backup_integrity() finds nothing failed, and the
#    worker keeps maintaining;
#  - a view of the DBA's that uses cleanup_old_data() stops the update with
#    2BP01 and nothing changes; without the view the update goes through.
. "$(dirname "$0")/lib.sh"

new_cluster main "shared_preload_libraries = 'pg_upkeep'" "upkeep.naptime = 1" "max_worker_processes = 16"
A() { sql -d app "$@"; }
export WAIT_DB=app

# ------------------------------------------------------------------ 0.1.0
sql "CREATE DATABASE app" >/dev/null
sql "CREATE DATABASE fresh" >/dev/null
sql "CREATE ROLE ops; CREATE ROLE upgrader SUPERUSER" >/dev/null
A "CREATE EXTENSION pg_upkeep VERSION '0.1.0'" >/dev/null
is "$(A "SELECT extversion FROM pg_extension WHERE extname = 'pg_upkeep'")" 0.1.0 "0.1.0 installed"
sql -d fresh "CREATE EXTENSION pg_upkeep" >/dev/null
# the version of this checkout (pg_upkeep.control); the update goes through every upgrade script to it
V=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$UPKEEP_ROOT/pg_upkeep.control")
is "$(sql -d fresh "SELECT extversion FROM pg_extension WHERE extname = 'pg_upkeep'")" "$V" "a fresh install is $V"

# tables of every action; months relative to today
A "CREATE SCHEMA old_parts;
   CREATE TABLE logs (id bigserial PRIMARY KEY, at timestamptz NOT NULL, msg text);
   CREATE INDEX ON logs (at);
   INSERT INTO logs (at, msg) SELECT now() - g * interval '1 hour', 'm' || g FROM generate_series(1, 1200) g;
   CREATE TABLE orders (id bigint PRIMARY KEY, placed_at timestamptz NOT NULL, total numeric);
   INSERT INTO orders SELECT g, now() - g * interval '1 day' - interval '12 hours', g * 1.5 FROM generate_series(1, 400) g;
   CREATE TABLE events (id bigint, at timestamptz NOT NULL, kind text) PARTITION BY RANGE (at);
   SELECT count(upkeep.create_monthly_partition('events', (now() - g * interval '1 month')::date)) FROM generate_series(0, 6) g;
   INSERT INTO events SELECT g, now() - (g % 150) * interval '1 day', 'k' FROM generate_series(1, 1500) g;
   CREATE TABLE metrics (at timestamptz NOT NULL, v int) PARTITION BY RANGE (at);
   SELECT count(upkeep.create_monthly_partition('metrics', (now() - g * interval '1 month')::date)) FROM generate_series(0, 6) g;
   INSERT INTO metrics SELECT now() - (g % 150) * interval '1 day', g FROM generate_series(1, 1500) g;
   CREATE TABLE hist (id bigint, day date NOT NULL) PARTITION BY RANGE (day);
   SELECT count(upkeep.create_monthly_partition('hist', current_date - g * 31)) FROM generate_series(0, 6) g;
   INSERT INTO hist SELECT g, current_date - (g % 150) FROM generate_series(1, 1500) g;
   CREATE TABLE scratch (at timestamptz NOT NULL);" >/dev/null || not_ok "0.1.0 fixture"
# 0.1.0's set_policy/drop_policy
A "SELECT relid FROM upkeep.set_policy('logs', 'at', '10 days', batch_size => 100, run_every => '1 hour');
   SELECT relid FROM upkeep.set_policy('orders', 'placed_at', '100 days', 'archive', batch_size => 50, run_every => '1 hour');
   SELECT relid FROM upkeep.set_policy('events', retain => '2 months', action => 'archive', run_every => '1 hour');
   SELECT relid FROM upkeep.set_policy('metrics', retain => '3 months', premake => 2, run_every => '1 hour');
   SELECT relid FROM upkeep.set_policy('hist', retain => '3 months', action => 'detach', detach_schema => 'old_parts',
                                       run_every => '1 hour');
   SELECT relid FROM upkeep.set_policy('scratch', 'at', '1 day');" >/dev/null || not_ok "0.1.0 set_policy"
is "$(A "SELECT upkeep.drop_policy('scratch')")" t "0.1.0 drop_policy works on the new library"
is "$(A "SELECT string_agg(action, ',' ORDER BY relid::text) FROM upkeep.policy")" "archive,detach,delete,drop,archive" \
	"0.1.0: a policy of every action"

# 0.1.0's maintenance entry points, table argument "only"
is "$(A "SELECT count(*) FROM upkeep.cleanup_old_data(dry_run => true, \"only\" => 'orders')")" 1 \
	"0.1.0 cleanup_old_data(dry_run, \"only\") works on the new library"
A "CALL upkeep.run_maintenance(\"only\" => 'logs')" >/dev/null 2>&1 || not_ok "0.1.0 CALL run_maintenance(\"only\" => 'logs')"
is "$(A "SELECT count(*) FROM logs WHERE at < now() - interval '10 days'")" 0 "0.1.0 run_maintenance deleted the expired rows"
A "SELECT * FROM upkeep.cleanup_old_data(\"only\" => 'orders')" >/dev/null || not_ok "0.1.0 cleanup_old_data(\"only\" => 'orders')"
is "$(A "SELECT count(*) FROM orders_archive")" 301 "0.1.0 cleanup_old_data archived the expired orders"
A "CALL upkeep.run_maintenance(\"only\" => 'metrics')" >/dev/null 2>&1 || not_ok "0.1.0 CALL run_maintenance(\"only\" => 'metrics')"
is "$(A "SELECT count(*) FROM upkeep.run_log WHERE relid = 'metrics'::regclass AND status = 'ok'")" 2 \
	"0.1.0 run_maintenance premade and dropped metrics' months"
A "CREATE TABLE adhoc (id bigint PRIMARY KEY, at timestamptz NOT NULL);
   INSERT INTO adhoc SELECT g, now() - g * interval '1 day' - interval '12 hours' FROM generate_series(1, 50) g" >/dev/null
is "$(A "SELECT upkeep.archive_table('adhoc', older_than => '20 days', time_column => 'at', batch_size => 10)")" 31 \
	"0.1.0 archive_table works on the new library"
is "$(A "SELECT row_count FROM upkeep.table_fingerprint('adhoc')")" 19 "0.1.0 table_fingerprint works"
is "$(A "SELECT count(*) FROM upkeep.status")" 5 "0.1.0 status view (and _policy_status) works"
is "$(A "SELECT upkeep._selftest_error_bridge('ok') IS NOT NULL, upkeep._selftest_live_objects()")" "t|0" \
	"0.1.0 self-tests work"
is "$(A "SELECT upkeep.wake_worker()")" f "0.1.0 wake_worker: no worker serves app yet"

# more expired rows, then the worker takes over: events (partitions to the
# archive), hist (DETACH into old_parts), logs and orders again
A "INSERT INTO logs (at, msg) SELECT now() - interval '20 days' - g * interval '1 minute', 'late' FROM generate_series(1, 300) g;
   INSERT INTO orders SELECT 1000 + g, now() - interval '200 days' - g * interval '1 hour', 1 FROM generate_series(1, 60) g;
   SELECT relid FROM upkeep.set_policy('logs', batch_size => 101);
   SELECT relid FROM upkeep.set_policy('orders', batch_size => 51);
   SELECT relid FROM upkeep.set_policy('metrics', premake => 3);" >/dev/null
psql_at "$PORT" -c "ALTER SYSTEM SET upkeep.databases = 'app'" -c "SELECT pg_reload_conf()" >/dev/null
check "0.1.0: the worker ran every policy (archive partitions, detach, delete, archive rows)" wait_until 90 \
	"SELECT (SELECT count(*) FROM upkeep.policy_state WHERE last_status = 'ok') = 5
	    AND NOT EXISTS (SELECT FROM upkeep.run_log WHERE status = 'running')
	    AND NOT EXISTS (SELECT FROM logs WHERE at < now() - interval '10 days')
	    AND NOT EXISTS (SELECT FROM orders WHERE placed_at < now() - interval '100 days')"
is "$(A "SELECT count(DISTINCT relid) FROM upkeep.run_log WHERE run_by = 'worker'")" 5 "0.1.0: the worker maintained all five tables"
check "0.1.0: the worker moved events' expired partitions to events_archive" \
	test "$(A "SELECT count(*) FROM upkeep.archive_manifest WHERE method = 'partition'")" -ge 2
check "0.1.0: the worker detached hist's expired partitions into old_parts" \
	test "$(A "SELECT count(*) FROM pg_class WHERE relnamespace = 'old_parts'::regnamespace AND relkind = 'r'")" -ge 2
# the 0.1.0 library recorded a moved partition without a content hash: so do
# the manifests here (this library hashes them), as users' databases have them
is "$(A "WITH u AS (UPDATE upkeep.archive_manifest SET content_hash = NULL WHERE method = 'partition' RETURNING 1)
         SELECT count(*) >= 2 FROM u")" t "partition manifests as the 0.1.0 library wrote them (no content hash)"
is "$(A "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM upkeep.snapshot_fingerprints()")" \
	"public.events,public.events_archive,public.hist,public.logs,public.metrics,public.orders,public.orders_archive" \
	"0.1.0 snapshot_fingerprints(): every managed table and archive"
is "$(A "SELECT count(*) FROM upkeep.verify_backup_integrity() WHERE status = 'failed'")" 0 \
	"0.1.0: verify_backup_integrity() finds nothing failed"

# a DBA's own privileges on run_maintenance(): kept by the update
A "REVOKE EXECUTE ON PROCEDURE upkeep.run_maintenance(boolean, regclass) FROM PUBLIC;
   GRANT EXECUTE ON PROCEDURE upkeep.run_maintenance(boolean, regclass) TO ops WITH GRANT OPTION" >/dev/null
ACL_SQL="SELECT string_agg(acl, ',' ORDER BY acl)
           FROM (SELECT CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END
                        || '=' || a.privilege_type || CASE WHEN a.is_grantable THEN '*' ELSE '' END
                        || '/' || pg_get_userbyid(a.grantor) AS acl
                   FROM pg_proc p, aclexplode(p.proacl) a
                  WHERE p.oid = 'upkeep.run_maintenance(boolean, regclass)'::regprocedure) s"
ACL_BEFORE=$(A "$ACL_SQL")
is "$ACL_BEFORE" "ops=EXECUTE*/postgres,postgres=EXECUTE/postgres" "the DBA's privileges on run_maintenance() are in place"

# ------------------------------------------------------------------ a long worker run, and the update during it
psql_at "$PORT" -c "ALTER SYSTEM SET upkeep.batch_pause = '100ms'" -c "SELECT pg_reload_conf()" >/dev/null
A "CREATE TABLE busy (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
   CREATE INDEX ON busy (at);
   INSERT INTO busy (at) SELECT now() - interval '30 days' - g * interval '1 second' FROM generate_series(1, 40000) g;
   INSERT INTO busy (at) SELECT now() - g * interval '1 second' FROM generate_series(1, 1000) g;
   SELECT relid FROM upkeep.set_policy('busy', 'at', '10 days', batch_size => 500, run_every => '1 hour');" >/dev/null
WORKER_PID=$(sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app'")
check "the worker is deleting busy's 40,000 expired rows, 500 at a time" wait_until 30 \
	"SELECT EXISTS (SELECT FROM upkeep.run_log WHERE relid = 'busy'::regclass AND status = 'running' AND batches >= 3)"

# every row of pg_upkeep's state (busy's run is still moving: compared on its own)
snapshot() { # DB FILE
	{
		sql -d "$1" "SELECT 'policy', t::text FROM upkeep.policy t ORDER BY t.relid"
		sql -d "$1" "SELECT 'run_log', t::text FROM upkeep.run_log t WHERE t.relid IS DISTINCT FROM 'busy'::regclass ORDER BY t.id"
		sql -d "$1" "SELECT 'archive_manifest', t::text FROM upkeep.archive_manifest t ORDER BY t.id"
		sql -d "$1" "SELECT 'fingerprint', t::text FROM upkeep.fingerprint t ORDER BY t.id"
		sql -d "$1" "SELECT 'policy_state', t::text FROM upkeep.policy_state t WHERE t.relid <> 'busy'::regclass ORDER BY t.relid"
	} >"$2"
}
snapshot app "$T_WORK/state-before"
N_STATE=$(wc -l <"$T_WORK/state-before")
for tbl in policy run_log archive_manifest fingerprint policy_state; do
	check "before the update: upkeep.$tbl has rows to carry over" grep -q "^$tbl|" "$T_WORK/state-before"
done

T_BEFORE=$(A "SELECT clock_timestamp()")
START=$(now_ms)
UPDATE_OUT=$(psql_at "$PORT" -d app -At -c "SET ROLE upgrader" -c "ALTER EXTENSION pg_upkeep UPDATE" 2>&1)
UPDATE_MS=$(($(now_ms) - START))
T_AFTER=$(A "SELECT clock_timestamp()")
is "$UPDATE_OUT" "" "ALTER EXTENSION pg_upkeep UPDATE (run by another superuser) succeeds without a word"
lt "$UPDATE_MS" 10000 "the update does not wait for the worker's run (${UPDATE_MS} ms)"
is "$(A "SELECT extversion FROM pg_extension WHERE extname = 'pg_upkeep'")" "$V" "app is at $V"
is "$(A "SELECT status FROM upkeep.run_log WHERE relid = 'busy'::regclass ORDER BY id DESC LIMIT 1")" running \
	"the worker's run was still going when the update committed"

snapshot app "$T_WORK/state-after"
if diff "$T_WORK/state-before" "$T_WORK/state-after" >"$T_WORK/state.diff"; then
	ok "every row of policy, run_log, archive_manifest, fingerprint and policy_state survived unchanged ($N_STATE rows)"
else
	not_ok "pg_upkeep's state changed across the update"; head -20 "$T_WORK/state.diff"
fi

# the run that spanned the update went on to the end, in the same worker
check "the worker's run that spanned the update finished: busy has no expired row" wait_until 60 \
	"SELECT NOT EXISTS (SELECT FROM busy WHERE at < now() - interval '10 days')
	    AND NOT EXISTS (SELECT FROM upkeep.run_log WHERE relid = 'busy'::regclass AND status = 'running')"
is "$(A "SELECT count(*), sum(rows), bool_and(status = 'ok'), bool_and(started_at < '$T_BEFORE' AND finished_at > '$T_AFTER'),
            string_agg(DISTINCT run_by, ',')
       FROM upkeep.run_log WHERE relid = 'busy'::regclass AND action LIKE 'DELETE%'")" "1|40000|t|t|worker" \
	"one ok DELETE of 40000 rows, started before the update and finished after it"
is "$(A "SELECT count(*) FROM busy")" 1000 "busy kept its 1000 recent rows"
is "$(sql "SELECT pid FROM pg_stat_activity WHERE backend_type = 'pg_upkeep worker' AND datname = 'app'")" "$WORKER_PID" \
	"the same worker process goes on serving app"
psql_at "$PORT" -c "ALTER SYSTEM RESET upkeep.batch_pause" -c "SELECT pg_reload_conf()" >/dev/null

# the DBA's privileges and the owner, carried over
is "$(A "$ACL_SQL")" "$ACL_BEFORE" "the DBA's privileges on run_maintenance() survived the update"
is "$(A "SELECT string_agg(DISTINCT pg_get_userbyid(p.proowner), ',') FROM pg_proc p WHERE p.pronamespace = 'upkeep'::regnamespace")" \
	postgres "every function still belongs to the role that installed the extension, not to the one that updated it"
is "$(sql -p "$PORT" -d app "SET ROLE ops; CALL upkeep.run_maintenance(dry_run => true)" 2>&1)" "" \
	"ops may still call run_maintenance()"
A "GRANT EXECUTE ON PROCEDURE upkeep.run_maintenance(boolean, regclass) TO PUBLIC;
   REVOKE EXECUTE ON PROCEDURE upkeep.run_maintenance(boolean, regclass) FROM ops CASCADE" >/dev/null

# ------------------------------------------------------------------ the catalog equals a fresh 0.2.0 install
# (ACLs as sorted lists: the DBA's round trip above reorders the array)
CATALOG_SQL=$(cat <<'EOF'
SET search_path = pg_catalog, pg_temp;
CREATE FUNCTION pg_temp.acl(a aclitem[]) RETURNS text LANGUAGE sql AS $$
  SELECT COALESCE((SELECT string_agg(e, ',' ORDER BY e)
                     FROM (SELECT CASE WHEN x.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(x.grantee) END
                                  || '=' || x.privilege_type || CASE WHEN x.is_grantable THEN '*' ELSE '' END
                                  || '/' || pg_get_userbyid(x.grantor) AS e
                             FROM aclexplode(a) x) s),
                  CASE WHEN a IS NULL THEN '(default)' ELSE '(none)' END) $$;
CREATE TEMP VIEW m AS
  SELECT d.classid, d.objid, d.objsubid FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
   WHERE d.refclassid = 'pg_extension'::regclass AND e.extname = 'pg_upkeep' AND d.deptype = 'e';
SELECT 'member', pg_describe_object(classid, objid, objsubid) FROM m ORDER BY 2;
SELECT 'extension', e.extversion, e.extrelocatable, n.nspname, pg_get_userbyid(e.extowner)
  FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_upkeep';
SELECT 'config_dump', c.oid::regclass::text, COALESCE(e.extcondition[i], '')
  FROM pg_extension e, generate_subscripts(e.extconfig, 1) i, pg_class c
 WHERE e.extname = 'pg_upkeep' AND c.oid = e.extconfig[i] ORDER BY 2;
SELECT 'schema', n.nspname, pg_get_userbyid(n.nspowner), pg_temp.acl(n.nspacl), obj_description(n.oid, 'pg_namespace')
  FROM pg_namespace n WHERE n.nspname = 'upkeep';
SELECT 'routine', p.oid::regprocedure::text, p.prokind, pg_get_userbyid(p.proowner), pg_temp.acl(p.proacl),
       obj_description(p.oid, 'pg_proc'), CASE WHEN p.prokind = 'a' THEN NULL ELSE pg_get_functiondef(p.oid) END
  FROM pg_proc p WHERE p.pronamespace = 'upkeep'::regnamespace ORDER BY 2;
SELECT 'aggregate', a.aggfnoid::regprocedure::text, a.aggkind, a.aggtransfn::regprocedure::text,
       a.aggcombinefn::regprocedure::text, a.aggfinalfn::regprocedure::text, a.aggserialfn, a.aggdeserialfn,
       a.aggtranstype::regtype, a.aggfinalmodify, a.agginitval, p.proparallel
  FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid WHERE p.pronamespace = 'upkeep'::regnamespace ORDER BY 2;
SELECT 'relation', c.relname, c.relkind, c.relpersistence, pg_get_userbyid(c.relowner), c.relrowsecurity,
       c.relforcerowsecurity, c.reloptions, pg_temp.acl(c.relacl), obj_description(c.oid, 'pg_class')
  FROM pg_class c WHERE c.relnamespace = 'upkeep'::regnamespace ORDER BY 2;
SELECT 'column', c.relname, a.attnum, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.attidentity,
       a.attgenerated, pg_get_expr(ad.adbin, ad.adrelid), a.attcollation::regcollation, pg_temp.acl(a.attacl),
       col_description(c.oid, a.attnum)
  FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
  LEFT JOIN pg_attrdef ad ON ad.adrelid = c.oid AND ad.adnum = a.attnum
 WHERE c.relnamespace = 'upkeep'::regnamespace ORDER BY 2, 3;
SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid), condeferrable, convalidated
  FROM pg_constraint WHERE connamespace = 'upkeep'::regnamespace ORDER BY 2, 3;
SELECT 'index', indexrelid::regclass::text, pg_get_indexdef(indexrelid)
  FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'upkeep'::regnamespace) ORDER BY 2;
SELECT 'rls_policy', tablename, policyname, permissive, roles, cmd, qual, with_check
  FROM pg_policies WHERE schemaname = 'upkeep' ORDER BY 2, 3;
SELECT 'view', c.relname, pg_get_viewdef(c.oid) FROM pg_class c
 WHERE c.relnamespace = 'upkeep'::regnamespace AND c.relkind = 'v' ORDER BY 2;
SELECT 'sequence', s.seqrelid::regclass::text, s.seqtypid::regtype, s.seqstart, s.seqincrement, s.seqmax, s.seqmin,
       s.seqcache, s.seqcycle, pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid), d.deptype
  FROM pg_sequence s LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
                                           AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
 WHERE s.seqrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'upkeep'::regnamespace) ORDER BY 2;
SELECT 'trigger', tgrelid::regclass::text, tgname, pg_get_triggerdef(oid)
  FROM pg_trigger WHERE NOT tgisinternal
   AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'upkeep'::regnamespace) ORDER BY 2, 3;
SELECT 'event_trigger', t.evtname, t.evtevent, pg_get_userbyid(t.evtowner), t.evtfoid::regproc::text, t.evtenabled, t.evttags
  FROM pg_event_trigger t JOIN m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = t.oid ORDER BY 2;
SELECT 'type', t.typname, t.typtype, pg_get_userbyid(t.typowner), pg_temp.acl(t.typacl)
  FROM pg_type t WHERE t.typnamespace = 'upkeep'::regnamespace ORDER BY 2;
SELECT 'init_privs', pg_describe_object(i.classoid, i.objoid, i.objsubid), i.privtype, pg_temp.acl(i.initprivs)
  FROM pg_init_privs i JOIN m ON m.classid = i.classoid AND m.objid = i.objoid ORDER BY 2;
SELECT 'comment', pg_describe_object(dsc.classoid, dsc.objoid, dsc.objsubid), dsc.description
  FROM pg_description dsc JOIN m ON m.classid = dsc.classoid AND m.objid = dsc.objoid ORDER BY 2;
SELECT 'depends_on', pg_describe_object(d.classid, d.objid, d.objsubid), pg_describe_object(d.refclassid, d.refobjid, d.refobjsubid), d.deptype
  FROM pg_depend d JOIN m ON m.classid = d.classid AND m.objid = d.objid
 WHERE d.deptype <> 'e' AND d.refclassid <> 'pg_namespace'::regclass
   AND NOT (d.refclassid = 'pg_type'::regclass AND d.refobjid < 16384) ORDER BY 2, 3;
EOF
)
describe() { psql_at "$PORT" -d "$1" -At -c "$CATALOG_SQL" >"$2" 2>&1; }
describe app "$T_WORK/catalog-updated"
describe fresh "$T_WORK/catalog-fresh"
check "the catalog description ran (members, routines, columns ...)" \
	test "$(grep -c '^member|' "$T_WORK/catalog-fresh")" -ge 20
# every query ran (one failing query ends the psql run: the kinds after it would all compare as empty)
for f in catalog-updated catalog-fresh; do
	grep -q 'ERROR' "$T_WORK/$f" && { not_ok "the catalog description of $f failed"; grep ERROR "$T_WORK/$f" | head -3 | sed 's/^/#   /'; }
done
for kind in member routine aggregate relation column constraint index view sequence init_privs comment depends_on; do
	check "the fresh catalog lists some $kind" grep -q "^$kind|" "$T_WORK/catalog-fresh"
done
for kind in member extension config_dump schema routine aggregate relation column constraint index rls_policy view \
	sequence event_trigger type init_privs comment depends_on; do
	got=$(grep "^$kind|" "$T_WORK/catalog-updated")
	want=$(grep "^$kind|" "$T_WORK/catalog-fresh")
	if [ "$got" == "$want" ]; then
		ok "updated = fresh install: $kind ($(echo -n "$want" | grep -c '^'))"
	else
		not_ok "updated differs from a fresh install: $kind"
		diff <(echo "$want") <(echo "$got") | head -20 | sed 's/^/#   /'
	fi
done

# ------------------------------------------------------------------ every 0.2.0 entry point
is "$(sql_state -d app "SELECT * FROM upkeep.cleanup_old_data(\"only\" => 'logs')")" 42883 \
	"after the update the old argument name \"only\" is gone (42883)"
A "INSERT INTO logs (at, msg) SELECT now() - interval '15 days' - g * interval '1 minute', 'again' FROM generate_series(1, 40) g" >/dev/null
is "$(A "SELECT string_agg(rows_affected::text, ',') FROM upkeep.cleanup_old_data(dry_run => true, tbl => 'logs') WHERE action LIKE 'DELETE%'")" 40 \
	"cleanup_old_data(dry_run => true, tbl => 'logs') counts 40 rows"
A "BEGIN; SELECT count(*) FROM upkeep.cleanup_old_data(tbl => 'logs'); ROLLBACK" >/dev/null
is "$(A "SELECT count(*) FROM logs WHERE msg = 'again'")" 40 "cleanup_old_data(tbl => ...) in a rolled-back transaction changes nothing"
A "CALL upkeep.run_maintenance(tbl => 'logs')" >/dev/null 2>&1 || not_ok "CALL upkeep.run_maintenance(tbl => 'logs')"
is "$(A "SELECT count(*) FROM logs WHERE msg = 'again'")" 0 "CALL upkeep.run_maintenance(tbl => 'logs') deleted them"
A "INSERT INTO orders SELECT 5000 + g, now() - interval '300 days', 2 FROM generate_series(1, 7) g" >/dev/null
is "$(A "SELECT rows_affected FROM upkeep.cleanup_old_data(tbl => 'orders') WHERE action LIKE 'ARCHIVE%'")" 7 \
	"cleanup_old_data(tbl => 'orders') archives"
A "INSERT INTO adhoc SELECT 100 + g, now() - interval '40 days' FROM generate_series(1, 5) g" >/dev/null
is "$(A "SELECT upkeep.archive_table('adhoc', older_than => '20 days', time_column => 'at')")" 5 "archive_table works"
is "$(A "SELECT upkeep.create_monthly_partition('metrics', (now() + interval '4 months')::date)::text")" \
	"$(A "SELECT 'metrics_' || to_char(now() + interval '4 months', 'YYYY_MM')")" "create_monthly_partition works"
A "CREATE TABLE scratch2 (at timestamptz NOT NULL)" >/dev/null
is "$(A "SELECT action FROM upkeep.set_policy('scratch2', 'at', '1 day')")" delete "set_policy works"
is "$(A "SELECT upkeep.drop_policy('scratch2')")" t "drop_policy works"
A "SELECT relid FROM upkeep.set_policy('scratch2', 'at', '1 day')" >/dev/null
A "DROP TABLE scratch2" >/dev/null
is "$(A "SELECT count(*) FROM upkeep.policy WHERE relid::text = 'scratch2'")" 0 "the event trigger drops a dropped table's policy"
is "$(A "SELECT row_count FROM upkeep.table_fingerprint('busy')")" 1000 "table_fingerprint works"
is "$(A "SELECT count(*) FROM upkeep.status WHERE cutoff IS NOT NULL")" 6 "the status view (and _policy_status) works"
is "$(A "SELECT upkeep._selftest_error_bridge('ok') IS NOT NULL, upkeep._selftest_live_objects()")" "t|0" "self-tests work"
is "$(A "SELECT upkeep.wake_worker()")" t "wake_worker() reaches the worker"
is "$(A "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM upkeep.snapshot_fingerprints()")" \
	"public.busy,public.events,public.events_archive,public.hist,public.logs,public.metrics,public.orders,public.orders_archive" \
	"snapshot_fingerprints() works"
is "$(A "SELECT string_agg(check_name || ' ' || object || ' ' || detail, '; ') FROM upkeep.verify_backup_integrity() WHERE status = 'failed'")" "" \
	"verify_backup_integrity() after the update: nothing failed (0.1.0's manifests and fingerprints verify)"
is "$(A "SELECT string_agg(DISTINCT check_name, ',') FROM upkeep.verify_backup_integrity() WHERE status = 'ok'")" \
	"archive_manifest,checksum_failures,data_checksums,fingerprint,partition_set" "and every check it can make is ok"

# the worker keeps maintaining: a changed policy is due at once
MAX_RUN=$(A "SELECT max(id) FROM upkeep.run_log")
A "INSERT INTO logs (at, msg) SELECT now() - interval '12 days', 'worker' FROM generate_series(1, 25) g;
   SELECT relid FROM upkeep.set_policy('logs', batch_size => 200)" >/dev/null
check "after the update the worker deletes new expired rows" wait_until 30 \
	"SELECT NOT EXISTS (SELECT FROM logs WHERE msg = 'worker')
	    AND EXISTS (SELECT FROM upkeep.run_log WHERE id > $MAX_RUN AND run_by = 'worker' AND relid = 'logs'::regclass
	                 AND status = 'ok' AND rows = 25)"
is "$(grep -cE 'pg_upkeep (worker|launcher).*(ERROR|FATAL)|PANIC|terminated by signal' "$DATA/server.log")" 0 \
	"no error from the worker or the launcher in the server log, no crash"

# ------------------------------------------------------------------ a DBA's view stops the update; nothing changes
sql "CREATE DATABASE blocked" >/dev/null
sql -d blocked "CREATE EXTENSION pg_upkeep VERSION '0.1.0';
	CREATE VIEW dry AS SELECT * FROM upkeep.cleanup_old_data(true)" >/dev/null
is "$(sql_state -d blocked "ALTER EXTENSION pg_upkeep UPDATE")" 2BP01 "a view using cleanup_old_data() stops the update (2BP01)"
MSG=$(psql_at "$PORT" -d blocked -c "ALTER EXTENSION pg_upkeep UPDATE" 2>&1)
check "the error names the view and says what to do" grep -q 'these objects use them: rule _RETURN on view dry' <<<"$MSG"
is "$(sql -d blocked "SELECT extversion, (SELECT proargnames FROM pg_proc WHERE oid = 'upkeep.cleanup_old_data(boolean, regclass)'::regprocedure)
	FROM pg_extension WHERE extname = 'pg_upkeep'")" '0.1.0|{dry_run,only,table_name,action,rows_affected,execution_time_ms}' \
	"and nothing changed"
sql -d blocked "DROP VIEW dry" >/dev/null
is "$(sql_state -d blocked "ALTER EXTENSION pg_upkeep UPDATE")" ok "without the view the update goes through"

finish
