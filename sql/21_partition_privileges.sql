-- Ownership and privileges of create_monthly_partition.
CREATE ROLE regress_upkeep_owner;
CREATE ROLE regress_upkeep_member IN ROLE regress_upkeep_owner;
CREATE ROLE regress_upkeep_stranger;
CREATE ROLE regress_upkeep_reader;
GRANT CREATE ON SCHEMA public TO regress_upkeep_owner;

CREATE TABLE owned (id int, at timestamptz NOT NULL) PARTITION BY RANGE (at);
ALTER TABLE owned OWNER TO regress_upkeep_owner;
GRANT SELECT ON owned TO regress_upkeep_reader;
GRANT INSERT, UPDATE ON owned TO regress_upkeep_member WITH GRANT OPTION;
GRANT ALL ON owned TO regress_upkeep_stranger;   -- every privilege, but not ownership

-- a superuser creates it; it belongs to the parent's owner and carries the parent's grants
SELECT upkeep.create_monthly_partition('owned', '2024-01-01');
SELECT pg_catalog.pg_get_userbyid(relowner) AS owner FROM pg_catalog.pg_class WHERE oid = 'owned_2024_01'::regclass;
SELECT (SELECT array_agg(a::text ORDER BY a::text) FROM pg_catalog.pg_class c, unnest(c.relacl) a WHERE c.oid = 'owned_2024_01'::regclass)
     = (SELECT array_agg(a::text ORDER BY a::text) FROM pg_catalog.pg_class c, unnest(c.relacl) a WHERE c.oid = 'owned'::regclass) AS same_acl;

-- the owner may
SET ROLE regress_upkeep_owner;
SELECT upkeep.create_monthly_partition('owned', '2024-02-01');
RESET ROLE;

-- a member of the owning role may; the partition still belongs to the owner
SET ROLE regress_upkeep_member;
SELECT upkeep.create_monthly_partition('owned', '2024-03-01');
RESET ROLE;
SELECT c.relname, pg_catalog.pg_get_userbyid(c.relowner) AS owner
  FROM pg_catalog.pg_class c WHERE c.relname LIKE 'owned_2024%' ORDER BY 1;

-- anyone else may not, whatever table privileges they hold; nothing is created
SET ROLE regress_upkeep_stranger;
SELECT upkeep.create_monthly_partition('owned', '2024-04-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
-- not even the idempotent lookup of an existing month
SELECT upkeep.create_monthly_partition('owned', '2024-01-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
RESET ROLE;
SELECT count(*) AS partitions FROM pg_catalog.pg_inherits WHERE inhparent = 'owned'::regclass;

-- (that the refusal comes before any lock, even while another session holds
-- ACCESS EXCLUSIVE on the table, is shown by test/cluster/10_partition_locks.sh)

-- The owner's code never runs with the caller's privileges: rows moved out of
-- the DEFAULT partition fire the owner's row triggers, and those run as the
-- owner inside a security-restricted operation even when a superuser calls.
CREATE TABLE trigger_log (who name, restricted boolean);
ALTER TABLE trigger_log OWNER TO regress_upkeep_owner;
SET ROLE regress_upkeep_owner;
CREATE FUNCTION public.owner_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- a malicious owner would try to use the caller's rights here
  INSERT INTO public.trigger_log VALUES (current_user, false);
  BEGIN
    -- a fresh temp table: allowed normally, refused in a security-restricted operation
    EXECUTE format('CREATE TEMP TABLE %I (x int)', 'probe_' || md5(random()::text));
  EXCEPTION WHEN insufficient_privilege THEN
    UPDATE public.trigger_log SET restricted = true WHERE restricted = false;
  END;
  RETURN COALESCE(NEW, OLD);
END $$;
CREATE TRIGGER log_moves AFTER INSERT OR DELETE ON owned FOR EACH ROW EXECUTE FUNCTION public.owner_trigger();
CREATE TABLE owned_default PARTITION OF owned DEFAULT;
RESET ROLE;
INSERT INTO owned VALUES (1, '2024-04-10+00'), (2, '2024-04-11+00');
DELETE FROM trigger_log;
SELECT upkeep.create_monthly_partition('owned', '2024-04-01');
SELECT who, restricted, count(*) FROM trigger_log GROUP BY 1, 2 ORDER BY 1, 2;
SELECT tableoid::regclass, id FROM owned ORDER BY id;

-- the owner must be able to create in the schema: otherwise a clear error, nothing made
REVOKE CREATE ON SCHEMA public FROM regress_upkeep_owner;
SELECT upkeep.create_monthly_partition('owned', '2024-05-01');
\echo SQLSTATE :LAST_ERROR_SQLSTATE
SELECT count(*) AS partitions FROM pg_catalog.pg_inherits WHERE inhparent = 'owned'::regclass;

DROP TABLE owned;
DROP TABLE trigger_log;
DROP FUNCTION public.owner_trigger();
DROP ROLE regress_upkeep_member;
DROP ROLE regress_upkeep_stranger;
DROP ROLE regress_upkeep_reader;
REVOKE ALL ON SCHEMA public FROM regress_upkeep_owner;
DROP ROLE regress_upkeep_owner;
