/*
 * upkeep/maint/pending_detach.hpp
 *
 * Partitions whose ALTER TABLE ... DETACH PARTITION ... CONCURRENTLY did not
 * finish: its first transaction committed (pg_inherits.inhdetachpending is
 * set) and the second was cancelled or failed (say, a long query on the
 * parent outlasted the lock budget).  Such a partition is in neither state:
 * queries on the parent no longer see its rows, PostgreSQL's partition
 * descriptor hides it (pg::ListRangePartitions does not list it), and no
 * other partition of the parent can be detached concurrently until
 * ALTER TABLE ... DETACH PARTITION ... FINALIZE completes it.
 *
 * The next run of the parent finalizes it (and moves it to the policy's
 * detach_schema); verify_backup_integrity() reports it as failed meanwhile.
 */
#pragma once

#include <string>
#include <vector>

extern "C" {
#include "postgres.h"
}

namespace upkeep::maint {

class TableRun;

struct PendingDetach {
	Oid oid;
	std::string qualified; /* quoted schema.name */
};

/* The partitions of `parent` with a detach pending (an SPI connection must be open). */
std::vector<PendingDetach> PendingDetaches(Oid parent);

/*
 * Finalizes the pending detaches of the run's table, one batch each (as its
 * owner, under upkeep.lock_timeout: FINALIZE waits for older snapshots), and
 * moves each to the policy's detach_schema.  Returns what to say about it in
 * run_log ("" when there was nothing to finalize).  A batch error ends the
 * action like any other (a lock timeout: skipped, retried next run).
 */
std::string FinalizePendingDetaches(TableRun &run);

} // namespace upkeep::maint
