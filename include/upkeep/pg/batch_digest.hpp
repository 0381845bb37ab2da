/*
 * upkeep/pg/batch_digest.hpp
 *
 * Runs a statement whose result rows are the rows of one archive batch and
 * digests them on the way: row count and the order-independent content hash
 * (pg::RowHasher over the first `hash_columns` columns), plus the key and
 * time ranges of the batch.
 */
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "upkeep/core/fingerprint.hpp"
#include "upkeep/pg/spi.hpp"

namespace upkeep::pg {

struct BatchDigest {
	int64_t rows = 0;
	core::Hash128 hash;
	std::vector<std::optional<std::string>> extras;
};

/*
 * The result's first `hash_columns` columns are hashed, and the minimum and
 * maximum of the (1-based) columns in `range_columns` are returned as text
 * in `extras` (min, max for each), compared with their types' b-tree
 * ordering.
 */
BatchDigest ExecAndDigestRanges(const std::string &sql, const std::vector<SpiValue> &args, int hash_columns,
                                const std::vector<int> &range_columns);

} // namespace upkeep::pg
