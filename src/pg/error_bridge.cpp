/*
 * src/pg/error_bridge.cpp
 *
 * Out-of-line halves of the error bridge (see upkeep/pg/error_bridge.hpp).
 */
#include "upkeep/pg/error_bridge.hpp"

namespace upkeep::pg::detail {

/*
 * Called right after a longjmp landed in PgCall.  CopyErrorData must not run
 * in ErrorContext, so switch back to the caller's context first.
 */
PgError
TakePendingError(MemoryContext caller_cxt) noexcept {
	MemoryContextSwitchTo(caller_cxt);
	ErrorData *edata = CopyErrorData();
	FlushErrorState();
	/* filename and funcname are __FILE__/__func__ literals: static, safe to keep */
	PgError error(edata->sqlerrcode, edata->message, edata->detail, edata->hint, edata->filename, edata->lineno,
	              edata->funcname);
	FreeErrorData(edata);
	return error;
}

/*
 * Raises the error with the original location when PostgreSQL raised it, so
 * LOCATION lines and log entries point at the real site, not at this file.
 */
void
RaiseFromBoundary(const char *where, int sqlerrcode, const char *message, const char *detail, const char *hint,
                  bool prefix, RaiseSite site) {
	if (errstart(ERROR, TEXTDOMAIN)) {
		errcode(sqlerrcode);
		if (prefix)
			errmsg_internal("%s: %s", where, message);
		else
			errmsg_internal("%s", message);
		if (detail)
			errdetail_internal("%s", detail);
		if (hint)
			errhint("%s", hint);
		if (site.filename)
			errfinish(site.filename, site.lineno, site.funcname);
		else
			errfinish(__FILE__, __LINE__, where);
	}
	pg_unreachable();
}

} // namespace upkeep::pg::detail
