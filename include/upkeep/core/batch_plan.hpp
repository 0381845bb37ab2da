/*
 * upkeep/core/batch_plan.hpp
 *
 * How retention and archival cut a table's expired rows into bounded,
 * atomic batches.  Pure decisions and bookkeeping; the pg layer runs the
 * statements.
 *
 *   TimeSlice  the time column has a b-tree index: each batch is a key range
 *              [lo, hi) whose upper bound is the key of the (n+1)-th expired
 *              row, read from the index; the DELETE is a range scan of
 *              exactly those rows (works on partitioned parents and on
 *              distributed tables alike).
 *   CtidRange  no time index, plain heap: each batch is a block range read
 *              with a TID range scan, filtered on the time column; the
 *              range adapts so a batch holds about n rows and ~target ms.
 *   PkRange    integer primary key, for tables where ctid is not a row
 *              identity (forced or distributed): ranges of the key.
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "upkeep/core/no_postgres.hpp"

namespace upkeep::core {

enum class BatchMethod { TimeSlice, CtidRange, PkRange };

const char *BatchMethodName(BatchMethod m);
/* "auto" -> nullopt; "time" / "ctid" / "pk" -> the method; anything else throws std::invalid_argument. */
std::optional<BatchMethod> ParseBatchMethod(const std::string &name);

struct TableFacts {
	bool has_time_index = false; /* b-tree index whose first column is the time column */
	bool is_partitioned = false; /* partitioned parent: ctid alone is not a row identity */
	bool is_distributed = false; /* e.g. Citus: ctid batching is wrong */
	bool has_integer_pk = false; /* single-column int2/int4/int8 primary key */
};

/*
 * The method for a table.  `forced` (from upkeep.batch_method) wins when it
 * is usable for the table; `why` explains the choice.  Throws
 * std::invalid_argument when nothing applies (distributed table without a
 * time index or integer primary key).
 */
BatchMethod ChooseBatchMethod(const TableFacts &facts, std::optional<BatchMethod> forced, std::string *why);

/*
 * Rows per batch, adapted so a batch stays under a time budget: starts at
 * the policy's batch_size, shrinks when a batch runs long, grows back (at
 * most doubling) when batches are quick, never exceeds batch_size.
 */
class RowBudget {
  public:
	RowBudget(int64_t batch_size, double target_ms);
	int64_t
	Rows() const {
		return rows_;
	}
	void Observe(int64_t rows_done, double elapsed_ms);

  private:
	int64_t max_rows_;
	double target_ms_;
	int64_t rows_;
};

/* Key-range walk over expired rows (key < cutoff) for TimeSlice batching. */
class TimeSliceCursor {
  public:
	explicit TimeSliceCursor(int64_t cutoff);

	enum class StepKind {
		Range, /* delete rows with lo <(=) key < hi */
		Equal, /* more than n rows share key == value: delete them in chunks until none is left */
		Done
	};
	struct Step {
		StepKind kind;
		std::optional<int64_t> lo; /* absent: no lower bound */
		bool lo_inclusive;
		int64_t hi;    /* exclusive upper bound (Range) */
		int64_t value; /* Equal */
	};

	/* Lower bound for the boundary query. */
	std::optional<int64_t>
	Lo() const {
		return lo_;
	}
	bool
	LoInclusive() const {
		return lo_inclusive_;
	}
	int64_t
	Cutoff() const {
		return cutoff_;
	}
	bool
	Done() const {
		return done_;
	}

	/*
	 * `boundary` is the key of the (n+1)-th remaining expired row above the
	 * lower bound, or nullopt when n or fewer remain.
	 */
	Step Next(std::optional<int64_t> boundary);
	/* An Equal step's chunk removed nothing more: move past that value. */
	void EqualExhausted();
	/*
	 * An estimated slice [Lo, hi) was taken (see SliceEstimator): continue
	 * from hi; at or past the cutoff the walk is done.
	 */
	void Advance(int64_t hi);

  private:
	int64_t cutoff_;
	std::optional<int64_t> lo_;
	bool lo_inclusive_ = true;
	bool done_ = false;
};

/*
 * Widths of time slices without boundary queries.  A boundary query reads
 * the index entries of a batch once more before the DELETE reads them
 * again; once two exact slices have shown how many rows a unit of time
 * holds, the next slice's width is estimated from the density observed so
 * far (rising density believed at once, falling density halfway), and the
 * walk returns to exact boundaries whenever a slice overshoots its budget
 * by half, comes back empty (a gap, or the end of the expired rows: one
 * index probe jumps it), or a width would fall below one unit.
 */
class SliceEstimator {
  public:
	/* An estimate exists and no overshoot asked for exact boundaries. */
	bool
	Ready() const {
		return density_ > 0 && !exact_next_;
	}
	/* Width (key units) expected to hold `rows` rows; 0 when below one unit. */
	int64_t Width(int64_t rows) const;
	/* A slice of `width` units held `rows` rows, for a budget of `budget` rows. */
	void Observe(int64_t width, int64_t rows, int64_t budget);

  private:
	double density_ = 0; /* rows per key unit */
	bool exact_next_ = false;
};

/*
 * Block ranges for CtidRange batching.  The caller first probes for the
 * next block holding an expired row and jumps there (regions without
 * expired rows are passed by one read-only probe, never by DELETEs); then a
 * range holds at most about the row budget: its length is the budget
 * divided by the rows per block -- the table's average, or the most
 * expired rows per block seen so far, whichever is larger.
 */
class BlockStepper {
  public:
	BlockStepper(uint64_t total_blocks, double rows_per_block);
	bool
	Done() const {
		return next_ >= total_;
	}
	uint64_t
	Position() const {
		return next_;
	}
	/* The probe found the next expired row in `block` (or none: pass total_blocks). */
	void JumpTo(uint64_t block);
	/* The next range [start, end) for a budget of `rows` rows. */
	std::pair<uint64_t, uint64_t> Next(int64_t rows);
	/* Rows the last range yielded. */
	void Observe(int64_t rows);

  private:
	uint64_t total_;
	uint64_t next_ = 0;
	uint64_t last_span_ = 0;
	double density_; /* rows per block used for sizing */
};

} // namespace upkeep::core
