/*
 * upkeep/core/backoff.hpp
 *
 * The launcher's back-off: a wait that doubles with every repetition of the
 * same trouble (a worker exiting right after its start, a configuration
 * problem) up to a ceiling, so a lasting problem costs a line every few
 * minutes and not a busy loop.
 */
#pragma once

#include "upkeep/core/no_postgres.hpp"

namespace upkeep::core {

/* The longest the launcher waits before trying again, in ms. */
constexpr long kMaxBackoffMs = 300 * 1000;

/* first_ms * 2^n, at most kMaxBackoffMs (and never past it on the way: no overflow for any n). */
long Backoff(long first_ms, int n);

} // namespace upkeep::core
