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
