/*
 * src/pg/replica_pace.cpp
 *
 * See upkeep/pg/replica_pace.hpp.
 */
#include <deque>
#include <utility>

#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/replica_pace.hpp"
#include "upkeep/pg/report.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "access/xact.h"
#include "access/xlog.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "storage/latch.h"
}

namespace upkeep::pg {

namespace {

/* This backend's recent batch commits: (end of the commit record, when), oldest first. */
std::deque<std::pair<uint64_t, double>> &
Commits() {
	static std::deque<std::pair<uint64_t, double>> commits;
	return commits;
}

constexpr size_t kMaxRemembered = 4096;

} // namespace

void
NoteBatchCommit() {
	/* the insert position right after our commit: at or past the end of its commit record */
	const uint64_t lsn = PgCall([] { return (uint64_t)GetXLogInsertRecPtr(); });
	auto &c = Commits();
	if (!c.empty() && c.back().first >= lsn)
		return;
	c.emplace_back(lsn, NowMs());
	if (c.size() > kMaxRemembered)
		c.pop_front();
}

double
ReplicaLagMs() {
	const SpiResult r = AsExtensionOwner([] {
		/*
		 * replay_lag is the last measured lag, shown for a while after a
		 * replica caught up: a replica that has replayed all WAL flushed
		 * here is behind by nothing, whatever that column still says.
		 */
		return SpiExec(
		    "SELECT (r.replay_lsn OPERATOR(pg_catalog.-) '0/0'::pg_catalog.pg_lsn)::pg_catalog.int8, "
		    "CASE WHEN r.replay_lsn OPERATOR(pg_catalog.>=) pg_catalog.pg_current_wal_flush_lsn() "
		    "THEN NULL ELSE (EXTRACT(epoch FROM r.replay_lag) OPERATOR(pg_catalog.*) 1000)::pg_catalog.float8 "
		    "END "
		    "FROM pg_catalog.pg_stat_replication r WHERE r.state OPERATOR(pg_catalog.=) 'streaming'",
		    {}, SpiMode::ReadOnly);
	});
	auto &commits = Commits();
	const double now = NowMs();
	double worst = 0;
	uint64_t min_replayed = UINT64_MAX;
	for (size_t i = 0; i < r.rows.size(); i++) {
		if (!r.IsNull(i, 1))
			worst = std::max(worst, std::stod(r.At(i, 1)));
		if (r.IsNull(i, 0))
			continue;
		const uint64_t replayed = static_cast<uint64_t>(r.Int(i, 0));
		min_replayed = std::min(min_replayed, replayed);
		for (const auto &[lsn, at] : commits)
			if (lsn > replayed) {
				worst = std::max(worst, now - at);
				break;
			}
	}
	/* what every replica has replayed is no longer needed */
	while (!commits.empty() && commits.front().first <= min_replayed && min_replayed != UINT64_MAX)
		commits.pop_front();
	return worst;
}

double
WaitForReplicas(int max_lag_ms, double give_up_ms, const std::function<void(double)> &show) {
	if (max_lag_ms <= 0)
		return 0;
	const double t0 = NowMs();
	for (;;) {
		const double lag = ReplicaLagMs();
		if (lag <= max_lag_ms)
			return NowMs() - t0;
		show(lag);
		if (NowMs() - t0 > give_up_ms) {
			const std::string msg = "replicas stayed behind (replay lag " + std::to_string(static_cast<long>(lag)) +
			                        " ms > upkeep.max_replica_lag " + std::to_string(max_lag_ms) + " ms) for " +
			                        std::to_string(static_cast<long>((NowMs() - t0) / 1000)) + " s";
			Throw(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, msg, nullptr,
			      "The table is taken up again on the next run.");
		}
		PgCall([] {
			(void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 200, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		});
	}
}

} // namespace upkeep::pg
