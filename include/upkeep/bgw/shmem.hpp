/*
 * upkeep/bgw/shmem.hpp
 *
 * A little shared memory for the launcher and its workers: one slot per
 * database being served (its worker's pid and latch, and what became of
 * it), plus the launcher's latch.  Requested through shmem_request_hook
 * (PostgreSQL 15), so it exists only when the library is preloaded.
 * Everything here is C-style: plain structs under a spinlock.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/spin.h"
}

namespace upkeep::bgw {

enum SlotState : int {
	kSlotFree = 0,
	kSlotStarting,
	kSlotRunning,
	kSlotStopped,      /* exited (terminated, crashed, or stopped by the launcher) */
	kSlotNoExtension   /* the database has no pg_upkeep extension: do not start it again until reloaded */
};

struct DbSlot {
	NameData dbname;         /* as listed in upkeep.databases */
	Oid dboid;               /* filled in by the worker once connected */
	int state;
	pid_t pid;
	Latch *latch;            /* the worker's MyLatch, for wake_worker() */
	TimestampTz started_at;
	TimestampTz stopped_at;
	TimestampTz next_start;  /* back-off: not before this */
	int quick_exits;         /* consecutive exits soon after start */
	bool warned;             /* the "no extension" line was logged */
};

struct SharedState {
	slock_t mutex;
	Latch *launcher_latch;
	pid_t launcher_pid;
	int nslots;
	DbSlot slots[FLEXIBLE_ARRAY_MEMBER];
};

/* Installs the shmem hooks (from _PG_init, preload only). */
void InstallShmemHooks();
/* The shared state, or nullptr when the library was not preloaded. */
SharedState *Shared();

/* Wakes the worker serving the current database; false when there is none. */
bool WakeWorkerForCurrentDatabase();
/* Wakes it when the current transaction commits (a new or changed policy is then visible to it). */
void WakeWorkerAtCommit();

} // namespace upkeep::bgw
