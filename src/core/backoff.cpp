/*
 * src/core/backoff.cpp
 *
 * See upkeep/core/backoff.hpp.
 */
#include "upkeep/core/backoff.hpp"

namespace upkeep::core {

long
Backoff(long first_ms, int n) {
	long ms = first_ms;
	for (int i = 0; i < n && ms < kMaxBackoffMs; i++)
		ms *= 2;
	return ms > kMaxBackoffMs ? kMaxBackoffMs : ms;
}

} // namespace upkeep::core
