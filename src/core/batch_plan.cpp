/*
 * src/core/batch_plan.cpp
 *
 * See upkeep/core/batch_plan.hpp.
 */
#define UPKEEP_CORE_TU 1
#include "upkeep/core/batch_plan.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace upkeep::core {

const char *
BatchMethodName(BatchMethod m) {
	switch (m) {
	case BatchMethod::TimeSlice:
		return "time";
	case BatchMethod::CtidRange:
		return "ctid";
	case BatchMethod::PkRange:
		return "pk";
	}
	return "?";
}

std::optional<BatchMethod>
ParseBatchMethod(const std::string &name) {
	if (name == "auto" || name.empty())
		return std::nullopt;
	if (name == "time")
		return BatchMethod::TimeSlice;
	if (name == "ctid")
		return BatchMethod::CtidRange;
	if (name == "pk")
		return BatchMethod::PkRange;
	throw std::invalid_argument("unknown batch method \"" + name + "\" (expected auto, time, ctid or pk)");
}

BatchMethod
ChooseBatchMethod(const TableFacts &f, std::optional<BatchMethod> forced, std::string *why) {
	const bool ctid_ok = !f.is_partitioned && !f.is_distributed;
	if (forced) {
		switch (*forced) {
		case BatchMethod::TimeSlice:
			*why = f.has_time_index ? "forced: time slices on the time index" : "forced: time slices (no time index)";
			return BatchMethod::TimeSlice;
		case BatchMethod::CtidRange:
			if (ctid_ok) {
				*why = "forced: ctid block ranges";
				return BatchMethod::CtidRange;
			}
			break;
		case BatchMethod::PkRange:
			if (f.has_integer_pk) {
				*why = "forced: primary-key ranges";
				return BatchMethod::PkRange;
			}
			break;
		}
	}
	if (f.has_time_index) {
		*why = "time slices on the time index";
		return BatchMethod::TimeSlice;
	}
	if (ctid_ok) {
		*why = "ctid block ranges (no index on the time column)";
		return BatchMethod::CtidRange;
	}
	if (f.has_integer_pk) {
		*why = "primary-key ranges (no time index; ctid is not a row identity here)";
		return BatchMethod::PkRange;
	}
	if (f.is_partitioned) {
		*why = "time slices without an index (partitioned, no time index, no integer primary key)";
		return BatchMethod::TimeSlice;
	}
	if (f.is_distributed) {
		/* every shard scans its own rows for each slice, side by side; an index makes each slice cheap */
		*why = "time slices without an index (distributed, no time index, no integer primary key: each batch "
		       "scans every shard; an index on the time column makes batches cheap)";
		return BatchMethod::TimeSlice;
	}
	throw std::invalid_argument(
	    "no safe batching for this table: it needs an index on the time column or a single-column integer primary key");
}

RowBudget::RowBudget(int64_t batch_size, double target_ms)
    : max_rows_(std::max<int64_t>(1, batch_size)), target_ms_(target_ms), rows_(max_rows_) {}

void
RowBudget::Observe(int64_t rows_done, double elapsed_ms) {
	if (rows_done <= 0 || elapsed_ms <= 0)
		return;
	if (elapsed_ms > target_ms_) {
		/* too slow: aim at 80% of the budget at the observed speed */
		const double rate = static_cast<double>(rows_done) / elapsed_ms;
		rows_ = std::max<int64_t>(1, static_cast<int64_t>(rate * target_ms_ * 0.8));
	} else if (elapsed_ms < target_ms_ / 2 && rows_done >= rows_) {
		rows_ = std::min<int64_t>(max_rows_, rows_ * 2);
	}
	rows_ = std::min(rows_, max_rows_);
}

TimeSliceCursor::TimeSliceCursor(int64_t cutoff) : cutoff_(cutoff) {}

TimeSliceCursor::Step
TimeSliceCursor::Next(std::optional<int64_t> boundary) {
	if (done_)
		return Step{StepKind::Done, lo_, lo_inclusive_, cutoff_, 0};
	if (!boundary || *boundary >= cutoff_) {
		/* n or fewer rows remain: one last range up to the cutoff */
		done_ = true;
		return Step{StepKind::Range, lo_, lo_inclusive_, cutoff_, 0};
	}
	if (lo_ && *boundary == *lo_) {
		/* more than n rows share the lower bound's key */
		return Step{StepKind::Equal, lo_, lo_inclusive_, *boundary, *boundary};
	}
	Step step{StepKind::Range, lo_, lo_inclusive_, *boundary, 0};
	lo_ = *boundary;
	lo_inclusive_ = true;
	return step;
}

void
TimeSliceCursor::EqualExhausted() {
	lo_inclusive_ = false;
}

void
TimeSliceCursor::Advance(int64_t hi) {
	if (hi >= cutoff_) {
		done_ = true;
		return;
	}
	lo_ = hi;
	lo_inclusive_ = true;
}

int64_t
SliceEstimator::Width(int64_t rows) const {
	if (density_ <= 0)
		return 0;
	const double w = static_cast<double>(std::max<int64_t>(1, rows)) / density_;
	if (w < 1.0)
		return 0;
	return w > 9.0e18 ? static_cast<int64_t>(9.0e18) : static_cast<int64_t>(w);
}

void
SliceEstimator::Observe(int64_t width, int64_t rows, int64_t budget) {
	if (width <= 0)
		return;
	exact_next_ = rows > budget + budget / 2;
	if (rows <= 0) {
		/*
		 * An empty slice: a gap in the data, or the end of the expired rows.
		 * An exact boundary finds the next row (or that none is left) in one
		 * index probe, where widening slices would walk to it in empty batches.
		 */
		exact_next_ = true;
		return;
	}
	const double d = static_cast<double>(rows) / static_cast<double>(width);
	density_ = (density_ <= 0 || d > density_) ? d : 0.5 * density_ + 0.5 * d;
}

BlockStepper::BlockStepper(uint64_t total_blocks, double rows_per_block)
    : total_(total_blocks), density_(rows_per_block > 0 ? rows_per_block : 1.0) {}

void
BlockStepper::JumpTo(uint64_t block) {
	if (block > next_)
		next_ = std::min(block, total_);
}

std::pair<uint64_t, uint64_t>
BlockStepper::Next(int64_t rows) {
	const double span = std::floor(static_cast<double>(std::max<int64_t>(1, rows)) / density_);
	const uint64_t s = static_cast<uint64_t>(std::max(1.0, span));
	const uint64_t start = next_;
	const uint64_t end = std::min<uint64_t>(total_, start + s);
	last_span_ = end - start;
	next_ = end;
	return {start, end};
}

void
BlockStepper::Observe(int64_t rows) {
	if (last_span_ == 0 || rows <= 0)
		return;
	/* more expired rows per block than assumed: size the next ranges for that */
	const double d = static_cast<double>(rows) / static_cast<double>(last_span_);
	if (d > density_)
		density_ = d;
}

} // namespace upkeep::core
