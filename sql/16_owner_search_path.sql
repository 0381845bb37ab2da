-- A table owner's code (triggers, defaults, index expressions) runs with the
-- search_path the owner gets when logging in to this database -- the first of
-- ALTER ROLE owner IN DATABASE db SET, ALTER ROLE owner SET, ALTER DATABASE db
-- SET, ALTER ROLE ALL SET, then the server default -- never with the caller's.
-- pg_temp is searched last unless the owner's path names it.
--
-- One trigger function, written with unqualified names (INSERT INTO audit,
-- note()), serves four tables of four owners.  Each schema below has its own
-- audit table and a note() naming the schema: the audit row says whose path the
-- trigger saw.  The caller, a superuser, runs with search_path = public,
-- pg_catalog and has planted look-alikes (public.audit, public.note(), a
-- temporary audit table, a role-in-database setting of its own): none is ever
-- reached.  The server default itself (postgresql.conf) is covered by
-- test/cluster/67_owner_search_path.sh.
SET client_min_messages = warning;
SET upkeep.debug_now = '2024-06-15 12:00:00+00';
SET timezone = 'UTC';
\set regress_db :DBNAME

CREATE ROLE regress_sp_a;
CREATE ROLE regress_sp_b;
CREATE ROLE regress_sp_c;
CREATE ROLE regress_sp_d;
-- the owners' schemas (regress_sp_d: its "$user" schema), each with audit and note()
CREATE SCHEMA sp_role_db;
CREATE SCHEMA sp_role;
CREATE SCHEMA sp_db;
CREATE SCHEMA sp_all;
CREATE SCHEMA regress_sp_d;
DO $$
DECLARE s text;
BEGIN
  FOREACH s IN ARRAY ARRAY['sp_role_db', 'sp_role', 'sp_db', 'sp_all', 'regress_sp_d'] LOOP
    EXECUTE format('CREATE TABLE %I.audit (id bigint, who name, path text, note text)', s);
    EXECUTE format('CREATE FUNCTION %I.note() RETURNS text LANGUAGE sql AS %L', s, format('SELECT %L::text', s));
    EXECUTE format('GRANT USAGE ON SCHEMA %I TO PUBLIC', s);
    EXECUTE format('GRANT INSERT ON %I.audit TO PUBLIC', s);
  END LOOP;
END $$;

-- four tables of four owners, one trigger function with unqualified names
CREATE SCHEMA sp_t;
GRANT USAGE ON SCHEMA sp_t TO PUBLIC;
CREATE FUNCTION sp_t.record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit VALUES (OLD.id, current_user, current_setting('search_path'), note());
  RETURN OLD;
END $$;
CREATE FUNCTION sp_t.fill(t regclass) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('INSERT INTO %s SELECT g, timestamptz ''2024-06-15 12:00:00+00'' - g * interval ''1 day'''
                 ' FROM generate_series(28, 33) g ON CONFLICT (id) DO NOTHING', t);   -- 3 rows past the 30-day cutoff
END $$;
DO $$
DECLARE o text;
BEGIN
  FOREACH o IN ARRAY ARRAY['a', 'b', 'c', 'd'] LOOP
    EXECUTE format('CREATE TABLE sp_t.%I (id bigint PRIMARY KEY, at timestamptz NOT NULL)', o);
    EXECUTE format('CREATE TRIGGER on_delete AFTER DELETE ON sp_t.%I FOR EACH ROW EXECUTE FUNCTION sp_t.record()', o);
    EXECUTE format('ALTER TABLE sp_t.%I OWNER TO %I', o, 'regress_sp_' || o);
    PERFORM sp_t.fill(format('sp_t.%I', o)::regclass);
    PERFORM upkeep.set_policy(format('sp_t.%I', o)::regclass, 'at', '30 days');
  END LOOP;
END $$;

-- where each owner's login path comes from
ALTER ROLE regress_sp_a IN DATABASE :"regress_db" SET search_path = sp_role_db;
ALTER ROLE regress_sp_a SET search_path = sp_role;   -- role-in-database wins over role
ALTER ROLE regress_sp_b SET search_path = sp_role;   -- role wins over database
ALTER DATABASE :"regress_db" SET search_path = sp_db;
ALTER ROLE ALL SET search_path = sp_all;             -- database wins over all roles
SELECT coalesce(r.rolname, '(all)') AS role, coalesce(d.datname, '(all)') AS database,
       array(SELECT c FROM unnest(s.setconfig) c WHERE c LIKE 'search_path=%') AS search_path
  FROM pg_db_role_setting s LEFT JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase
 WHERE (s.setdatabase = 0 OR d.datname = current_database())
   AND (s.setrole = 0 OR r.rolname LIKE 'regress_sp_%') ORDER BY 1, 2;

-- the caller: a hostile search_path, look-alikes in public and in its pg_temp, a setting of its own
CREATE TABLE public.audit (id bigint, who name, path text, note text);
CREATE FUNCTION public.note() RETURNS text LANGUAGE sql AS $$ SELECT 'public (the caller''s)'::text $$;
GRANT INSERT ON public.audit TO PUBLIC;
CREATE TEMP TABLE audit (id bigint, who name, path text, note text);
ALTER ROLE CURRENT_USER IN DATABASE :"regress_db" SET search_path = public, pg_catalog;
SET search_path = public, pg_catalog;

-- 1. cleanup_old_data (the caller's transaction): a, b, c, d
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data() WHERE table_name LIKE 'sp_t.%' ORDER BY 1;
SHOW search_path;   -- the caller's own path is untouched

-- 2. CALL run_maintenance (a commit per batch): no database setting now, ALTER ROLE ALL applies to c
ALTER DATABASE :"regress_db" RESET search_path;
SELECT sp_t.fill('sp_t.c');
CALL upkeep.run_maintenance(tbl => 'sp_t.c');

-- 3. no setting anywhere for d: the server default, "$user", public, where "$user" is the owner
ALTER ROLE ALL RESET search_path;
SELECT sp_t.fill('sp_t.d');
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'sp_t.d');
SHOW search_path;

-- 4. two search_path entries in one setting array (written by hand): the later wins, as at login;
-- the test hook upkeep.debug_search_path replaces only pg_upkeep's own pin, never an owner's path
UPDATE pg_db_role_setting SET setconfig = ARRAY['search_path=sp_role', 'work_mem=4MB', 'search_path=sp_all']
 WHERE setrole = 'regress_sp_b'::regrole AND setdatabase = 0;
SELECT sp_t.fill('sp_t.b');
SET upkeep.debug_search_path = 'public, pg_catalog';
SELECT table_name, action, rows_affected FROM upkeep.cleanup_old_data(tbl => 'sp_t.b');
RESET upkeep.debug_search_path;

-- what each owner's trigger saw: its own path (pg_temp last), its own schema's audit and note()
SET search_path = pg_catalog, pg_temp;
SELECT 'sp_role_db' AS schema, who, path, note, count(*) FROM sp_role_db.audit GROUP BY 1, 2, 3, 4
UNION ALL SELECT 'sp_role', who, path, note, count(*) FROM sp_role.audit GROUP BY 1, 2, 3, 4
UNION ALL SELECT 'sp_db', who, path, note, count(*) FROM sp_db.audit GROUP BY 1, 2, 3, 4
UNION ALL SELECT 'sp_all', who, path, note, count(*) FROM sp_all.audit GROUP BY 1, 2, 3, 4
UNION ALL SELECT 'regress_sp_d', who, path, note, count(*) FROM regress_sp_d.audit GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3;
-- the caller's look-alikes were never reached
SELECT (SELECT count(*) FROM public.audit) AS public_audit, (SELECT count(*) FROM pg_temp.audit) AS temp_audit;
SELECT table_name, status, rows FROM upkeep.run_log WHERE table_name LIKE 'sp_t.%' ORDER BY id;
-- every expired row went, none was kept back by a failing trigger
SELECT (SELECT count(*) FROM sp_t.a) AS a, (SELECT count(*) FROM sp_t.b) AS b, (SELECT count(*) FROM sp_t.c) AS c,
       (SELECT count(*) FROM sp_t.d) AS d;

-- clean up (settings first: they outlive this session)
ALTER ROLE CURRENT_USER IN DATABASE :"regress_db" RESET search_path;
ALTER ROLE regress_sp_a IN DATABASE :"regress_db" RESET search_path;
DROP TABLE sp_t.a, sp_t.b, sp_t.c, sp_t.d, public.audit, pg_temp.audit;
DROP FUNCTION public.note();
DROP SCHEMA sp_t, sp_role_db, sp_role, sp_db, sp_all, regress_sp_d CASCADE;
DROP ROLE regress_sp_a, regress_sp_b, regress_sp_c, regress_sp_d;
DELETE FROM upkeep.run_log;
DELETE FROM upkeep.policy_state;
