/*
 * src/bgw/shmem.cpp
 *
 * See upkeep/bgw/shmem.hpp.
 */
#include "upkeep/bgw/shmem.hpp"
#include "upkeep/pg/guc.hpp"

extern "C" {
#include "access/xact.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
}

namespace upkeep::bgw {

namespace {

SharedState *g_shared = nullptr;
shmem_request_hook_type g_prev_request = nullptr;
shmem_startup_hook_type g_prev_startup = nullptr;

Size
SharedSize() {
	return add_size(offsetof(SharedState, slots), mul_size(sizeof(DbSlot), pg::g_max_workers));
}

void
RequestHook() {
	if (g_prev_request)
		g_prev_request();
	RequestAddinShmemSpace(SharedSize());
}

void
StartupHook() {
	if (g_prev_startup)
		g_prev_startup();
	bool found;
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	g_shared = (SharedState *)ShmemInitStruct("pg_upkeep", SharedSize(), &found);
	if (!found) {
		memset(g_shared, 0, SharedSize());
		SpinLockInit(&g_shared->mutex);
		g_shared->nslots = pg::g_max_workers;
	}
	LWLockRelease(AddinShmemInitLock);
}

} // namespace

void
InstallShmemHooks() {
	g_prev_request = shmem_request_hook;
	shmem_request_hook = RequestHook;
	g_prev_startup = shmem_startup_hook;
	shmem_startup_hook = StartupHook;
}

SharedState *
Shared() {
	return g_shared;
}

bool
WakeWorkerForCurrentDatabase() {
	if (g_shared == nullptr)
		return false;
	Latch *latch = nullptr;
	SpinLockAcquire(&g_shared->mutex);
	for (int i = 0; i < g_shared->nslots; i++)
		if (g_shared->slots[i].dboid == MyDatabaseId && g_shared->slots[i].state == kSlotRunning)
			latch = g_shared->slots[i].latch;
	SpinLockRelease(&g_shared->mutex);
	if (latch == nullptr)
		return false;
	SetLatch(latch);
	return true;
}

namespace {
bool g_wake_pending = false;
bool g_poke_pending = false;
bool g_callback_registered = false;

void
AtTransactionEnd(XactEvent event, void *) {
	if (event == XACT_EVENT_COMMIT) {
		if (g_wake_pending)
			(void)WakeWorkerForCurrentDatabase();
		if (g_poke_pending && g_shared != nullptr) {
			SpinLockAcquire(&g_shared->mutex);
			g_shared->recheck = true;
			SpinLockRelease(&g_shared->mutex);
			PokeLauncher();
		}
	}
	if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT)
		g_wake_pending = g_poke_pending = false;
}

void
RegisterCallback() {
	if (!g_callback_registered) {
		RegisterXactCallback(AtTransactionEnd, nullptr);
		g_callback_registered = true;
	}
}
} // namespace

void
WakeWorkerAtCommit() {
	if (g_shared == nullptr)
		return;
	RegisterCallback();
	g_wake_pending = true;
}

void
PokeLauncherAtCommit() {
	if (g_shared == nullptr)
		return;
	RegisterCallback();
	g_poke_pending = true;
}

void
PokeLauncher() {
	if (g_shared == nullptr)
		return;
	Latch *latch;
	SpinLockAcquire(&g_shared->mutex);
	latch = g_shared->launcher_latch;
	SpinLockRelease(&g_shared->mutex);
	if (latch != nullptr)
		SetLatch(latch);
}

} // namespace upkeep::bgw
