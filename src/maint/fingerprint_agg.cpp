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
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"
}

namespace upkeep::maint {

namespace {

struct RowTypeHasher {
	bool columns; /* the arguments are the row's columns (else: one whole-row value) */
	Oid typid;    /* whole-row mode: the row type hashed by `hasher` */
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

/* The hasher of h->desc's columns `attnums` and the per-row value arrays, in the cache's context. */
void
BuildHasher(RowTypeHasher *h, const std::vector<int> &attnums, MemoryContext cxt) {
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
	BuildHasher(h, attnums, cxt);
	return h;
}

/* A descriptor of the aggregate's argument types 1..n, in `cxt`.  C-style. */
TupleDesc
ArgumentsRowType(FmgrInfo *flinfo, int nargs, MemoryContext cxt) {
	MemoryContext old = MemoryContextSwitchTo(cxt);
	TupleDesc desc = CreateTemplateTupleDesc(nargs);
	for (int i = 0; i < nargs; i++)
		TupleDescInitEntry(desc, (AttrNumber)(i + 1), NULL, get_fn_expr_argtype(flinfo, i + 1), -1, 0);
	MemoryContextSwitchTo(old);
	return desc;
}

/*
 * The call site's hasher, built on its first row: the mode and the column
 * types come from the call's expression, the same for every row of it.  One
 * argument of a composite type is a whole row (fingerprint_agg(t)); any other
 * arguments are the row's columns (fingerprint_agg(a, b, c)), hashed as the
 * columns of a table row are, without forming and deforming a row value.
 */
RowTypeHasher *
CallSiteHasher(FunctionCallInfo fcinfo) {
	if (auto *h = static_cast<RowTypeHasher *>(fcinfo->flinfo->fn_extra); h != nullptr && h->hasher != nullptr)
		return h;
	const int nargs = PG_NARGS() - 1;
	if (fcinfo->flinfo->fn_expr == nullptr || nargs < 1)
		pg::Throw(ERRCODE_FEATURE_NOT_SUPPORTED, "upkeep.fingerprint_agg's support functions are called only by it");
	if (pg::PgCall([&] { return get_fn_expr_variadic(fcinfo->flinfo); }))
		pg::Throw(ERRCODE_FEATURE_NOT_SUPPORTED,
		          "upkeep.fingerprint_agg takes the columns themselves, not a VARIADIC array", nullptr,
		          "Write upkeep.fingerprint_agg(a, b, c) or upkeep.fingerprint_agg(t) for a whole row.");
	const Oid first = pg::PgCall([&] { return get_fn_expr_argtype(fcinfo->flinfo, 1); });
	if (nargs == 1 && pg::PgCall([&] { return type_is_rowtype(first); }))
		return nullptr; /* whole rows: HasherFor each row's type */
	MemoryContext cxt = fcinfo->flinfo->fn_mcxt;
	auto *h = pg::PgCall([&] { return NewCache(cxt); });
	fcinfo->flinfo->fn_extra = h;
	h->columns = true;
	h->desc = pg::PgCall([&] { return ArgumentsRowType(fcinfo->flinfo, nargs, cxt); });
	std::vector<int> attnums;
	for (int i = 1; i <= nargs; i++)
		attnums.push_back(i);
	BuildHasher(h, attnums, cxt);
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

/*
 * The aggregate's memory context; refuses a call from anywhere else.
 * AggCheckCallContext only reads the call's context and never raises: no
 * PgCall (it runs for every row).
 */
MemoryContext
AggregateContext(FunctionCallInfo fcinfo) {
	MemoryContext aggcxt = nullptr;
	if (AggCheckCallContext(fcinfo, &aggcxt) == 0)
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

/* Deforms one composite value and hashes it.  C-style. */
core::Hash128
HashComposite(RowTypeHasher *h, HeapTupleHeader th) {
	HeapTupleData tuple;
	tuple.t_len = HeapTupleHeaderGetDatumLength(th);
	ItemPointerSetInvalid(&tuple.t_self);
	tuple.t_tableOid = InvalidOid;
	tuple.t_data = th;
	/* the executor resets the per-row context the aggregate runs in */
	return h->hasher->HashTuple(&tuple, h->desc, h->values, h->nulls, NULL);
}

/* Hashes the arguments 1..n as the row's columns.  C-style. */
core::Hash128
HashArguments(RowTypeHasher *h, FunctionCallInfo fcinfo) {
	const int nargs = h->desc->natts;
	for (int i = 0; i < nargs; i++) {
		h->values[i] = fcinfo->args[i + 1].value;
		h->nulls[i] = fcinfo->args[i + 1].isnull;
	}
	return h->hasher->HashValues(h->values, h->nulls, NULL);
}

/*
 * One row's hash, with the fingerprint settings pinned for it when a
 * text-output column needs them and they are not in force now (checked per
 * row: a call site's cache can outlive a change of settings, say in a
 * PL/pgSQL expression evaluated across statements).  `hash` is a C-style
 * step.
 */
template <typename HashFn>
core::Hash128
HashOneRow(RowTypeHasher *h, HashFn &&hash) {
	if (h->text_output && !pg::PgCall([] { return pg::FingerprintSettingsInForce(); }))
		return pg::WithFingerprintSettings([&] { return pg::PgCall(hash); });
	return pg::PgCall(hash);
}

/* Adds `row` to the state and writes it back in place. */
Datum
AddToState(bytea *state, const core::Hash128 &row) {
	core::Fingerprint fp = ReadState(state);
	fp.Add(row);
	fp.ToState(reinterpret_cast<unsigned char *>(VARDATA(state)));
	return PointerGetDatum(state);
}

} // namespace

/*
 * One row into the state.  The per-row path of the columns form makes one
 * call into PostgreSQL's error handling (two with text-output columns under
 * other settings).
 */
Datum
FingerprintAccum(FunctionCallInfo fcinfo) {
	MemoryContext aggcxt = AggregateContext(fcinfo);
	RowTypeHasher *cols = CallSiteHasher(fcinfo);
	if (cols != nullptr && cols->columns) {
		/* the fast path, one step: the state argument and the row's hash */
		bytea *state = nullptr;
		const core::Hash128 row = HashOneRow(cols, [&] {
			state = StateArg(fcinfo, 0, aggcxt);
			return HashArguments(cols, fcinfo);
		});
		return AddToState(state, row);
	}
	bytea *state = pg::PgCall([&] { return StateArg(fcinfo, 0, aggcxt); });
	if (PG_ARGISNULL(1))
		return PointerGetDatum(state); /* a NULL row value is no row (a table's whole row never is) */
	HeapTupleHeader th = pg::PgCall([&] { return PG_GETARG_HEAPTUPLEHEADER(1); });
	RowTypeHasher *h = HasherFor(fcinfo, HeapTupleHeaderGetTypeId(th), HeapTupleHeaderGetTypMod(th));
	return AddToState(state, HashOneRow(h, [&] { return HashComposite(h, th); }));
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
	fp.Add(HashOneRow(h, [&] { return HashComposite(h, th); }));
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
