/*
 * src/maint/expired_batches.cpp
 *
 * See upkeep/maint/expired_batches.hpp.
 */
#include <limits>

#include "upkeep/maint/expired_batches.hpp"
#include "upkeep/maint/table_run.hpp"
#include "upkeep/pg/citus.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/report.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
}

namespace upkeep::maint {

namespace {
/* A batch should stay well under the 100 ms a DBA tolerates for a maintenance transaction. */
constexpr double kBatchTargetMs = 60.0;
} // namespace

core::TableFacts
GatherTableFacts(const pg::RelInfo &rel, const std::string &time_column) {
	core::TableFacts f;
	f.is_partitioned = rel.relkind == RELKIND_PARTITIONED_TABLE;
	pg::SpiResult r = pg::SpiExec(
	    "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
	    "  JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid "
	    "  JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) ic.relam "
	    "  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
	    "   AND a.attnum OPERATOR(pg_catalog.=) i.indkey[0] "
	    " WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND a.attname OPERATOR(pg_catalog.=) $2 "
	    "   AND am.amname OPERATOR(pg_catalog.=) 'btree' AND i.indpred IS NULL AND i.indisvalid), "
	    "EXISTS (SELECT 1 FROM pg_catalog.pg_index i "
	    "  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
	    "   AND a.attnum OPERATOR(pg_catalog.=) i.indkey[0] "
	    " WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND i.indisprimary AND i.indnkeyatts OPERATOR(pg_catalog.=) 1 "
	    "   AND a.atttypid OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.int2'::pg_catalog.regtype, "
	    "       'pg_catalog.int4'::pg_catalog.regtype, 'pg_catalog.int8'::pg_catalog.regtype]::pg_catalog.oid[]))",
	    {pg::SpiValue::Oid_(rel.oid), pg::SpiValue::Name(time_column)}, pg::SpiMode::ReadOnly);
	f.has_time_index = r.BoolAt(0, 0);
	f.has_integer_pk = r.BoolAt(0, 1);
	/* rows in shards: ctid is no row identity (a Citus local table's rows are here, ctid works) */
	f.is_distributed = pg::RowsOnShards(pg::CitusTableKind(rel.oid));
	return f;
}

struct ExpiredRowBatches::State {
	const pg::RelInfo &rel; /* the run's view of the table: its name is refreshed under each batch's lock */
	std::string col;        /* quoted time column */
	Cutoff cutoff;
	core::BatchMethod method;
	core::RowBudget budget;
	bool done = false;

	/* TimeSlice */
	core::TimeSliceCursor cursor;
	core::SliceEstimator estimator;
	bool last_was_equal = false;
	int64_t last_limit = 0;
	int64_t last_width = 0; /* width of the last slice with both bounds, 0 if none */

	/* CtidRange */
	std::optional<core::BlockStepper> stepper;

	/* PkRange */
	std::string pk;
	std::optional<int64_t> pk_last;

	State(const pg::RelInfo &r, const std::string &c, const Cutoff &cut, int batch_size, core::BatchMethod m)
	    : rel(r), col(pg::QuoteIdent(c)), cutoff(cut), method(m), budget(batch_size, kBatchTargetMs), cursor(cut.key) {}

	/* ONLY t for plain tables, t for partitioned ones, by the name the table has now */
	std::string
	Target() const {
		return (rel.relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ") + rel.qualified;
	}

	pg::SpiValue
	Key(int64_t v) const {
		return pg::SpiValue::Key(cutoff.key_type, v);
	}

	std::string
	LowerBound(int first_param) const {
		if (!cursor.Lo())
			return "";
		return " AND " + col + (cursor.LoInclusive() ? " OPERATOR(pg_catalog.>=) $" : " OPERATOR(pg_catalog.>) $") +
		       std::to_string(first_param);
	}

	std::optional<BatchPredicate>
	NextTimeSlice() {
		const int64_t n = budget.Rows();
		last_width = 0;
		/* an estimated slice: no boundary query (see core::SliceEstimator) */
		if (estimator.Ready() && cursor.Lo() && cursor.LoInclusive()) {
			const int64_t width = estimator.Width(n);
			if (width > 0) {
				const int64_t lo = *cursor.Lo();
				int64_t remaining;
				if (__builtin_sub_overflow(cutoff.key, lo, &remaining))
					remaining = std::numeric_limits<int64_t>::max();
				const int64_t hi = (remaining <= width) ? cutoff.key : lo + width;
				BatchPredicate p;
				p.where = col + " OPERATOR(pg_catalog.>=) $1 AND " + col + " OPERATOR(pg_catalog.<) $2";
				p.args = {Key(lo), Key(hi)};
				last_width = hi - lo;
				last_was_equal = false;
				cursor.Advance(hi);
				if (cursor.Done())
					done = true;
				return p;
			}
		}
		std::vector<pg::SpiValue> args{Key(cutoff.key)};
		if (cursor.Lo())
			args.push_back(Key(*cursor.Lo()));
		std::string bq = "SELECT " + col + " FROM " + Target() + " WHERE " + col + " OPERATOR(pg_catalog.<) $1" +
		                 LowerBound(2) + " ORDER BY " + col + " OFFSET " + std::to_string(n) + " LIMIT 1";
		auto rows = pg::SpiQueryInts(bq, args);
		std::optional<int64_t> boundary;
		if (!rows.empty() && rows[0][0])
			boundary = *rows[0][0];
		/* build the predicate before the cursor moves on */
		const std::optional<int64_t> lo = cursor.Lo();
		const bool lo_inclusive = cursor.LoInclusive();
		core::TimeSliceCursor::Step step = cursor.Next(boundary);
		BatchPredicate p;
		switch (step.kind) {
		case core::TimeSliceCursor::StepKind::Done:
			return std::nullopt;
		case core::TimeSliceCursor::StepKind::Range:
			p.where = col + " OPERATOR(pg_catalog.<) $1";
			p.args.push_back(Key(step.hi));
			if (lo) {
				p.where +=
				    " AND " + col + (lo_inclusive ? " OPERATOR(pg_catalog.>=) $2" : " OPERATOR(pg_catalog.>) $2");
				p.args.push_back(Key(*lo));
				if (lo_inclusive)
					last_width = step.hi - *lo;
			}
			last_was_equal = false;
			if (cursor.Done())
				done = true;
			return p;
		case core::TimeSliceCursor::StepKind::Equal:
			last_was_equal = true;
			last_limit = n;
			if (rel.relkind == RELKIND_PARTITIONED_TABLE) {
				/* (tableoid, ctid) would be the row identity; one statement for the whole value instead */
				p.where = col + " OPERATOR(pg_catalog.=) $1";
				p.args.push_back(Key(step.value));
				last_limit = std::numeric_limits<int64_t>::max();
			} else {
				/*
				 * The ctid list only narrows the batch: the statement re-checks
				 * the time itself, so a row updated to another time meanwhile
				 * (its new version fails the re-check) stays.
				 */
				p.where = col +
				          " OPERATOR(pg_catalog.=) $1 AND ctid OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT ctid FROM " +
				          Target() + " WHERE " + col + " OPERATOR(pg_catalog.=) $1 LIMIT $2))";
				p.args.push_back(Key(step.value));
				p.args.push_back(pg::SpiValue::Int8(n));
			}
			return p;
		}
		return std::nullopt;
	}

	std::optional<BatchPredicate>
	NextCtid() {
		if (!stepper) {
			auto rows = pg::SpiQueryInts("SELECT (pg_catalog.pg_relation_size($1) OPERATOR(pg_catalog./) "
			                             "pg_catalog.current_setting('block_size')::pg_catalog.int8), "
			                             "c.reltuples::pg_catalog.int8, GREATEST(c.relpages, 1)::pg_catalog.int8 "
			                             "FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) $1",
			                             {pg::SpiValue::RegClass(rel.oid)});
			const int64_t blocks = *rows.at(0).at(0);
			double per_block = 0;
			if (rows[0][1] && *rows[0][1] > 0)
				per_block = static_cast<double>(*rows[0][1]) / static_cast<double>(*rows[0][2]);
			else if (blocks > 0) {
				/* never analyzed: count the first blocks */
				const int64_t sample = std::min<int64_t>(blocks, 8);
				auto n = pg::SpiQueryInts("SELECT pg_catalog.count(*) FROM " + Target() +
				                              " WHERE ctid OPERATOR(pg_catalog.<) $1",
				                          {pg::SpiValue::Tid(static_cast<uint32_t>(sample), 0)});
				per_block = static_cast<double>(*n.at(0).at(0)) / static_cast<double>(sample);
			}
			stepper.emplace(static_cast<uint64_t>(blocks), per_block > 0 ? per_block : 50.0);
		}
		/* skip blocks without expired rows with one read-only probe */
		auto next = pg::SpiQueryInts(
		    "SELECT ((ctid::pg_catalog.text::pg_catalog.point)[0])::pg_catalog.int8 FROM " + Target() +
		        " WHERE ctid OPERATOR(pg_catalog.>=) $1 AND " + col + " OPERATOR(pg_catalog.<) $2 LIMIT 1",
		    {pg::SpiValue::Tid(static_cast<uint32_t>(stepper->Position()), 0), Key(cutoff.key)});
		if (next.empty() || !next[0][0]) {
			done = true;
			return std::nullopt;
		}
		stepper->JumpTo(static_cast<uint64_t>(*next[0][0]));
		if (stepper->Done()) {
			/* the expired row sits in a block appended since the run began: take the tail in one range */
			BatchPredicate tail;
			tail.where = "ctid OPERATOR(pg_catalog.>=) $1 AND " + col + " OPERATOR(pg_catalog.<) $2";
			tail.args = {pg::SpiValue::Tid(static_cast<uint32_t>(stepper->Position()), 0), Key(cutoff.key)};
			done = true;
			return tail;
		}
		auto [start, end] = stepper->Next(budget.Rows());
		BatchPredicate p;
		p.where = "ctid OPERATOR(pg_catalog.>=) $1 AND ctid OPERATOR(pg_catalog.<) $2 AND " + col +
		          " OPERATOR(pg_catalog.<) $3";
		p.args = {pg::SpiValue::Tid(static_cast<uint32_t>(start), 0), pg::SpiValue::Tid(static_cast<uint32_t>(end), 0),
		          Key(cutoff.key)};
		return p;
	}

	std::optional<BatchPredicate>
	NextPk() {
		if (pk.empty()) {
			pg::SpiResult r =
			    pg::SpiExec("SELECT a.attname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid "
			                "OPERATOR(pg_catalog.=) i.indrelid AND a.attnum OPERATOR(pg_catalog.=) i.indkey[0] "
			                "WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND i.indisprimary",
			                {pg::SpiValue::Oid_(rel.oid)}, pg::SpiMode::ReadOnly);
			if (r.rows.empty())
				pg::Throw(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, "primary-key batching needs a primary key");
			pk = pg::QuoteIdent(r.At(0, 0));
		}
		const int64_t n = budget.Rows();
		std::vector<pg::SpiValue> args{Key(cutoff.key)};
		std::string lower;
		if (pk_last) {
			args.push_back(pg::SpiValue::Int8(*pk_last));
			lower = " AND " + pk + " OPERATOR(pg_catalog.>) $2";
		}
		auto rows = pg::SpiQueryInts("SELECT " + pk + "::pg_catalog.int8 FROM " + Target() + " WHERE " + col +
		                                 " OPERATOR(pg_catalog.<) $1" + lower + " ORDER BY " + pk + " OFFSET " +
		                                 std::to_string(n - 1) + " LIMIT 1",
		                             args);
		BatchPredicate p;
		p.where = col + " OPERATOR(pg_catalog.<) $1" + lower;
		p.args = args;
		if (!rows.empty() && rows[0][0]) {
			p.where += " AND " + pk + " OPERATOR(pg_catalog.<=) $" + std::to_string(args.size() + 1);
			p.args.push_back(pg::SpiValue::Int8(*rows[0][0]));
			pk_last = *rows[0][0];
		} else
			done = true;
		return p;
	}
};

ExpiredRowBatches::ExpiredRowBatches(const pg::RelInfo &rel, const std::string &time_column, const Cutoff &cutoff,
                                     int batch_size, core::BatchMethod method)
    : s_(std::make_unique<State>(rel, time_column, cutoff, batch_size, method)) {}

ExpiredRowBatches::~ExpiredRowBatches() = default;

std::optional<BatchPredicate>
ExpiredRowBatches::Next() {
	if (s_->done)
		return std::nullopt;
	switch (s_->method) {
	case core::BatchMethod::TimeSlice:
		return s_->NextTimeSlice();
	case core::BatchMethod::CtidRange:
		return s_->NextCtid();
	case core::BatchMethod::PkRange:
		return s_->NextPk();
	}
	return std::nullopt;
}

void
ExpiredRowBatches::Observe(int64_t rows, double elapsed_ms) {
	s_->budget.Observe(rows, elapsed_ms);
	if (s_->method == core::BatchMethod::CtidRange && s_->stepper)
		s_->stepper->Observe(rows);
	/*
	 * A tie group is done when a batch of it removes nothing -- not merely
	 * fewer rows than its limit: a row updated away meanwhile makes a batch
	 * short while others of the group remain.  (A partitioned set takes the
	 * whole group in one statement: its limit is "all".)
	 */
	const bool group_done = s_->last_limit == std::numeric_limits<int64_t>::max() ? rows < s_->last_limit : rows == 0;
	if (s_->method == core::BatchMethod::TimeSlice && s_->last_was_equal && group_done) {
		s_->cursor.EqualExhausted();
		s_->last_was_equal = false;
	}
	if (s_->method == core::BatchMethod::TimeSlice && s_->last_width > 0)
		s_->estimator.Observe(s_->last_width, rows, s_->budget.Rows());
}

std::string
ExpiredRowBatches::Target() const {
	return s_->Target();
}

bool
ExpiredRowBatches::Done() const {
	return s_->done;
}

bool
ExpiredRowBatches::OnlyAppendedBlocksLeft() const {
	return s_->method == core::BatchMethod::CtidRange && s_->stepper && s_->stepper->Done();
}

core::BatchMethod
ExpiredRowBatches::Method() const {
	return s_->method;
}

int64_t
CountExpiredRows(const pg::RelInfo &rel, const std::string &time_column, const Cutoff &cutoff) {
	const std::string target = (rel.relkind == RELKIND_PARTITIONED_TABLE ? "" : "ONLY ") + rel.qualified;
	auto rows = pg::SpiQueryInts("SELECT pg_catalog.count(*) FROM " + target + " WHERE " + pg::QuoteIdent(time_column) +
	                                 " OPERATOR(pg_catalog.<) $1",
	                             {pg::SpiValue::Key(cutoff.key_type, cutoff.key)});
	return *rows.at(0).at(0);
}

int64_t
RunExpiredBatches(TableRun &run, ExpiredRowBatches &batches,
                  const std::function<int64_t(const BatchPredicate &)> &work) {
	int64_t total = 0;
	while (!batches.Done()) {
		/* no pause before a closing probe of only the blocks added during the run */
		const bool may_pause = !batches.OnlyAppendedBlocksLeft();
		const int64_t rows = run.Batch(
		    [&]() -> int64_t {
			    std::optional<BatchPredicate> pred = batches.Next();
			    if (!pred)
				    return -1;
			    pg::FaultPoint("cleanup-after-select");
			    const double t0 = pg::NowMs();
			    const int64_t n = work(*pred);
			    /*
			     * A batch's time is held against its budget only when the
			     * batch commits: in the caller's transaction (a function call)
			     * every batch's locks last until the caller commits, so
			     * smaller batches would shorten nothing and cost a
			     * subtransaction each (on Citus a savepoint on every node):
			     * the batch size stays the caller's.
			     */
			    batches.Observe(n, run.PerBatchCommits() ? pg::NowMs() - t0 : 0.0);
			    return n;
		    },
		    may_pause);
		if (rows < 0)
			break;
		total += rows;
	}
	return total;
}

} // namespace upkeep::maint
