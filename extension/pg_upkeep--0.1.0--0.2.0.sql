/*
 * pg_upkeep 0.1.0 -> 0.2.0 (ALTER EXTENSION pg_upkeep UPDATE).
 *
 * The same rules as the install script: every name is schema-qualified,
 * operators are written OPERATOR(pg_catalog.x), nothing uses CREATE OR
 * REPLACE or IF NOT EXISTS on an object another role could have made, and
 * the result equals a fresh 0.2.0 install (test/cluster/70_upgrade.sh
 * compares the two catalogs).
 */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pg_upkeep UPDATE TO '0.2.0'" to load this file. \quit

------------------------------------------------------------------------------
-- Dump the state of the sequences that number configuration rows and runs
------------------------------------------------------------------------------

-- pg_dump dumps the rows of archive_manifest and fingerprint but, unless told,
-- not the state of their identity sequences: a restored copy numbered its next
-- batch or snapshot 1 again and failed with 23505 on the primary key.  Run ids
-- are recorded in the manifests, so upkeep.run_id_seq goes along too.
SELECT pg_catalog.pg_extension_config_dump('upkeep.run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('upkeep.archive_manifest_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('upkeep.fingerprint_id_seq', '');
