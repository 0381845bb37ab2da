/*
 * src/abi/sql_functions.cpp
 *
 * The C ABI shim: every SQL-callable symbol of pg_upkeep.  Each function
 * unpacks its arguments in a C-style frame (PODs only; NULL checks raise
 * proper SQLSTATEs here), runs the C++ implementation inside CppBoundary, and
 * packs the result.  Nothing else lives here.
 */
extern "C" {
#include "postgres.h"
#include "fmgr.h"
#include "utils/builtins.h"
#include "utils/date.h"
#include "funcapi.h"
#include "nodes/parsenodes.h"
#include "utils/numeric.h"
#include "utils/tuplestore.h"
#include "utils/pg_lsn.h"
#include "utils/timestamp.h"
}

#include <optional>
#include <string>

#include "upkeep/maint/fingerprint_agg.hpp"
#include "upkeep/maint/sql_api.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/selftest.hpp"

namespace {

/* ereport for a NULL argument that the function cannot accept. C-style. */
void
RequireArg(FunctionCallInfo fcinfo, int argno, const char *argname, const char *function) {
	if (PG_ARGISNULL(argno))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
		                errmsg("argument \"%s\" of %s must not be NULL", argname, function)));
}

/* Optional text-like arguments arrive as palloc'd C strings (NULL when SQL NULL): PODs for C-style frames. */
char *
ArgText(FunctionCallInfo fcinfo, int argno) {
	return PG_ARGISNULL(argno) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(argno));
}

char *
ArgName(FunctionCallInfo fcinfo, int argno) {
	return PG_ARGISNULL(argno) ? NULL : pstrdup(NameStr(*PG_GETARG_NAME(argno)));
}

/* Interval argument in PostgreSQL's own output form (parsed back by the C++ side). */
char *
ArgInterval(FunctionCallInfo fcinfo, int argno) {
	return PG_ARGISNULL(argno) ? NULL : DatumGetCString(DirectFunctionCall1(interval_out, PG_GETARG_DATUM(argno)));
}

std::optional<std::string>
Opt(const char *s) {
	return s ? std::optional<std::string>(s) : std::nullopt;
}

/* Puts one cleanup_old_data() row into the result tuplestore.  C-style. */
void
PutOutcome(ReturnSetInfo *rsinfo, const char *table_name, const char *action, int64 rows, double ms) {
	Datum values[4];
	bool nulls[4] = {false, false, false, false};
	values[0] = CStringGetTextDatum(table_name);
	values[1] = CStringGetTextDatum(action);
	values[2] = Int64GetDatum(rows);
	values[3] =
	    DirectFunctionCall2(numeric_round, DirectFunctionCall1(float8_numeric, Float8GetDatum(ms)), Int32GetDatum(2));
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Puts one row of text/int8 columns into an SRF's tuplestore; kinds: 't' text, 'i' int8, 'T' timestamptz text, 'L'
 * pg_lsn text.  C-style. */
void
PutRow(ReturnSetInfo *rsinfo, int ncols, const char *const *texts, const int64 *ints, const char *kinds) {
	Datum values[8];
	bool nulls[8];
	for (int i = 0; i < ncols; i++) {
		nulls[i] = false;
		switch (kinds[i]) {
		case 'i':
			values[i] = Int64GetDatum(ints[i]);
			break;
		case 'T':
			values[i] = DirectFunctionCall3(timestamptz_in, CStringGetDatum(texts[i]), ObjectIdGetDatum(InvalidOid),
			                                Int32GetDatum(-1));
			break;
		case 'L':
			values[i] = DirectFunctionCall1(pg_lsn_in, CStringGetDatum(texts[i]));
			break;
		default:
			values[i] = CStringGetTextDatum(texts[i]);
			break;
		}
	}
	tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
}

/* Fills the OUT row of upkeep._policy_status.  C-style. */
Datum
StatusTuple(FunctionCallInfo fcinfo, const char *cutoff, bool has_expired, int64 expired, bool has_parts, int32 parts,
            bool has_premade, int32 premade, bool has_def, int64 def) {
	TupleDesc desc;
	if (get_call_result_type(fcinfo, NULL, &desc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "upkeep._policy_status must return a row");
	desc = BlessTupleDesc(desc);
	Datum values[5];
	bool nulls[5] = {false, !has_expired, !has_parts, !has_premade, !has_def};
	values[0] = CStringGetTextDatum(cutoff);
	values[1] = Int64GetDatum(expired);
	values[2] = Int32GetDatum(parts);
	values[3] = Int32GetDatum(premade);
	values[4] = Int64GetDatum(def);
	return HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
}

} // namespace

#pragma GCC visibility push(default)
extern "C" {

PG_FUNCTION_INFO_V1(upkeep_create_monthly_partition);
Datum
upkeep_create_monthly_partition(PG_FUNCTION_ARGS) {
	RequireArg(fcinfo, 0, "parent", "upkeep.create_monthly_partition");
	RequireArg(fcinfo, 1, "month", "upkeep.create_monthly_partition");
	Oid parent = PG_GETARG_OID(0);
	DateADT month = PG_GETARG_DATEADT(1);
	Oid child = upkeep::pg::CppBoundary("upkeep.create_monthly_partition",
	                                    [&] { return upkeep::maint::CreateMonthlyPartitionEntry(parent, month); });
	PG_RETURN_OID(child);
}

PG_FUNCTION_INFO_V1(upkeep_set_policy);
Datum
upkeep_set_policy(PG_FUNCTION_ARGS) {
	RequireArg(fcinfo, 0, "tbl", "upkeep.set_policy");
	Oid relid = PG_GETARG_OID(0);
	char *time_column = ArgName(fcinfo, 1);
	char *retain = ArgInterval(fcinfo, 2);
	char *action = ArgText(fcinfo, 3);
	bool has_archive = !PG_ARGISNULL(4), has_premake = !PG_ARGISNULL(5), has_batch = !PG_ARGISNULL(6);
	Oid archive_to = has_archive ? PG_GETARG_OID(4) : InvalidOid;
	int32 premake = has_premake ? PG_GETARG_INT32(5) : 0;
	int32 batch_size = has_batch ? PG_GETARG_INT32(6) : 0;
	char *run_every = ArgInterval(fcinfo, 7);
	char *timezone = ArgText(fcinfo, 8);
	char *detach_schema = ArgName(fcinfo, 9);
	int enabled = PG_ARGISNULL(10) ? -1 : (PG_GETARG_BOOL(10) ? 1 : 0);
	upkeep::pg::CppBoundary("upkeep.set_policy", [&] {
		upkeep::maint::PolicyArgs args;
		args.relid = relid;
		args.time_column = Opt(time_column);
		args.retain = Opt(retain);
		args.action = Opt(action);
		if (has_archive)
			args.archive_to = archive_to;
		if (has_premake)
			args.premake = premake;
		if (has_batch)
			args.batch_size = batch_size;
		args.run_every = Opt(run_every);
		args.timezone = Opt(timezone);
		args.detach_schema = Opt(detach_schema);
		if (enabled >= 0)
			args.enabled = enabled == 1;
		upkeep::maint::SetPolicyEntry(args);
	});
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(upkeep_drop_policy);
Datum
upkeep_drop_policy(PG_FUNCTION_ARGS) {
	RequireArg(fcinfo, 0, "tbl", "upkeep.drop_policy");
	Oid relid = PG_GETARG_OID(0);
	bool dropped = upkeep::pg::CppBoundary("upkeep.drop_policy", [&] { return upkeep::maint::DropPolicyEntry(relid); });
	PG_RETURN_BOOL(dropped);
}

PG_FUNCTION_INFO_V1(upkeep_cleanup_old_data);
Datum
upkeep_cleanup_old_data(PG_FUNCTION_ARGS) {
	RequireArg(fcinfo, 0, "dry_run", "upkeep.cleanup_old_data");
	bool dry_run = PG_GETARG_BOOL(0);
	Oid only = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);
	InitMaterializedSRF(fcinfo, 0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
	upkeep::pg::CppBoundary("upkeep.cleanup_old_data", [&] {
		const auto outcomes = upkeep::maint::CleanupOldData(dry_run, only);
		for (const auto &o : outcomes) {
			const std::string action = upkeep::maint::OutcomeActionText(o);
			upkeep::pg::PgCall([&] { PutOutcome(rsinfo, o.table_name.c_str(), action.c_str(), o.rows, o.ms); });
		}
	});
	return (Datum)0;
}

PG_FUNCTION_INFO_V1(upkeep_run_maintenance);
Datum
upkeep_run_maintenance(PG_FUNCTION_ARGS) {
	RequireArg(fcinfo, 0, "dry_run", "upkeep.run_maintenance");
	bool dry_run = PG_GETARG_BOOL(0);
	Oid only = PG_ARGISNULL(1) ? InvalidOid : PG_GETARG_OID(1);
	bool nonatomic =
	    fcinfo->context != NULL && IsA(fcinfo->context, CallContext) && !castNode(CallContext, fcinfo->context)->atomic;
	upkeep::pg::CppBoundary("upkeep.run_maintenance",
	                        [&] { upkeep::maint::RunMaintenanceProcedure(dry_run, only, nonatomic); });
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(upkeep_archive_table);
Datum
upkeep_archive_table(PG_FUNCTION_ARGS) {
	RequireArg(fcinfo, 0, "source", "upkeep.archive_table");
	RequireArg(fcinfo, 4, "batch_size", "upkeep.archive_table");
	Oid source = PG_GETARG_OID(0);
	bool has_archive = !PG_ARGISNULL(1);
	Oid archive = has_archive ? PG_GETARG_OID(1) : InvalidOid;
	char *older_than = ArgInterval(fcinfo, 2);
	char *time_column = ArgName(fcinfo, 3);
	int32 batch_size = PG_GETARG_INT32(4);
	int64 moved = upkeep::pg::CppBoundary("upkeep.archive_table", [&] {
		return upkeep::maint::ArchiveTableEntry(source, has_archive ? std::optional<Oid>(archive) : std::nullopt,
		                                        Opt(older_than), Opt(time_column), batch_size);
	});
	PG_RETURN_INT64(moved);
}

PG_FUNCTION_INFO_V1(upkeep_table_size);
Datum
upkeep_table_size(PG_FUNCTION_ARGS) {
	Oid relid = PG_GETARG_OID(0); /* STRICT */
	bool found = false;
	int64 bytes = upkeep::pg::CppBoundary("upkeep._table_size", [&]() -> int64 {
		auto b = upkeep::maint::TableSizeEntry(relid);
		found = b.has_value();
		return b.value_or(0);
	});
	if (!found)
		PG_RETURN_NULL();
	PG_RETURN_INT64(bytes);
}

PG_FUNCTION_INFO_V1(upkeep_policy_status);
Datum
upkeep_policy_status(PG_FUNCTION_ARGS) {
	if (PG_ARGISNULL(0))
		PG_RETURN_NULL();
	Oid relid = PG_GETARG_OID(0);
	Datum result = upkeep::pg::CppBoundary("upkeep._policy_status", [&]() -> Datum {
		auto st = upkeep::maint::PolicyStatusEntry(relid);
		if (!st)
			return (Datum)0;
		return upkeep::pg::PgCall([&] {
			return StatusTuple(fcinfo, st->cutoff.c_str(), st->expired.has_value(), st->expired.value_or(0),
			                   st->partitions.has_value(), st->partitions.value_or(0), st->premade.has_value(),
			                   st->premade.value_or(0), st->default_rows.has_value(), st->default_rows.value_or(0));
		});
	});
	if (result == (Datum)0)
		PG_RETURN_NULL();
	return result;
}

PG_FUNCTION_INFO_V1(upkeep_table_fingerprint);
Datum
upkeep_table_fingerprint(PG_FUNCTION_ARGS) {
	RequireArg(fcinfo, 0, "tbl", "upkeep.table_fingerprint");
	Oid relid = PG_GETARG_OID(0);
	InitMaterializedSRF(fcinfo, 0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
	upkeep::pg::CppBoundary("upkeep.table_fingerprint", [&] {
		upkeep::maint::TableFingerprint f = upkeep::maint::TableFingerprintEntry(relid);
		const char *texts[2] = {nullptr, f.hex.c_str()};
		const int64 ints[2] = {f.rows, 0};
		upkeep::pg::PgCall([&] { PutRow(rsinfo, 2, texts, ints, "it"); });
	});
	return (Datum)0;
}

/* upkeep.fingerprint_agg(record): its support functions (see upkeep/maint/fingerprint_agg.hpp) */
PG_FUNCTION_INFO_V1(upkeep_fingerprint_accum);
Datum
upkeep_fingerprint_accum(PG_FUNCTION_ARGS) {
	return upkeep::pg::CppBoundary("upkeep.fingerprint_agg", [&] { return upkeep::maint::FingerprintAccum(fcinfo); });
}

PG_FUNCTION_INFO_V1(upkeep_fingerprint_combine);
Datum
upkeep_fingerprint_combine(PG_FUNCTION_ARGS) {
	return upkeep::pg::CppBoundary("upkeep.fingerprint_agg", [&] { return upkeep::maint::FingerprintCombine(fcinfo); });
}

PG_FUNCTION_INFO_V1(upkeep_fingerprint_final);
Datum
upkeep_fingerprint_final(PG_FUNCTION_ARGS) {
	return upkeep::pg::CppBoundary("upkeep.fingerprint_agg", [&] { return upkeep::maint::FingerprintFinal(fcinfo); });
}

PG_FUNCTION_INFO_V1(upkeep_row_hash);
Datum
upkeep_row_hash(PG_FUNCTION_ARGS) {
	return upkeep::pg::CppBoundary("upkeep.row_hash", [&] { return upkeep::maint::RowHashNumeric(fcinfo); });
}

PG_FUNCTION_INFO_V1(upkeep_fingerprint_rows);
Datum
upkeep_fingerprint_rows(PG_FUNCTION_ARGS) {
	return upkeep::pg::CppBoundary("upkeep.fingerprint_rows", [&] { return upkeep::maint::FingerprintRows(fcinfo); });
}

PG_FUNCTION_INFO_V1(upkeep_snapshot_fingerprints);
Datum
upkeep_snapshot_fingerprints(PG_FUNCTION_ARGS) {
	InitMaterializedSRF(fcinfo, 0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
	upkeep::pg::CppBoundary("upkeep.snapshot_fingerprints", [&] {
		auto rows = upkeep::maint::SnapshotFingerprintsEntry();
		for (const auto &r : rows) {
			const char *texts[5] = {r.table_name.c_str(), nullptr, r.fingerprint.c_str(), r.taken_at.c_str(),
			                        r.wal_lsn.c_str()};
			const int64 ints[5] = {0, r.rows, 0, 0, 0};
			upkeep::pg::PgCall([&] { PutRow(rsinfo, 5, texts, ints, "titTL"); });
		}
	});
	return (Datum)0;
}

PG_FUNCTION_INFO_V1(upkeep_verify_backup_integrity);
Datum
upkeep_verify_backup_integrity(PG_FUNCTION_ARGS) {
	InitMaterializedSRF(fcinfo, 0);
	ReturnSetInfo *rsinfo = (ReturnSetInfo *)fcinfo->resultinfo;
	upkeep::pg::CppBoundary("upkeep.verify_backup_integrity", [&] {
		auto rows = upkeep::maint::VerifyBackupIntegrityEntry();
		for (const auto &r : rows) {
			const char *texts[4] = {r.check_name.c_str(), r.object.c_str(), r.status.c_str(), r.detail.c_str()};
			const int64 ints[4] = {0, 0, 0, 0};
			upkeep::pg::PgCall([&] { PutRow(rsinfo, 4, texts, ints, "tttt"); });
		}
	});
	return (Datum)0;
}

PG_FUNCTION_INFO_V1(upkeep_wake_worker);
Datum
upkeep_wake_worker(PG_FUNCTION_ARGS) {
	(void)fcinfo;
	bool woken = upkeep::pg::CppBoundary("upkeep.wake_worker", [] { return upkeep::maint::WakeWorkerEntry(); });
	PG_RETURN_BOOL(woken);
}

PG_FUNCTION_INFO_V1(upkeep_selftest_error_bridge);
Datum
upkeep_selftest_error_bridge(PG_FUNCTION_ARGS) {
	RequireArg(fcinfo, 0, "mode", "upkeep._selftest_error_bridge");
	char *mode = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64 result =
	    upkeep::pg::CppBoundary("upkeep._selftest_error_bridge", [&] { return upkeep::pg::SelftestErrorBridge(mode); });
	PG_RETURN_INT64(result);
}

PG_FUNCTION_INFO_V1(upkeep_selftest_live_objects);
Datum
upkeep_selftest_live_objects(PG_FUNCTION_ARGS) {
	(void)fcinfo;
	PG_RETURN_INT64(upkeep::pg::SelftestLiveObjects());
}

} // extern "C"
#pragma GCC visibility pop
