/*
 * src/pg/batch_digest.cpp
 *
 * See upkeep/pg/batch_digest.hpp.  The statement runs through
 * SPI_execute_extended with a DestReceiver of ours, so its result rows are
 * digested one by one as the executor produces them.  The receiver's
 * callbacks are C-style frames (they run inside the executor, under
 * PgCall): the only C++ object they touch is the digest state owned by the
 * caller's frame, above the longjmp landing.
 */
#include <new>

#include "upkeep/pg/batch_digest.hpp"
#include "upkeep/pg/citus.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/row_hash.hpp"

extern "C" {
#include "access/xact.h"
#include "executor/spi.h"
#include "executor/tuptable.h"
#include "nodes/params.h"
#include "tcop/dest.h"
#include "utils/datum.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/typcache.h"
}

namespace upkeep::pg {

namespace {

/* Running minimum and maximum of one column.  C-style. */
struct RangeTracker {
	int col; /* 1-based */
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

/* Replaces a kept bound by a copy of `v` in `cxt`, freeing the old copy (memory stays bounded).  C-style. */
void
Keep(RangeTracker *t, Datum *slot, Datum v, MemoryContext cxt) {
	MemoryContext old = MemoryContextSwitchTo(cxt);
	Datum copy = datumCopy(v, t->typbyval, t->typlen);
	MemoryContextSwitchTo(old);
	if (t->have && !t->typbyval)
		pfree(DatumGetPointer(*slot));
	*slot = copy;
}

void
Track(RangeTracker *t, Datum v, bool isnull, MemoryContext cxt) {
	if (isnull)
		return;
	if (!t->have) {
		Keep(t, &t->min, v, cxt);
		MemoryContext old = MemoryContextSwitchTo(cxt);
		t->max = datumCopy(v, t->typbyval, t->typlen);
		MemoryContextSwitchTo(old);
		t->have = true;
		return;
	}
	if (DatumGetInt32(FunctionCall2Coll(t->cmp, t->collation, v, t->min)) < 0)
		Keep(t, &t->min, v, cxt);
	if (DatumGetInt32(FunctionCall2Coll(t->cmp, t->collation, v, t->max)) > 0)
		Keep(t, &t->max, v, cxt);
}

constexpr int kMaxTracked = 8;

/* The receiver: PostgreSQL's DestReceiver first, our state after it. */
struct DigestReceiver {
	DestReceiver pub;
	const DigestSpec *spec;
	std::optional<RowHasher> *hasher; /* built at startup, from the result's row type */
	core::Fingerprint *fp;
	int64 other_count;
	bool startup_failed;
	RangeTracker trackers[kMaxTracked];
	int ntrack;
	TupleDesc desc;         /* kept for the text of the bounds */
	MemoryContext keep_cxt; /* the bounds */
	MemoryContext row_cxt;  /* reset after every row */
};

void
ReceiverStartup(DestReceiver *self, int operation, TupleDesc typeinfo) {
	(void)operation;
	DigestReceiver *r = (DigestReceiver *)self;
	std::vector<int> attnums;
	try {
		for (int i = 0; i < r->spec->hash_count; i++)
			attnums.push_back(r->spec->hash_first + i);
		r->hasher->emplace(typeinfo, attnums);
	} catch (...) {
		r->startup_failed = true;
	}
	if (r->startup_failed)
		elog(ERROR, "pg_upkeep: could not prepare the batch digest");
	MemoryContext old = MemoryContextSwitchTo(r->keep_cxt);
	r->desc = CreateTupleDescCopy(typeinfo);
	MemoryContextSwitchTo(old);
	for (int k = 0; k < r->ntrack; k++)
		InitTracker(&r->trackers[k], typeinfo, r->spec->range_columns[k], r->keep_cxt);
}

bool
ReceiverSlot(TupleTableSlot *slot, DestReceiver *self) {
	DigestReceiver *r = (DigestReceiver *)self;
	/* in the row's context throughout (the trackers keep what they keep in keep_cxt); reset below */
	MemoryContext old = MemoryContextSwitchTo(r->row_cxt);
	slot_getallattrs(slot);
	const Datum *values = slot->tts_values;
	const bool *isnull = slot->tts_isnull;
	if (r->spec->count_col > 0 && !isnull[r->spec->count_col - 1])
		r->other_count = DatumGetInt64(values[r->spec->count_col - 1]);
	if (r->spec->present_col == 0 || !isnull[r->spec->present_col - 1]) {
		/* the executor called us: a C++ exception must not unwind its frames; become an ERROR after the catch */
		bool oom = false;
		try {
			r->fp->Add((*r->hasher)->HashValues(values, isnull, NULL));
		} catch (...) {
			oom = true;
		}
		if (oom)
			ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory while hashing an archive batch")));
		for (int k = 0; k < r->ntrack; k++)
			Track(&r->trackers[k], values[r->trackers[k].col - 1], isnull[r->trackers[k].col - 1], r->keep_cxt);
	}
	MemoryContextSwitchTo(old);
	MemoryContextReset(r->row_cxt);
	return true;
}

void
ReceiverShutdown(DestReceiver *) {}

void
ReceiverDestroy(DestReceiver *) {}

/* Runs `sql` with the receiver as its destination.  C-style. */
int
RunIntoReceiver(const char *sql, const std::vector<SpiValue> &args, DigestReceiver *r) {
	const int nargs = (int)args.size();
	ParamListInfo params = nargs > 0 ? makeParamList(nargs) : NULL;
	for (int i = 0; i < nargs; i++) {
		ParamExternData *prm = &params->params[i];
		prm->value = SpiValueToDatum(args[i]);
		prm->isnull = args[i].isnull;
		prm->pflags = PARAM_FLAG_CONST;
		prm->ptype = args[i].type;
	}
	SPIExecuteOptions options;
	memset(&options, 0, sizeof(options));
	options.params = params;
	options.read_only = false;
	options.dest = &r->pub;
	return SPI_execute_extended(sql, &options);
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
ExecAndDigest(const std::string &sql, const std::vector<SpiValue> &args, const DigestSpec &spec) {
	if (spec.range_columns.size() > static_cast<size_t>(kMaxTracked))
		Throw(ERRCODE_INTERNAL_ERROR, "too many range columns");
	std::optional<RowHasher> hasher;
	core::Fingerprint fp;
	DigestReceiver r;
	memset(static_cast<void *>(&r), 0, sizeof(r));
	r.pub.receiveSlot = ReceiverSlot;
	r.pub.rStartup = ReceiverStartup;
	r.pub.rShutdown = ReceiverShutdown;
	r.pub.rDestroy = ReceiverDestroy;
	r.pub.mydest = DestNone;
	r.spec = &spec;
	r.hasher = &hasher;
	r.fp = &fp;
	r.other_count = -1;
	r.ntrack = static_cast<int>(spec.range_columns.size());
	BoundLockWaitsOnNodes(EffectiveLockTimeoutMs()); /* Citus: the lock budget on every node, too */
	const int rc = PgCall([&] {
		/* under the (sub)transaction: an error mid-batch frees it with the rollback */
		r.keep_cxt = AllocSetContextCreate(CurTransactionContext, "pg_upkeep batch digest", ALLOCSET_SMALL_SIZES);
		r.row_cxt = AllocSetContextCreate(r.keep_cxt, "pg_upkeep batch digest row", ALLOCSET_DEFAULT_SIZES);
		return RunIntoReceiver(sql.c_str(), args, &r);
	});
	if (rc < 0) {
		PgCall([&] { MemoryContextDelete(r.keep_cxt); });
		Throw(ERRCODE_INTERNAL_ERROR, "SPI_execute failed while archiving", sql);
	}
	BatchDigest out;
	out.rows = static_cast<int64_t>(fp.Rows());
	out.hash = fp.Sum();
	out.other_count = r.other_count;
	for (int k = 0; k < r.ntrack; k++) {
		if (!r.trackers[k].have) {
			out.extras.push_back(std::nullopt);
			out.extras.push_back(std::nullopt);
			continue;
		}
		char *lo = PgCall([&] { return DatumText(r.desc, r.trackers[k].col, r.trackers[k].min); });
		char *hi = PgCall([&] { return DatumText(r.desc, r.trackers[k].col, r.trackers[k].max); });
		out.extras.push_back(std::string(lo));
		out.extras.push_back(std::string(hi));
	}
	PgCall([&] { MemoryContextDelete(r.keep_cxt); });
	return out;
}

} // namespace upkeep::pg
