/*
 * src/core/backoff.cpp
 *
 * See upkeep/core/backoff.hpp.
 */
#define UPKEEP_CORE_TU 1
#include "upkeep/core/backoff.hpp"

#include <algorithm>
#include <cmath>

namespace upkeep::core {

long
Backoff(long first_ms, int n) {
	long ms = first_ms;
	for (int i = 0; i < n && ms < kMaxBackoffMs; i++)
		ms *= 2;
	return ms > kMaxBackoffMs ? kMaxBackoffMs : ms;
}

double
RetryFactor(int failures) {
	return std::pow(static_cast<double>(kRetryGrowth), std::min(failures, kMaxRetryDoublings));
}

std::string
RetryFactorSql(const std::string &failures) {
	/* LEAST is SQL syntax, not a function a search_path could redirect */
	return "pg_catalog.power(" + std::to_string(kRetryGrowth) + ", LEAST(" + failures + ", " +
	       std::to_string(kMaxRetryDoublings) + "))";
}

} // namespace upkeep::core
