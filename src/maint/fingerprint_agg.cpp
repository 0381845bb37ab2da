/*
 * src/maint/fingerprint_agg.cpp
 *
 * See upkeep/maint/fingerprint_agg.hpp.  The row hasher of a row type is
 * built once per aggregate call site (fn_extra, in fn_mcxt) and deleted by a
 * reset callback of that context, so it lives exactly as long as the
 * executor state that uses it.
 */
#include <cstring>
#include <new>

#include "upkeep/core/fingerprint.hpp"
#include "upkeep/maint/fingerprint_agg.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/row_hash.hpp"

extern "C" {
#include "access/htup_details.h"
#include "access/tupdesc.h"
#include "utils/builtins.h"
#include "utils/memutils.h"
#include "utils/typcache.h"
}

namespace upkeep::maint {

namespace {

struct RowTypeHasher {
	Oid typid;
	int32 typmod;
	TupleDesc desc;
	pg::RowHasher *hasher;
	bool text_output; /* some column is hashed by its text output: the settings must be pinned for it */
	Datum *values;
	bool *nulls;
};

/* Reset callback of fn_mcxt: the hasher's C++ members are not palloc'd. */
void
DeleteHasher(void *arg) {
	auto *h = static_cast<RowTypeHasher *>(arg);
	delete h->hasher;
	h->hasher = nullptr;
}

/* The row type's descriptor, copied into `cxt`, and its live columns in order.  C-style. */
TupleDesc
CopyRowType(Oid typid, int32 typmod, MemoryContext cxt) {
	MemoryContext old = MemoryContextSwitchTo(cxt);
	TupleDesc desc = lookup_rowtype_tupdesc_copy(typid, typmod);
	MemoryContextSwitchTo(old);
	return desc;
}

/* Allocates the per-call-site cache and registers its reset callback.  C-style. */
RowTypeHasher *
NewCache(MemoryContext cxt) {
	auto *h = static_cast<RowTypeHasher *>(MemoryContextAllocZero(cxt, sizeof(RowTypeHasher)));
	auto *cb = static_cast<MemoryContextCallback *>(MemoryContextAllocZero(cxt, sizeof(MemoryContextCallback)));
	cb->func = DeleteHasher;
	cb->arg = h;
	MemoryContextRegisterResetCallback(cxt, cb);
	return h;
}

RowTypeHasher *
HasherFor(FunctionCallInfo fcinfo, Oid typid, int32 typmod) {
	MemoryContext cxt = fcinfo->flinfo->fn_mcxt;
	auto *h = static_cast<RowTypeHasher *>(fcinfo->flinfo->fn_extra);
	if (h != nullptr && h->hasher != nullptr && h->typid == typid && h->typmod == typmod)
		return h;
	if (h == nullptr) {
		h = pg::PgCall([&] { return NewCache(cxt); });
		fcinfo->flinfo->fn_extra = h;
	}
	delete h->hasher; /* a different row type at the same call site (a record-typed input) */
	h->hasher = nullptr;
	pg::PgCall([&] {
		if (h->desc != nullptr)
			FreeTupleDesc(h->desc);
		if (h->values != nullptr)
			pfree(h->values);
		if (h->nulls != nullptr)
			pfree(h->nulls);
		h->desc = nullptr;
		h->values = nullptr;
		h->nulls = nullptr;
	});
	h->typid = typid;
	h->typmod = typmod;
	h->desc = pg::PgCall([&] { return CopyRowType(typid, typmod, cxt); });
	std::vector<int> attnums;
	for (int i = 0; i < h->desc->natts; i++)
		if (!TupleDescAttr(h->desc, i)->attisdropped)
			attnums.push_back(i + 1);
	/* output functions' FmgrInfo (text-output columns) live as long as the cache */
	MemoryContext old = MemoryContextSwitchTo(cxt);
	try {
		h->hasher = new pg::RowHasher(h->desc, attnums);
	} catch (...) {
		MemoryContextSwitchTo(old);
		throw;
	}
	MemoryContextSwitchTo(old);
	h->text_output = h->hasher->UsesTextOutput();
	const int natts = h->desc->natts;
	h->values = pg::PgCall([&] { return static_cast<Datum *>(MemoryContextAlloc(cxt, sizeof(Datum) * natts)); });
	h->nulls = pg::PgCall([&] { return static_cast<bool *>(MemoryContextAlloc(cxt, sizeof(bool) * natts)); });
	return h;
}

/* The state in `state` (NULL: empty). */
core::Fingerprint
ReadState(bytea *state) {
	if (state == nullptr)
		return core::Fingerprint();
	if (VARSIZE_ANY_EXHDR(state) != core::Fingerprint::kStateBytes)
		pg::Throw(ERRCODE_DATA_CORRUPTED,
		          "not a fingerprint_agg state: " + std::to_string(VARSIZE_ANY_EXHDR(state)) + " bytes, 24 expected");
	return core::Fingerprint::FromState(reinterpret_cast<const unsigned char *>(VARDATA_ANY(state)));
}

/* A new state in the aggregate's context.  C-style. */
bytea *
NewState(MemoryContext aggcxt) {
	auto *s = static_cast<bytea *>(MemoryContextAllocZero(aggcxt, VARHDRSZ + core::Fingerprint::kStateBytes));
	SET_VARSIZE(s, VARHDRSZ + core::Fingerprint::kStateBytes);
	return s;
}

/* The aggregate's memory context; refuses a call from anywhere else. */
MemoryContext
AggregateContext(FunctionCallInfo fcinfo) {
	MemoryContext aggcxt = nullptr;
	if (!pg::PgCall([&] { return AggCheckCallContext(fcinfo, &aggcxt) != 0; }))
		pg::Throw(ERRCODE_FEATURE_NOT_SUPPORTED, "upkeep.fingerprint_agg's support functions are called only by it");
	return aggcxt;
}

/*
 * The state argument, written in place: called as an aggregate, a support
 * function may modify its transition value (PostgreSQL's aggregate
 * convention; a detoasted copy is returned instead, and the executor copies
 * a new pointer into the aggregate's context).  NULL: a new state in the
 * aggregate's context.  C-style.
 */
bytea *
StateArg(FunctionCallInfo fcinfo, int argno, MemoryContext aggcxt) {
	if (PG_ARGISNULL(argno))
		return NewState(aggcxt);
	return PG_GETARG_BYTEA_P(argno);
}

/* Deforms one composite value and hashes it into `fp`.  C-style. */
void
HashComposite(RowTypeHasher *h, HeapTupleHeader th, core::Fingerprint *fp) {
	HeapTupleData tuple;
	tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = th;
	/* the executor resets the per-row context the aggregate runs in */
	fp->Add(h->hasher->HashTuple(&tuple, h->desc, h->values, h->nulls, NULL));
}

/*
 * One row, with the fingerprint settings pinned for it when a text-output
 * column needs them and they are not in force now (checked per row: a
 * call site's cache can outlive a change of settings, say in a PL/pgSQL
 * expression evaluated across statements).
 */
void
HashOneRow(RowTypeHasher *h, HeapTupleHeader th, core::Fingerprint *fp) {
	if (h->text_output && !pg::PgCall([] { return pg::FingerprintSettingsInForce(); }))
		pg::WithFingerprintSettings([&] { pg::PgCall([&] { HashComposite(h, th, fp); }); });
	else
		pg::PgCall([&] { HashComposite(h, th, fp); });
}

} // namespace

Datum
FingerprintAccum(FunctionCallInfo fcinfo) {
	MemoryContext aggcxt = AggregateContext(fcinfo);
	bytea *state = pg::PgCall([&] { return StateArg(fcinfo, 0, aggcxt); });
	if (PG_ARGISNULL(1))
		return PointerGetDatum(state); /* a NULL row value is no row (a table's whole row never is) */
	HeapTupleHeader th = pg::PgCall([&] { return PG_GETARG_HEAPTUPLEHEADER(1); });
	RowTypeHasher *h = HasherFor(fcinfo, HeapTupleHeaderGetTypeId(th), HeapTupleHeaderGetTypMod(th));
	core::Fingerprint fp = ReadState(state);
	HashOneRow(h, th, &fp);
	fp.ToState(reinterpret_cast<unsigned char *>(VARDATA(state)));
	return PointerGetDatum(state);
}

Datum
FingerprintCombine(FunctionCallInfo fcinfo) {
	MemoryContext aggcxt = AggregateContext(fcinfo);
	if (PG_ARGISNULL(1)) {
		if (PG_ARGISNULL(0)) {
			fcinfo->isnull = true;
			return (Datum)0;
		}
		return pg::PgCall([&] { return PointerGetDatum(StateArg(fcinfo, 0, aggcxt)); });
	}
	bytea *state = pg::PgCall([&] { return StateArg(fcinfo, 0, aggcxt); });
	core::Fingerprint fp = ReadState(state);
	fp.Merge(ReadState(pg::PgCall([&] { return PG_GETARG_BYTEA_PP(1); })));
	fp.ToState(reinterpret_cast<unsigned char *>(VARDATA(state)));
	return PointerGetDatum(state);
}

Datum
FingerprintFinal(FunctionCallInfo fcinfo) {
	const core::Fingerprint fp =
	    ReadState(PG_ARGISNULL(0) ? nullptr : pg::PgCall([&] { return PG_GETARG_BYTEA_PP(0); }));
	const std::string hex = fp.Hex();
	return pg::PgCall([&] { return PointerGetDatum(cstring_to_text(hex.c_str())); });
}

Datum
RowHashNumeric(FunctionCallInfo fcinfo) {
	HeapTupleHeader th = pg::PgCall([&] { return PG_GETARG_HEAPTUPLEHEADER(0); });
	RowTypeHasher *h = HasherFor(fcinfo, HeapTupleHeaderGetTypeId(th), HeapTupleHeaderGetTypMod(th));
	core::Fingerprint fp;
	HashOneRow(h, th, &fp);
	const std::string digits = fp.Sum().Decimal();
	return pg::PgCall([&] {
		return DirectFunctionCall3(numeric_in, CStringGetDatum(digits.c_str()), ObjectIdGetDatum(InvalidOid),
		                           Int32GetDatum(-1));
	});
}

Datum
FingerprintRows(FunctionCallInfo fcinfo) {
	const core::Fingerprint fp =
	    ReadState(PG_ARGISNULL(0) ? nullptr : pg::PgCall([&] { return PG_GETARG_BYTEA_PP(0); }));
	return Int64GetDatum(static_cast<int64>(fp.Rows()));
}

} // namespace upkeep::maint
