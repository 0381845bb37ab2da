/*
 * upkeep/core/backoff.hpp
 *
 * The launcher's back-off: a wait that doubles with every repetition of the
 * same trouble (a worker exiting right after its start, a configuration
 * problem) up to a ceiling, so a lasting problem costs a line every few
 * minutes and not a busy loop.
 *
 * The scheduler's back-off: a policy whose run failed is retried after
 * upkeep.naptime * 2^min(f, kMaxRetryDoublings) seconds, f being the failures
 * in a row before this one (the first failure waits one naptime), and never
 * later than its run_every.  The count lives in upkeep.policy_state and is
 * updated by the same statement that sets the next due time, so the
 * scheduler's SQL computes the factor: RetryFactorSql writes that expression
 * from the constants RetryFactor computes with here.
 */
#pragma once

#include <string>

#include "upkeep/core/no_postgres.hpp"

namespace upkeep::core {

/* The longest the launcher waits before trying again, in ms. */
constexpr long kMaxBackoffMs = 300 * 1000;

/* first_ms * 2^n, at most kMaxBackoffMs (and never past it on the way: no overflow for any n). */
long Backoff(long first_ms, int n);

/* The scheduler's retry interval grows by this factor per failure in a row ... */
constexpr int kRetryGrowth = 2;
/* ... at most this many times (the interval is also capped by the policy's run_every). */
constexpr int kMaxRetryDoublings = 20;

/* kRetryGrowth^min(failures, kMaxRetryDoublings): the naptimes to wait after `failures` failures before this one. */
double RetryFactor(int failures);
/* The same factor as a SQL expression over `failures` (an integer column or expression), qualified. */
std::string RetryFactorSql(const std::string &failures);

} // namespace upkeep::core
