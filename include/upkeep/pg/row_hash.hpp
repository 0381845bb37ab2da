/*
 * upkeep/pg/row_hash.hpp
 *
 * The canonical per-row encoding of core::RowEncoder applied to PostgreSQL
 * values.  One encoding per column type, chosen so that a value encodes to
 * the same bytes on the original, after pg_dump/pg_restore and after a
 * physical restore:
 *   - fixed-width by-value types (integers, bool, date, time, timestamps,
 *     money, "char"): the value as a little-endian integer of its width;
 *   - float4/float8: the IEEE bits, every NaN folded to one;
 *   - text, varchar, bpchar, bytea, numeric, jsonb, json, uuid, inet/cidr,
 *     macaddr, and arrays of these, of the types above and of floats: the
 *     detoasted, decompressed content bytes (NaN elements of float arrays
 *     folded to one, as for plain floats);
 *   - name: its characters;
 *   - everything else (other arrays, enums, composites, ranges, intervals, user
 *     types): the type's text output under pinned DateStyle, IntervalStyle,
 *     TimeZone, extra_float_digits, bytea_output and search_path (reg*
 *     types) -- their binary forms carry OIDs that differ between databases.
 * Call the hashing functions inside PgCall (they may ereport) and with
 * PinFingerprintSettings() in force.
 */
#pragma once

#include <type_traits>
#include <vector>

#include "upkeep/core/fingerprint.hpp"

extern "C" {
#include "postgres.h"
#include "access/htup.h"
#include "access/tupdesc.h"
#include "executor/tuptable.h"
#include "fmgr.h"
}

namespace upkeep::pg {

class RowHasher {
  public:
	/* `attnums`: 1-based attribute numbers of `desc`, in hashing order (position i+1 in the encoding). */
	RowHasher(TupleDesc desc, const std::vector<int> &attnums);

	/* Hash of one row given deformed values.  C-style body: may ereport (detoast, output functions). */
	core::Hash128 HashRow(const Datum *values, const bool *nulls);

	/*
	 * The one deform-and-hash step of every row pg_upkeep hashes (table
	 * scans, archive batches, archive checks, the aggregate): the row's
	 * values, then its hash, with what hashing allocates (detoasted copies,
	 * output text) in `scratch`, reset after the row so that nothing adds up
	 * over a table; NULL: in the current context, which the caller resets
	 * (an aggregate's per-row context).  C-style bodies.
	 */
	core::Hash128 HashSlot(TupleTableSlot *slot, MemoryContext scratch);
	core::Hash128 HashTuple(HeapTuple tuple, TupleDesc desc, Datum *values, bool *nulls, MemoryContext scratch);
	core::Hash128 HashValues(const Datum *values, const bool *nulls, MemoryContext scratch);

	size_t
	Columns() const {
		return cols_.size();
	}
	/* True when some column is hashed by its text output, which the fingerprint settings must govern. */
	bool UsesTextOutput() const;

	enum Kind : uint8_t { kFixedInt, kFloat4, kFloat8, kVarlena, kFloat4Array, kFloat8Array, kName, kTextOut };
	struct Col {
		int attnum;
		int16 typlen;
		Kind kind;
		FmgrInfo out; /* kTextOut only */
	};

  private:
	std::vector<Col> cols_;
	core::RowEncoder enc_;
};

/* Opens a GUC nest level pinning the settings text output depends on; returns it for AtEOXact_GUC. */
int PinFingerprintSettings();
void UnpinFingerprintSettings(int nest_level);
/* True when every setting PinFingerprintSettings pins has its pinned value now.  C-style. */
bool FingerprintSettingsInForce();

/*
 * Runs `fn` with the fingerprint settings pinned and unpins them when it
 * returns: the pair written once.  When `fn` throws, nothing is called into
 * PostgreSQL on the way out; the (sub)transaction's abort pops the nest
 * level with everything else.
 */
template <class Fn>
auto
WithFingerprintSettings(Fn &&fn) -> decltype(fn()) {
	const int nest = PinFingerprintSettings();
	if constexpr (std::is_void_v<decltype(fn())>) {
		fn();
		UnpinFingerprintSettings(nest);
	} else {
		auto result = fn();
		UnpinFingerprintSettings(nest);
		return result;
	}
}

} // namespace upkeep::pg
