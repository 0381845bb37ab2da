-- pgTAP: who may run a table's maintenance (in a transaction, rolled back).
-- The owner, a member of the owning role, a superuser -- and, from PostgreSQL
-- 17, a role holding the MAINTAIN privilege on the table (GRANT MAINTAIN, or
-- membership in pg_maintain), the privilege 17's VACUUM and ANALYZE ask of a
-- non-owner.  MAINTAIN runs the owner's policy, as the owner; it does not let
-- its holder change the policy or do anything the policy does not say.
-- On 15 the MAINTAIN cases are skipped; the refusals are checked on every major.
BEGIN;
SET LOCAL client_min_messages = warning;
SET LOCAL upkeep.debug_now = '2024-06-15 12:00:00+00';
SELECT plan(17);

CREATE FUNCTION pg_temp.has_maintain() RETURNS boolean LANGUAGE sql
  AS $$ SELECT pg_catalog.current_setting('server_version_num')::int >= 170000 $$;

CREATE ROLE tap_m_owner;
CREATE ROLE tap_m_keeper;      -- will hold MAINTAIN on 17+
CREATE ROLE tap_m_stranger;    -- every privilege there was before 17, but not ownership

CREATE TABLE public.tap_m (id bigserial PRIMARY KEY, at timestamptz NOT NULL);
CREATE TABLE public.tap_m_audit (deleted_by name);
CREATE FUNCTION public.tap_m_audit() RETURNS trigger LANGUAGE plpgsql AS
  $$ BEGIN INSERT INTO public.tap_m_audit VALUES (current_user); RETURN OLD; END $$;
CREATE TRIGGER tap_m_audit BEFORE DELETE ON public.tap_m FOR EACH ROW EXECUTE FUNCTION public.tap_m_audit();
ALTER TABLE public.tap_m OWNER TO tap_m_owner;
ALTER TABLE public.tap_m_audit OWNER TO tap_m_owner;
INSERT INTO public.tap_m (at) SELECT timestamptz '2024-01-01 00:00+00' + g * interval '1 hour' FROM generate_series(1, 100) g;
INSERT INTO public.tap_m (at) SELECT timestamptz '2024-06-10 00:00+00' + g * interval '1 hour' FROM generate_series(1, 10) g;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON public.tap_m TO tap_m_stranger;
SET LOCAL ROLE tap_m_owner;
SELECT lives_ok($$SELECT upkeep.set_policy('public.tap_m', 'at', '30 days')$$, 'the owner sets a policy');
RESET ROLE;

-- without MAINTAIN (or ownership), no privilege lets a role run it
SET LOCAL ROLE tap_m_stranger;
SELECT throws_ok($$SELECT * FROM upkeep.cleanup_old_data(false, 'public.tap_m')$$, '42501', NULL,
                 'a role with every other table privilege may not run the table''s maintenance');
SELECT is((SELECT count(*)::int FROM upkeep.cleanup_old_data(false) WHERE table_name = 'public.tap_m'), 0,
          'nor does a run of everything it may maintain include the table');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM public.tap_m), 110, 'nothing was deleted');

-- 17+: GRANT MAINTAIN lets the role run the table's maintenance
SELECT CASE WHEN pg_temp.has_maintain()
  THEN lives_ok($$GRANT MAINTAIN ON public.tap_m TO tap_m_keeper$$, 'GRANT MAINTAIN')
  ELSE skip('MAINTAIN is new in PostgreSQL 17') END;
SET LOCAL ROLE tap_m_keeper;
SELECT CASE WHEN pg_temp.has_maintain()
  THEN is((SELECT rows_affected FROM upkeep.cleanup_old_data(true, 'public.tap_m') WHERE action LIKE 'DELETE%'), 100::bigint,
          'with MAINTAIN: a dry run counts the expired rows')
  ELSE skip('MAINTAIN is new in PostgreSQL 17') END;
SELECT CASE WHEN pg_temp.has_maintain()
  THEN is((SELECT rows_affected FROM upkeep.cleanup_old_data(false, 'public.tap_m') WHERE action LIKE 'DELETE%'), 100::bigint,
          'with MAINTAIN: the run deletes them')
  ELSE skip('MAINTAIN is new in PostgreSQL 17') END;
RESET ROLE;
SELECT CASE WHEN pg_temp.has_maintain()
  THEN is((SELECT count(*)::int FROM public.tap_m), 10, 'only the rows within the retention are left')
  ELSE skip('MAINTAIN is new in PostgreSQL 17') END;
SELECT CASE WHEN pg_temp.has_maintain()
  THEN is((SELECT pg_catalog.string_agg(DISTINCT deleted_by::text, ',') || ': ' || count(*) FROM public.tap_m_audit),
          'tap_m_owner: 100', 'the deletes ran as the table''s owner, not as the MAINTAIN holder')
  ELSE skip('MAINTAIN is new in PostgreSQL 17') END;

-- MAINTAIN runs the policy; changing it, or archiving at will, stays the owner's
SET LOCAL ROLE tap_m_keeper;
SELECT throws_ok($$SELECT upkeep.set_policy('public.tap_m', 'at', '1 day')$$, '42501', NULL,
                 'MAINTAIN does not let a role change the policy');
SELECT throws_ok($$SELECT upkeep.drop_policy('public.tap_m')$$, '42501', NULL, 'nor drop it');
SELECT throws_ok($$SELECT upkeep.archive_table('public.tap_m', NULL, '1 day', 'at')$$, '42501', NULL,
                 'nor archive the table at will');
RESET ROLE;

-- a run of everything the role may maintain includes the table
INSERT INTO public.tap_m (at) SELECT timestamptz '2024-02-01 00:00+00' + g * interval '1 hour' FROM generate_series(1, 7) g;
SET LOCAL ROLE tap_m_keeper;
SELECT CASE WHEN pg_temp.has_maintain()
  THEN is((SELECT rows_affected FROM upkeep.cleanup_old_data(false) WHERE table_name = 'public.tap_m' AND action LIKE 'DELETE%'), 7::bigint,
          'with MAINTAIN: a run of all policies includes the table')
  ELSE skip('MAINTAIN is new in PostgreSQL 17') END;
RESET ROLE;

-- membership in pg_maintain is MAINTAIN on every table
CREATE ROLE tap_m_pgmaintain;
SELECT CASE WHEN pg_temp.has_maintain()
  THEN lives_ok($$GRANT pg_maintain TO tap_m_pgmaintain$$, 'GRANT pg_maintain')
  ELSE skip('pg_maintain is new in PostgreSQL 17') END;
INSERT INTO public.tap_m (at) SELECT timestamptz '2024-03-01 00:00+00' + g * interval '1 hour' FROM generate_series(1, 3) g;
SET LOCAL ROLE tap_m_pgmaintain;
SELECT CASE WHEN pg_temp.has_maintain()
  THEN is((SELECT rows_affected FROM upkeep.cleanup_old_data(false, 'public.tap_m') WHERE action LIKE 'DELETE%'), 3::bigint,
          'a member of pg_maintain runs it')
  ELSE skip('pg_maintain is new in PostgreSQL 17') END;
RESET ROLE;

-- REVOKE MAINTAIN takes it away again
SELECT CASE WHEN pg_temp.has_maintain()
  THEN lives_ok($$REVOKE MAINTAIN ON public.tap_m FROM tap_m_keeper$$, 'REVOKE MAINTAIN')
  ELSE skip('MAINTAIN is new in PostgreSQL 17') END;
SET LOCAL ROLE tap_m_keeper;
SELECT throws_ok($$SELECT * FROM upkeep.cleanup_old_data(false, 'public.tap_m')$$, '42501', NULL,
                 'without MAINTAIN the role may not run it');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
