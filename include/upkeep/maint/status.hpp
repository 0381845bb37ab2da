/*
 * upkeep/maint/status.hpp
 *
 * Estimates for the upkeep.status view: a policy's cutoff now, the rows
 * past it (planner estimate for a table, pg_class.reltuples of the expired
 * partitions for a partitioned one), partitions present and premade, rows
 * waiting in the DEFAULT partition.  Cheap: no table is scanned.
 */
#pragma once

#include <optional>
#include <string>

extern "C" {
#include "postgres.h"
}

namespace upkeep::maint {

struct PolicyStatus {
	std::string cutoff;             /* the cutoff as a SQL literal */
	std::optional<int64_t> expired; /* estimated rows past the cutoff */
	std::optional<int32_t> partitions;
	std::optional<int32_t> premade; /* partitions entirely in the future */
	std::optional<int64_t> default_rows;
};

/* nullopt when the table has no policy or the caller may not act on it. */
std::optional<PolicyStatus> GetPolicyStatus(Oid relid);

/*
 * pg_total_relation_size(relid), or, for a Citus table whose rows are in
 * shards, citus_total_relation_size(relid): the coordinator's own relation
 * is an empty shell.  nullopt when the table is gone.
 */
std::optional<int64_t> TableBytes(Oid relid);

} // namespace upkeep::maint
