/*
 * upkeep/pg/batch_digest.hpp
 *
 * Runs a statement whose result rows are the rows of one archive batch and
 * digests them as they stream out of the executor: row count and the
 * order-independent content hash (pg::RowHasher), plus the minimum and
 * maximum of chosen columns.  Nothing is materialised on our side: each row
 * is hashed in a per-row memory context that is reset before the next, so a
 * batch of any size needs the same memory (the executor's own CTE
 * tuplestores stay within work_mem and spill to disk beyond it).
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "upkeep/core/fingerprint.hpp"
#include "upkeep/pg/spi.hpp"

namespace upkeep::pg {

/* Which columns of the result (all 1-based) mean what. */
struct DigestSpec {
	int hash_first = 1;             /* first hashed column */
	int hash_count = 0;             /* how many hashed columns follow it */
	int present_col = 0;            /* when set: rows where this column is NULL are not rows of the batch */
	int count_col = 0;              /* when set: a column carrying a count from the other side of the move */
	std::vector<int> range_columns; /* columns whose minimum and maximum are wanted */
};

struct BatchDigest {
	int64_t rows = 0;                               /* rows hashed */
	core::Hash128 hash;                             /* their sum */
	int64_t other_count = -1;                       /* the count_col value (-1: no row carried it) */
	std::vector<std::optional<std::string>> extras; /* min, max as text for each range column (nullopt: none) */
};

BatchDigest ExecAndDigest(const std::string &sql, const std::vector<SpiValue> &args, const DigestSpec &spec);

} // namespace upkeep::pg
