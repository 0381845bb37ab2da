/*
 * src/pg/batch_digest.cpp
 *
 * See upkeep/pg/batch_digest.hpp.
 */
#include <memory>

#include "upkeep/pg/batch_digest.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/row_hash.hpp"

extern "C" {
#include "executor/spi.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/typcache.h"
}

namespace upkeep::pg {

namespace {

/* Runs the statement; its result rows (nullptr when it returns none) and their number. */
SPITupleTable *
RunForDigest(const std::string &sql, const std::vector<SpiValue> &args, uint64 *n) {
	int rc = PgCall([&] { return SpiExecuteRaw(sql.c_str(), args, false, 0); });
	if (rc < 0)
		Throw(ERRCODE_INTERNAL_ERROR, "SPI_execute failed while archiving", sql.c_str());
	*n = PgCall([] { return SPI_processed; });
	return PgCall([] { return SPI_tuptable; });
}

/* Attribute numbers 1..k: the hashed columns come first in a batch's RETURNING list. */
std::vector<int>
FirstColumns(int k) {
	std::vector<int> attnums;
	for (int i = 1; i <= k; i++)
		attnums.push_back(i);
	return attnums;
}

/* Running minimum and maximum of one column.  C-style. */
struct RangeTracker {
	int col;          /* 1-based */
	FmgrInfo *cmp;
	Oid collation;
	bool typbyval;
	int16 typlen;
	bool have;
	Datum min, max;
};

void
InitTracker(RangeTracker *t, TupleDesc desc, int col, MemoryContext cxt) {
	Form_pg_attribute att = TupleDescAttr(desc, col - 1);
	TypeCacheEntry *tc = lookup_type_cache(att->atttypid, TYPECACHE_CMP_PROC_FINFO);
	if (!OidIsValid(tc->cmp_proc_finfo.fn_oid))
		elog(ERROR, "pg_upkeep: type %u has no b-tree ordering", att->atttypid);
	t->col = col;
	t->cmp = (FmgrInfo *)MemoryContextAlloc(cxt, sizeof(FmgrInfo));
	fmgr_info_copy(t->cmp, &tc->cmp_proc_finfo, cxt);
	t->collation = att->attcollation;
	t->typbyval = att->attbyval;
	t->typlen = att->attlen;
	t->have = false;
}

void
Track(RangeTracker *t, Datum v, bool isnull, MemoryContext cxt) {
	if (isnull)
		return;
	if (!t->have) {
		MemoryContext old = MemoryContextSwitchTo(cxt);
		t->min = datumCopy(v, t->typbyval, t->typlen);
		t->max = datumCopy(v, t->typbyval, t->typlen);
		MemoryContextSwitchTo(old);
		t->have = true;
		return;
	}
	if (DatumGetInt32(FunctionCall2Coll(t->cmp, t->collation, v, t->min)) < 0) {
		MemoryContext old = MemoryContextSwitchTo(cxt);
		t->min = datumCopy(v, t->typbyval, t->typlen);
		MemoryContextSwitchTo(old);
	}
	if (DatumGetInt32(FunctionCall2Coll(t->cmp, t->collation, v, t->max)) > 0) {
		MemoryContext old = MemoryContextSwitchTo(cxt);
		t->max = datumCopy(v, t->typbyval, t->typlen);
		MemoryContextSwitchTo(old);
	}
}

char *
DatumText(TupleDesc desc, int col, Datum v) {
	Oid out;
	bool varlena;
	getTypeOutputInfo(TupleDescAttr(desc, col - 1)->atttypid, &out, &varlena);
	return OidOutputFunctionCall(out, v);
}

} // namespace

BatchDigest
ExecAndDigestRanges(const std::string &sql, const std::vector<SpiValue> &args, int hash_columns,
                    const std::vector<int> &range_columns) {
	BatchDigest out;
	uint64 n = 0;
	SPITupleTable *tt = RunForDigest(sql, args, &n);
	if (tt == nullptr)
		return out;
	RowHasher hasher(tt->tupdesc, FirstColumns(hash_columns));
	core::Fingerprint fp;
	const int ntrack = static_cast<int>(range_columns.size());
	RangeTracker trackers[8];
	if (ntrack > 8)
		Throw(ERRCODE_INTERNAL_ERROR, "too many range columns");
	MemoryContext cxt = CurrentMemoryContext;
	PgCall([&] {
		const int natts = tt->tupdesc->natts;
		for (int k = 0; k < ntrack; k++)
			InitTracker(&trackers[k], tt->tupdesc, range_columns[k], cxt);
		Datum *values = (Datum *)palloc(sizeof(Datum) * natts);
		bool *isnull = (bool *)palloc(sizeof(bool) * natts);
		for (uint64 r = 0; r < n; r++) {
			heap_deform_tuple(tt->vals[r], tt->tupdesc, values, isnull);
			fp.Add(hasher.HashRow(values, isnull));
			for (int k = 0; k < ntrack; k++)
				Track(&trackers[k], values[trackers[k].col - 1], isnull[trackers[k].col - 1], cxt);
		}
		pfree(values);
		pfree(isnull);
	});
	out.rows = static_cast<int64_t>(fp.Rows());
	out.hash = fp.Sum();
	for (int k = 0; k < ntrack; k++) {
		if (!trackers[k].have) {
			out.extras.push_back(std::nullopt);
			out.extras.push_back(std::nullopt);
			continue;
		}
		char *lo = PgCall([&] { return DatumText(tt->tupdesc, trackers[k].col, trackers[k].min); });
		char *hi = PgCall([&] { return DatumText(tt->tupdesc, trackers[k].col, trackers[k].max); });
		out.extras.push_back(std::string(lo));
		out.extras.push_back(std::string(hi));
	}
	PgCall([&] { SPI_freetuptable(tt); });
	return out;
}

} // namespace upkeep::pg
