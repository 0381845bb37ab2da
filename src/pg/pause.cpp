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
#include "utils/timestamp.h"
}

namespace upkeep::pg {

void
PauseInterruptibly(int ms) {
	if (ms <= 0)
		return;
	PgCall([&] {
		/*
		 * The latch may be set for reasons that are not ours (it stays set
		 * until someone waits on it): wake, serve interrupts, and sleep on
		 * until the pause is over.
		 */
		TimestampTz end = TimestampTzPlusMilliseconds(GetCurrentTimestamp(), ms);
		for (;;) {
			long left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), end);
			if (left <= 0)
				break;
			(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, left, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	});
}

} // namespace upkeep::pg
