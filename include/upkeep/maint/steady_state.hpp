/*
 * upkeep/maint/steady_state.hpp
 *
 * The steady state of a partitioned drop/detach policy, answered without
 * reading the set's partition bounds.
 *
 * A full run of a set (premake and retention) reads every partition's bound
 * through the relation cache, which in a new session means parsing each
 * partition's catalog entry: most of what a scheduled run over many sets
 * costs, and almost always to learn that nothing is to be done.  So after a
 * full run the set's summary (core::PartitionShape: the range it covers
 * without a gap, its lowest upper bound) is stored in upkeep.policy_state
 * with a token of the partitions it was taken from: the OIDs of the
 * pg_inherits rows attaching them and those rows' xmin.  Every way the set
 * can change -- CREATE ... PARTITION OF, ATTACH, DETACH (CONCURRENTLY),
 * DROP of a partition -- inserts, updates or deletes such a row, and a
 * partition's bounds cannot change while it stays attached; so while the
 * token read now equals the stored one, the stored summary is the set's.
 * The summary is taken holding SHARE UPDATE EXCLUSIVE on the parent (the
 * lock every such change needs), so the token and the bounds read under it
 * describe the same set.
 *
 * With the summary the run checks, in the policy's time zone and at this
 * moment, that premake has no month to create and retention no partition to
 * expire; if so it reports what the full run would have (no batches, no
 * run_log rows) and moves on.  Anything else -- no summary, another token, a
 * gap, a month to premake, a partition to expire -- takes the full run.
 */
#pragma once

#include <string>
#include <vector>

#include "upkeep/maint/engine.hpp"
#include "upkeep/maint/policy.hpp"
#include "upkeep/pg/catalog.hpp"

namespace upkeep::maint {

/* Policies whose sets have a stored summary: drop and detach on partitioned tables. */
bool KeepsShape(const Policy &p, const pg::RelInfo &rel);

/*
 * SQL: (parent, token) of each partitioned drop/detach policy's set with at
 * least one partition; all of them, or only the one whose OID is the
 * parameter `only_param` when that is not 0.
 */
std::string PartitionTokensSql(const std::string &only_param);

/*
 * True when the stored summary proves the set has nothing to do now; the
 * outcomes the full run would have reported are then appended to `out`.
 */
bool SteadyStateOutcomes(const Policy &p, const RunOptions &opt, const pg::RelInfo &rel, std::vector<Outcome> *out);

/*
 * After a full run: summarize the set as it is now and store it with its
 * token.  Skipped when the parent's SHARE UPDATE EXCLUSIVE lock is not free
 * at once; the lock is held to the end of the transaction, so commit soon.
 */
void RememberShape(const Policy &p, const pg::RelInfo &rel);

} // namespace upkeep::maint
