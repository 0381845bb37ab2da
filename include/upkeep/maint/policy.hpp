/*
 * upkeep/maint/policy.hpp
 *
 * Retention policies: validation and storage (set_policy / drop_policy),
 * loading for a run, and the cutoff a policy implies right now.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "upkeep/core/action.hpp"
#include "upkeep/pg/catalog.hpp"
#include "upkeep/pg/time_keys.hpp"

namespace upkeep::maint {

struct Policy {
	Oid relid = InvalidOid;
	std::string time_column;
	std::string retain; /* interval, as PostgreSQL prints it */
	core::Action action = core::Action::Delete;
	Oid archive_to = InvalidOid;
	std::string detach_schema;
	int premake = 3;
	int batch_size = 10000;
	std::string run_every; /* interval text */
	std::string timezone;  /* empty: upkeep.partition_timezone */
	bool enabled = true;
	Oid created_by = InvalidOid;
	/* the policy row's version (its xmin) when loaded; empty for an ad-hoc policy (archive_table) */
	std::string version;
	/* partitioned drop/detach policies: the token of the set now, and the stored summary (steady_state.hpp) */
	std::string partitions_token;
	std::string stored_token;
	std::string stored_shape;
};

/* Arguments of set_policy; nullopt = keep the current value (or the default on creation). */
struct PolicyArgs {
	Oid relid = InvalidOid;
	std::optional<std::string> time_column;
	std::optional<std::string> retain;
	std::optional<std::string> action;
	std::optional<Oid> archive_to;
	std::optional<int> premake;
	std::optional<int> batch_size;
	std::optional<std::string> run_every;
	std::optional<std::string> timezone;
	std::optional<std::string> detach_schema;
	std::optional<bool> enabled;
};

/* Validates everything up front, then inserts or updates upkeep.policy (as the extension owner). */
void SetPolicy(const PolicyArgs &args);
/* Removes the policy; false when there was none. Owner only. */
bool DropPolicy(Oid relid);

/* The stored policy row's version now (its xmin), "" when there is none: a run checks it before each batch. */
std::string PolicyVersion(Oid relid);

/* Enabled policies (all, or just `only`, enabled or not), ordered by table name. */
std::vector<Policy> LoadPolicies(Oid only);

/*
 * The cutoff of a policy now: rows whose time is strictly before it are
 * expired.  Computed once per run, in the policy's time zone:
 *   local   = (now in zone) - retain, a wall-clock timestamp
 *   instant = local read back in zone, a timestamptz
 *   key     = in the time column's unit: date -> floor(local) as a date,
 *             timestamp -> local, timestamptz -> instant
 * `now` is the transaction start, or upkeep.debug_now when set (tests).
 */
struct Cutoff {
	int64_t local;
	int64_t instant;
	int64_t key;
	pg::KeyKind kind;
	Oid key_type;     /* base type of the column */
	std::string text; /* the key as a SQL literal, for messages */
};
Cutoff PolicyCutoff(const Policy &p, pg::KeyKind kind, const std::string &tz);
/* "now" in the key's unit, as the cutoff sees it (retain zero). */
int64_t PolicyNowKey(const Policy &p, pg::KeyKind kind, const std::string &tz);

/*
 * Checks an age given to pg_upkeep (retain, older_than, run_every): every part
 * (months, days, time) zero or positive and one of them positive -- '1 mon
 * -29 days' compares as positive, yet in March it puts now - retain after
 * now -- and at most `max_years`.  22023 naming `what` and the value
 * otherwise.  Returns PostgreSQL's own text of the interval.
 */
std::string ValidateAge(const char *what, const std::string &text, int max_years);
constexpr int kMaxRetainYears = 1000;
constexpr int kMaxRunEveryYears = 10;

/* The zone a policy works in. */
std::string PolicyTimeZone(const Policy &p);

/* Kind of the policy's time column; throws when it vanished or changed type. */
pg::KeyKind TimeColumnKind(Oid relid, const std::string &column, Oid *base_type);

} // namespace upkeep::maint
