/*
 * upkeep/maint/expired_batches.hpp
 *
 * Cuts the expired rows of one table (time column < cutoff) into bounded
 * batches and hands out, batch after batch, the WHERE predicate that selects
 * exactly one batch.  The DELETE (retention) or DELETE ... RETURNING into
 * INSERT (archival) is up to the caller; the predicate is the same.  The
 * method comes from core::ChooseBatchMethod; see upkeep/core/batch_plan.hpp.
 *
 * Next() may run a boundary query: call it inside the batch's transaction,
 * as the table's owner.  Rows whose time is NULL are never selected.
 */
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "upkeep/core/batch_plan.hpp"
#include "upkeep/maint/policy.hpp"
#include "upkeep/pg/spi.hpp"

namespace upkeep::maint {

struct BatchPredicate {
	std::string where;              /* SQL text with $1..$n */
	std::vector<pg::SpiValue> args; /* values for them */
};

/* Facts about a table that decide its batching method. */
core::TableFacts GatherTableFacts(const pg::RelInfo &rel, const std::string &time_column);

class ExpiredRowBatches {
  public:
	ExpiredRowBatches(const pg::RelInfo &rel, const std::string &time_column, const Cutoff &cutoff, int batch_size,
	                  core::BatchMethod method);
	~ExpiredRowBatches();
	ExpiredRowBatches(const ExpiredRowBatches &) = delete;
	ExpiredRowBatches &operator=(const ExpiredRowBatches &) = delete;

	/* The predicate of the next batch, or nullopt when every expired row has been handed out. */
	std::optional<BatchPredicate> Next();
	/* What the last batch did (rows affected, elapsed ms; 0: its time bounds nothing, keep the batch size). */
	void Observe(int64_t rows, double elapsed_ms);
	/*
	 * The last predicate has been handed out.  Time slices and key ranges
	 * know it when they hand it out; block ranges only once a probe has found
	 * no expired row after the last range (Next() then returns nullopt).
	 */
	bool Done() const;
	/*
	 * Block ranges have reached the end the table had when the walk began:
	 * what is left is the closing probe of the blocks added since (cheap).
	 */
	bool OnlyAppendedBlocksLeft() const;
	/*
	 * "FROM" target for statements: ONLY t for plain tables, t for partitioned
	 * ones, by the table's current name (`rel` is the run's, refreshed by OID
	 * under each batch's lock; it must outlive this object).
	 */
	std::string Target() const;
	core::BatchMethod Method() const;

	struct State;

  private:
	std::unique_ptr<State> s_;
};

class TableRun;

/*
 * Runs `work` on each batch of `batches`, one run.Batch each (the predicate
 * found at the start of the batch, in its transaction), and returns the rows
 * they affected.  No batch call follows the last predicate when the walk
 * knows it is the last (time slices, key ranges), so upkeep.batch_pause falls
 * only between two batches with work.  Block ranges end with a read-only
 * probe in its own transaction: without a pause when only blocks added
 * during the run are left to look at, after one when the expired rows ended
 * before the table did.  `work` returns the rows it affected.
 */
int64_t RunExpiredBatches(TableRun &run, ExpiredRowBatches &batches,
                          const std::function<int64_t(const BatchPredicate &)> &work);

/* Exact number of expired rows (for dry runs). */
int64_t CountExpiredRows(const pg::RelInfo &rel, const std::string &time_column, const Cutoff &cutoff);

/*
 * "; ON DELETE also changes public.items (CASCADE), public.notes (SET NULL)":
 * the tables a DELETE from `relid` changes through foreign keys with ON
 * DELETE CASCADE / SET NULL / SET DEFAULT (recursively through CASCADE), for
 * a dry run to name; empty when there are none.
 */
std::string CascadeNote(Oid relid);

} // namespace upkeep::maint
