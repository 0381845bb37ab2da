/*
 * upkeep/pg/replica_pace.hpp
 *
 * Replica-aware pacing (upkeep.max_replica_lag): between two batches of a
 * committing run, wait while any streaming replica is further behind than
 * the setting allows, so a backlog of retention or archival does not pile
 * up WAL that the replicas cannot apply.
 *
 * How far behind: for each replica in pg_stat_replication (read as the
 * extension owner, so a table owner's run sees the positions too), the
 * larger of its replay_lag and the age of the oldest of this backend's own
 * batch commits it has not replayed yet -- exact for our own WAL even while
 * the replica's replay is paused, when replay_lag stands still.
 */
#pragma once

#include <functional>
#include <string>

namespace upkeep::pg {

/* After each commit of a batch: remember where it ended in the WAL, and when. */
void NoteBatchCommit();

/* The largest replay lag of any streaming replica now, in milliseconds (0: none behind, or no replica). */
double ReplicaLagMs();

/*
 * Waits, on the process latch (an Extension wait; interrupts served), while
 * ReplicaLagMs() exceeds `max_lag_ms`; `show` is told the lag each time it
 * is measured (for pg_stat_activity).  Gives up after `give_up_ms` (55000).
 * Returns the milliseconds waited.
 */
double WaitForReplicas(int max_lag_ms, double give_up_ms, const std::function<void(double)> &show);

} // namespace upkeep::pg
