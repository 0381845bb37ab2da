/*
 * upkeep/maint/fingerprint_agg.hpp
 *
 * upkeep.fingerprint_agg(VARIADIC "any"): table_fingerprint()'s hash as an
 * aggregate, over a row's columns (fingerprint_agg(a, b, c): the values are
 * hashed as they arrive, no row value is formed) or over whole rows (one
 * argument of a composite type: fingerprint_agg(t), deformed per row).
 * Every row is hashed with the same canonical encoding (pg/row_hash.hpp)
 * and the row hashes are summed modulo 2^128, so partial states combine
 * exactly: PostgreSQL's parallel query runs it in several workers and
 * combines.  The state is a 24-byte bytea.  Citus does not push it down (it
 * checks a custom aggregate's argument types exactly): row_hash() below is
 * the distributed form.
 *
 * Text-output columns are hashed under the pinned fingerprint settings: when
 * they are not in force (a parallel worker of a plain query, a Citus worker
 * node's session), each row is hashed with them pinned for that row.
 */
#pragma once

extern "C" {
#include "postgres.h"
#include "fmgr.h"
}

namespace upkeep::maint {

/* Transition (state bytea, columns... | one row) -> state.  Call inside CppBoundary. */
Datum FingerprintAccum(FunctionCallInfo fcinfo);
/* Combine (state, state) -> state. */
Datum FingerprintCombine(FunctionCallInfo fcinfo);
/* Final state -> 32 hex digits (all zeros over no rows). */
Datum FingerprintFinal(FunctionCallInfo fcinfo);
/* Final state -> row count. */
Datum FingerprintRows(FunctionCallInfo fcinfo);
/*
 * upkeep.row_hash(record) -> numeric: one row's hash as a number in
 * [0, 2^128).  sum() of it is exact and every distributed engine pushes sum
 * down: Citus checks a custom aggregate's argument types exactly, so
 * fingerprint_agg (VARIADIC "any") is not pushed down, while
 * count(*) and sum(upkeep.row_hash(t)) are.  The sum modulo 2^128 is the
 * fingerprint.
 */
Datum RowHashNumeric(FunctionCallInfo fcinfo);

} // namespace upkeep::maint
