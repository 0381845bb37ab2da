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
}

#include "upkeep/maint/partitions.hpp"
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
	                                    [&] { return upkeep::maint::CreateMonthlyPartition(parent, month); });
	PG_RETURN_OID(child);
}

PG_FUNCTION_INFO_V1(upkeep_selftest_error_bridge);
Datum
upkeep_selftest_error_bridge(PG_FUNCTION_ARGS) {
	RequireArg(fcinfo, 0, "mode", "upkeep._selftest_error_bridge");
	char *mode = text_to_cstring(PG_GETARG_TEXT_PP(0));
	int64 result = upkeep::pg::CppBoundary("upkeep._selftest_error_bridge",
	                                       [&] { return upkeep::pg::SelftestErrorBridge(mode); });
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
