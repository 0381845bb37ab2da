/*
 * upkeep/bgw/shmem.hpp
 *
 * A little shared memory for the launcher, its workers and every backend's
 * utility hook: one slot per database being served (its worker's pid,
 * latch and generation, what became of it), plus the launcher's identity.
 * Requested through shmem_request_hook (PostgreSQL 15), so it exists only
 * when the library is preloaded.  Everything here is C-style: plain structs
 * under a spinlock.
 *
 * One worker per database, whatever is killed or restarted:
 *   - the launcher gives each start a new generation (never reused), writes
 *     it into the slot with state "starting" BEFORE registering the worker,
 *     and passes it in bgw_main_arg;
 *   - the worker claims the slot (pid, latch, "running") only while the
 *     slot's generation is still its own and the launcher that started it
 *     (bgw_notify_pid) is still the launcher; otherwise it exits;
 *   - a worker's exit clears the slot only if the slot is still its own;
 *   - a restarted launcher SIGTERMs the workers of its predecessor (the pids
 *     left in the slots) and starts nothing for a slot until they are gone;
 *   - each worker holds a session advisory lock on its database (classid
 *     kDatabaseLockClass, objid 0), taken without waiting: a second worker
 *     on the same database cannot run, even if everything above failed.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "datatype/timestamp.h"
#include "storage/latch.h"
#include "storage/spin.h"
}

namespace upkeep::bgw {

/* Advisory lock class of the per-database worker lock (0x55504B57, "UPKW"); objid 0. */
constexpr uint32 kDatabaseLockClass = 0x55504B57;

enum SlotState : int {
	kSlotFree = 0,
	kSlotStarting, /* registered with the postmaster, not connected yet */
	kSlotRunning,  /* connected: maintaining, or waiting for CREATE EXTENSION */
	kSlotStopped,  /* exited (terminated, crashed, stopped by the launcher); started again at next_start */
	kSlotBlocked   /* not started: a configuration problem (see `problem`); checked again at next_start */
};

struct DbSlot {
	NameData dbname; /* as listed in upkeep.databases */
	Oid dboid;       /* filled in by the worker once connected */
	int state;
	uint32 generation; /* of the last start; the worker of another generation does not own the slot */
	pid_t pid;         /* the owning worker, while it runs */
	Latch *latch;      /* its MyLatch, for wake_worker() */
	bool waiting;      /* connected, but the database has no pg_upkeep extension (yet) */
	TimestampTz started_at;
	TimestampTz stopped_at;
	TimestampTz next_start; /* back-off: not before this */
	int quick_exits;        /* consecutive exits soon after start */
	int problems;           /* consecutive configuration problems (their back-off) */
	int problem_kind;       /* of the last one (launcher.cpp) */
	char problem[96];       /* the last one, as logged */
	bool leave;             /* asked to leave the database (DROP/RENAME DATABASE ...) */
	char leave_for[48];     /* ... for this command */
	TimestampTz hold_until; /* no worker for this database before this (while that command runs) */
};

struct SharedState {
	slock_t mutex;
	Latch *launcher_latch;
	pid_t launcher_pid;
	uint32 next_generation;
	bool recheck; /* committed DDL may have fixed a configuration problem: check again at once */
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
/* Tells the launcher, when the current transaction commits, to check configuration problems again now. */
void PokeLauncherAtCommit();
/* Sets the launcher's latch (no-op without a launcher). */
void PokeLauncher();

} // namespace upkeep::bgw
