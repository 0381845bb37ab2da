/*
 * src/pg/pause.cpp
 *
 * See upkeep/pg/pause.hpp.
 */
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/pause.hpp"

extern "C" {
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
}

namespace upkeep::pg {

void
PauseInterruptibly(int ms) {
	if (ms <= 0)
		return;
	PgCall([&] {
		(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms, PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	});
}

} // namespace upkeep::pg
