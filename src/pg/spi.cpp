/*
 * src/pg/spi.cpp
 *
 * SPI wrappers (see upkeep/pg/spi.hpp).  The functions handed to PgCall are
 * C-style: the only locals are PODs and pointers to palloc'd memory.
 */
#include <cstdlib>
#include <stdexcept>

#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/setting.hpp"
#include "upkeep/pg/spi.hpp"
#include "upkeep/pg/citus.hpp"
#include "upkeep/pg/owner_context.hpp"

extern "C" {
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "nodes/parsenodes.h"
#include "executor/spi.h"
#include "tcop/pquery.h"
#include "utils/portal.h"
#include "utils/snapmgr.h"
#include "storage/itemptr.h"
#include "utils/builtins.h"
#include "utils/guc.h"
}

namespace upkeep::pg {

SpiValue
SpiValue::Text(std::string s) {
	return SpiValue{TEXTOID, false, 0, std::move(s)};
}
SpiValue
SpiValue::Name(std::string s) {
	return SpiValue{NAMEOID, false, 0, std::move(s)};
}
SpiValue
SpiValue::Int8(int64_t v) {
	return SpiValue{INT8OID, false, v, {}};
}
SpiValue
SpiValue::Int4(int32_t v) {
	return SpiValue{INT4OID, false, v, {}};
}
SpiValue
SpiValue::Oid_(Oid v) {
	return SpiValue{OIDOID, false, static_cast<int64_t>(v), {}};
}
SpiValue
SpiValue::RegClass(Oid v) {
	return SpiValue{REGCLASSOID, false, static_cast<int64_t>(v), {}};
}
SpiValue
SpiValue::Bool(bool v) {
	return SpiValue{BOOLOID, false, v ? 1 : 0, {}};
}
SpiValue
SpiValue::TimestampTz(int64_t usec) {
	return SpiValue{TIMESTAMPTZOID, false, usec, {}};
}
SpiValue
SpiValue::Timestamp(int64_t usec) {
	return SpiValue{TIMESTAMPOID, false, usec, {}};
}
SpiValue
SpiValue::Date(int32_t days) {
	return SpiValue{DATEOID, false, days, {}};
}
SpiValue
SpiValue::Tid(uint32_t block, uint16_t offset) {
	return SpiValue{TIDOID, false, (static_cast<int64_t>(block) << 16) | offset, {}};
}
SpiValue
SpiValue::Key(Oid key_base_type, int64_t value) {
	if (key_base_type == DATEOID)
		return Date(static_cast<int32_t>(value));
	if (key_base_type == TIMESTAMPOID)
		return Timestamp(value);
	return TimestampTz(value);
}
SpiValue
SpiValue::Null(Oid type) {
	return SpiValue{type, true, 0, {}};
}

const std::string &
SpiResult::At(size_t r, size_t c) const {
	if (r >= rows.size() || c >= rows[r].size())
		throw std::out_of_range("SPI result has no such row or column");
	if (!rows[r][c])
		throw std::runtime_error("unexpected NULL in SPI result");
	return *rows[r][c];
}
bool
SpiResult::IsNull(size_t r, size_t c) const {
	return !rows.at(r).at(c).has_value();
}
int64_t
SpiResult::Int(size_t r, size_t c) const {
	return std::stoll(At(r, c));
}
Oid
SpiResult::OidAt(size_t r, size_t c) const {
	return static_cast<Oid>(std::stoul(At(r, c)));
}
bool
SpiResult::BoolAt(size_t r, size_t c) const {
	return At(r, c) == "t";
}

/*
 * Non-atomic SPI takes its snapshots from the calling portal (a CALL has
 * one).  A background worker has no portal, so we keep an active snapshot
 * ourselves: pushed at connect and after each commit, popped before each
 * commit and at finish.  Depth-1 bookkeeping: one non-atomic connection at
 * a time.
 */
namespace {
bool g_own_snapshot = false;

void
EnsureSnapshotWithoutPortal() {
	if (!ActiveSnapshotSet() && ActivePortal == NULL) {
		PushActiveSnapshot(GetTransactionSnapshot());
		g_own_snapshot = true;
	}
}

void
DropOwnSnapshot() {
	if (g_own_snapshot && ActiveSnapshotSet())
		PopActiveSnapshot();
	g_own_snapshot = false;
}

/*
 * search_path is pinned from the moment a connection opens: every SPI
 * statement of pg_upkeep runs with PinnedSearchPath(), whatever the caller's
 * session says -- also in CALL run_maintenance(), which as a procedure that
 * commits cannot carry a SET clause, and in the worker.  Each connection
 * opens a GUC nest level with the pinned value:
 *   - atomic (functions): the level lives until the function's own SET
 *     clause level is popped at its exit, or the (sub)transaction ends;
 *   - non-atomic (the procedure, the worker): a commit pops every level, so
 *     each new transaction is pinned again before anything runs in it, and
 *     SpiFinish pops the level so the caller's session is untouched.
 */
int g_nonatomic_pin = 0;

/*
 * The fault point "commit" fails our own commits from inside
 * CommitTransactionCommand (a pre-commit callback), as a deferred
 * constraint or a serialization failure would.
 */
bool g_in_our_commit = false;
bool g_commit_callback = false;

void
CommitFaultCallback(XactEvent event, void *) {
	if (event == XACT_EVENT_PRE_COMMIT && g_in_our_commit) {
		g_in_our_commit = false;
		FaultPointInCallback("commit"); /* an ereport: SPI_commit aborts and starts a new transaction */
	}
}

int
PinSearchPath() {
	int nest = NewGUCNestLevel();
	SetForLevel("search_path", PinnedSearchPath());
	return nest;
}

/* After a commit or rollback of a non-atomic connection: snapshot (workers) and pin again.  C-style. */
void
RestoreAfterTransactionEnd(bool had_snapshot) {
	if (had_snapshot)
		EnsureSnapshotWithoutPortal();
	g_nonatomic_pin = PinSearchPath();
}
} // namespace

void
SpiConnect(bool nonatomic) {
	int rc = PgCall([&] {
		int r = SPI_connect_ext(nonatomic ? SPI_OPT_NONATOMIC : 0);
		if (r == SPI_OK_CONNECT) {
			const int nest = PinSearchPath();
			if (nonatomic) {
				g_nonatomic_pin = nest;
				EnsureSnapshotWithoutPortal();
			}
		}
		return r;
	});
	if (rc != SPI_OK_CONNECT)
		Throw(ERRCODE_INTERNAL_ERROR, "SPI_connect failed");
}

void
SpiFinish() {
	int rc = PgCall([] {
		/*
		 * Only the non-atomic connection that made its own snapshot gives it
		 * up: a connection opened inside it (a nested, atomic one) finishing
		 * must not take the outer one's snapshot away.
		 */
		if (SPI_inside_nonatomic_context())
			DropOwnSnapshot();
		if (SPI_inside_nonatomic_context() && g_nonatomic_pin > 0) {
			AtEOXact_GUC(true, g_nonatomic_pin);
			g_nonatomic_pin = 0;
		}
		return SPI_finish();
	});
	if (rc != SPI_OK_FINISH)
		Throw(ERRCODE_INTERNAL_ERROR, "SPI_finish failed");
}

void
SetConstraintsImmediate() {
	PgCall([] {
		ConstraintsSetStmt *stmt = makeNode(ConstraintsSetStmt);
		stmt->constraints = NIL;
		stmt->deferred = false;
		AfterTriggerSetState(stmt);
		pfree(stmt);
	});
}

int
OpenGucLevel() {
	return PgCall([] { return NewGUCNestLevel(); });
}

void
CloseGucLevel(int level) {
	PgCall([level] { AtEOXact_GUC(true, level); });
}

void
SpiCommit() {
	/*
	 * The commit may fail (a deferred constraint): SPI then aborts the
	 * transaction and starts a new one.  Either way the new transaction gets
	 * its snapshot (workers) and its pinned search_path before anything else
	 * runs in it.
	 */
	const bool had = g_own_snapshot;
	try {
		if (g_fault_points != nullptr && g_fault_points[0] != '\0') {
			if (!g_commit_callback) {
				PgCall([] { RegisterXactCallback(CommitFaultCallback, nullptr); });
				g_commit_callback = true;
			}
			g_in_our_commit = true;
		}
		PgCall([] {
			DropOwnSnapshot();
			SPI_commit();
		});
		g_in_our_commit = false;
	} catch (...) {
		g_in_our_commit = false;
		PgCall([had] { RestoreAfterTransactionEnd(had); });
		throw;
	}
	PgCall([had] { RestoreAfterTransactionEnd(had); });
}

void
SpiRollback() {
	const bool had = g_own_snapshot;
	try {
		PgCall([] {
			DropOwnSnapshot();
			SPI_rollback();
		});
	} catch (...) {
		PgCall([had] { RestoreAfterTransactionEnd(had); });
		throw;
	}
	PgCall([had] { RestoreAfterTransactionEnd(had); });
}

namespace {

/* Datum for one parameter, palloc'd where needed.  C-style. */
Datum
ToDatum(const SpiValue &v) {
	if (v.isnull)
		return (Datum)0;
	switch (v.type) {
	case TEXTOID:
		return PointerGetDatum(cstring_to_text_with_len(v.str.data(), static_cast<int>(v.str.size())));
	case NAMEOID: {
		Name n = (Name)palloc0(NAMEDATALEN);
		strlcpy(NameStr(*n), v.str.c_str(), NAMEDATALEN);
		return NameGetDatum(n);
	}
	case INT8OID:
	case TIMESTAMPTZOID:
	case TIMESTAMPOID:
		return Int64GetDatum(v.num);
	case DATEOID:
		return Int32GetDatum(static_cast<int32>(v.num));
	case TIDOID: {
		ItemPointer tid = (ItemPointer)palloc(sizeof(ItemPointerData));
		ItemPointerSet(tid, (BlockNumber)(v.num >> 16), (OffsetNumber)(v.num & 0xFFFF));
		return PointerGetDatum(tid);
	}
	case INT4OID:
		return Int32GetDatum(static_cast<int32>(v.num));
	case OIDOID:
	case REGCLASSOID:
	case REGROLEOID:
		return ObjectIdGetDatum(static_cast<Oid>(v.num));
	case BOOLOID:
		return BoolGetDatum(v.num != 0);
	default:
		elog(ERROR, "pg_upkeep: unsupported SPI parameter type %u", v.type);
	}
	return (Datum)0;
}

int
ExecuteWithArgs(const char *sql, int nargs, const SpiValue *args, bool read_only, long limit) {
	Oid *types = nargs ? (Oid *)palloc(sizeof(Oid) * nargs) : nullptr;
	Datum *values = nargs ? (Datum *)palloc(sizeof(Datum) * nargs) : nullptr;
	char *nulls = nargs ? (char *)palloc(nargs) : nullptr;
	for (int i = 0; i < nargs; i++) {
		types[i] = args[i].type;
		values[i] = ToDatum(args[i]);
		nulls[i] = args[i].isnull ? 'n' : ' ';
	}
	int rc = SPI_execute_with_args(sql, nargs, types, values, nulls, read_only, limit);
	/* the results do not point into the parameters: free them (long loops run in one context) */
	for (int i = 0; i < nargs; i++)
		if (!args[i].isnull && (types[i] == TEXTOID || types[i] == NAMEOID || types[i] == TIDOID))
			pfree(DatumGetPointer(values[i]));
	if (nargs) {
		pfree(types);
		pfree(values);
		pfree(nulls);
	}
	return rc;
}

/* Runs the statement; copies text results into `out`.  C-style frame apart from `out`, owned by the caller. */
int
ExecInto(const char *sql, int nargs, const SpiValue *args, bool read_only, bool fetch, long limit, SpiResult *out) {
	int rc = ExecuteWithArgs(sql, nargs, args, read_only, limit);
	out->code = rc;
	out->processed = SPI_processed;
	if (rc >= 0 && fetch && SPI_tuptable != nullptr) {
		TupleDesc desc = SPI_tuptable->tupdesc;
		out->rows.reserve(SPI_processed);
		for (uint64 r = 0; r < SPI_processed; r++) {
			out->rows.emplace_back();
			SpiRow &row = out->rows.back();
			row.reserve(desc->natts);
			for (int c = 1; c <= desc->natts; c++) {
				char *val = SPI_getvalue(SPI_tuptable->vals[r], desc, c);
				if (val == nullptr)
					row.emplace_back(std::nullopt);
				else {
					row.emplace_back(std::string(val));
					pfree(val);
				}
			}
		}
	}
	if (SPI_tuptable != nullptr)
		SPI_freetuptable(SPI_tuptable);
	return rc;
}

/* Raw by-value results.  C-style apart from `out`, owned by the caller. */
int
QueryIntsInto(const char *sql, int nargs, const SpiValue *args, bool read_only, std::vector<SpiIntRow> *out) {
	int rc = ExecuteWithArgs(sql, nargs, args, read_only, 0);
	if (rc >= 0 && SPI_tuptable != nullptr) {
		TupleDesc desc = SPI_tuptable->tupdesc;
		out->reserve(SPI_processed);
		for (uint64 r = 0; r < SPI_processed; r++) {
			out->emplace_back();
			SpiIntRow &row = out->back();
			for (int c = 1; c <= desc->natts; c++) {
				bool isnull;
				Datum d = SPI_getbinval(SPI_tuptable->vals[r], desc, c, &isnull);
				if (isnull) {
					row.emplace_back(std::nullopt);
					continue;
				}
				switch (TupleDescAttr(desc, c - 1)->atttypid) {
				case INT2OID:
					row.emplace_back((int64)DatumGetInt16(d));
					break;
				case INT4OID:
				case DATEOID:
					row.emplace_back((int64)DatumGetInt32(d));
					break;
				case OIDOID:
				case REGCLASSOID:
				case REGROLEOID:
					row.emplace_back((int64)DatumGetObjectId(d));
					break;
				case BOOLOID:
					row.emplace_back((int64)DatumGetBool(d));
					break;
				case INT8OID:
				case TIMESTAMPOID:
				case TIMESTAMPTZOID:
					row.emplace_back(DatumGetInt64(d));
					break;
				default:
					elog(ERROR, "pg_upkeep: column %d of an integer query has type %u", c,
					     TupleDescAttr(desc, c - 1)->atttypid);
				}
			}
		}
	}
	if (SPI_tuptable != nullptr)
		SPI_freetuptable(SPI_tuptable);
	return rc;
}

} // namespace

Datum
SpiValueToDatum(const SpiValue &v) {
	return ToDatum(v);
}

int
SpiExecuteRaw(const char *sql, const std::vector<SpiValue> &args, bool read_only, long limit) {
	return ExecuteWithArgs(sql, static_cast<int>(args.size()), args.data(), read_only, limit);
}

std::vector<SpiIntRow>
SpiQueryInts(const std::string &sql, const std::vector<SpiValue> &args, bool read_only) {
	BoundLockWaitsOnNodes(EffectiveLockTimeoutMs());
	std::vector<SpiIntRow> rows;
	int rc = PgCall(
	    [&] { return QueryIntsInto(sql.c_str(), static_cast<int>(args.size()), args.data(), read_only, &rows); });
	if (rc < 0) {
		std::string msg = "SPI_execute failed: ";
		msg += PgCall([&] { return SPI_result_code_string(rc); });
		Throw(ERRCODE_INTERNAL_ERROR, msg, sql);
	}
	return rows;
}

SpiResult
SpiExec(const std::string &sql, const std::vector<SpiValue> &args, SpiMode mode, long limit) {
	BoundLockWaitsOnNodes(EffectiveLockTimeoutMs()); /* Citus: the lock budget on every node, too */
	const bool read_only = mode == SpiMode::ReadOnly;
	const bool fetch = mode != SpiMode::Write;
	SpiResult result;
	int rc = PgCall([&] {
		return ExecInto(sql.c_str(), static_cast<int>(args.size()), args.data(), read_only, fetch, limit, &result);
	});
	if (rc < 0) {
		std::string msg = "SPI_execute failed: ";
		msg += PgCall([&] { return SPI_result_code_string(rc); });
		Throw(ERRCODE_INTERNAL_ERROR, msg, sql);
	}
	return result;
}

void
CommitAsync() {
	PgCall([] {
		(void)set_config_option("synchronous_commit", "off", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_LOCAL, true, 0,
		                        false);
	});
	SpiCommit();
}

} // namespace upkeep::pg
