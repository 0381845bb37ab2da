/*
 * test/unit/backoff_test.cpp
 *
 * The two back-offs: the launcher's doubles up to its ceiling; the
 * scheduler's retry factor doubles per failure in a row up to 2^20, and the
 * SQL the worker runs for it is exactly the expression it has always run.
 */
#include <gtest/gtest.h>

#include <string>

#include "upkeep/core/backoff.hpp"

using namespace upkeep::core;

TEST(Backoff, DoublesUpToTheCeiling) {
	EXPECT_EQ(Backoff(1000, 0), 1000);
	EXPECT_EQ(Backoff(1000, 1), 2000);
	EXPECT_EQ(Backoff(1000, 3), 8000);
	EXPECT_EQ(Backoff(10000, 4), 160000);
	EXPECT_EQ(Backoff(10000, 5), kMaxBackoffMs);
	EXPECT_EQ(Backoff(1000, 1000000), kMaxBackoffMs); /* no overflow however long the trouble lasts */
	EXPECT_EQ(Backoff(kMaxBackoffMs * 2, 0), kMaxBackoffMs);
}

TEST(RetryFactor, DoublesPerFailureUpToTwentyDoublings) {
	EXPECT_EQ(RetryFactor(0), 1.0); /* a first failure waits one naptime ... */
	EXPECT_EQ(RetryFactor(1), 2.0); /* ... the second in a row two */
	EXPECT_EQ(RetryFactor(3), 8.0);
	EXPECT_EQ(RetryFactor(19), 524288.0);
	EXPECT_EQ(RetryFactor(20), 1048576.0);
	EXPECT_EQ(RetryFactor(21), 1048576.0); /* no overflow however long a policy keeps failing */
	EXPECT_EQ(RetryFactor(1000000), 1048576.0);
}

TEST(RetryFactor, SqlIsTheSchedulersExpression) {
	/* byte for byte what upkeep.policy_state's updates computed before the rule moved here */
	EXPECT_EQ(RetryFactorSql("s.failures"), "pg_catalog.power(2, LEAST(s.failures, 20))");
	EXPECT_EQ(RetryFactorSql("0"), "pg_catalog.power(2, LEAST(0, 20))");
}
