/*
 * src/pg/guc.cpp
 *
 * GUC definitions.  Contexts are chosen so that results never depend on who
 * calls: the partition time zone is superuser-only (per database or cluster),
 * the worker's settings are SIGHUP, and lock_timeout is per session because a
 * caller may only make maintenance wait less.
 */
#include <climits>
#include <cstdlib>
#include <string>

#include <unistd.h>

extern "C" {
#include "postgres.h"
#include "miscadmin.h"
#include "pgtime.h"
#include "utils/guc.h"

/*
 * src/timezone/pgtz.h, which PostgreSQL does not install: opens the file of
 * a zone name in the time zone database (case-insensitively), -1 when there
 * is none.  Exported by the server since 8.x; the fd is the caller's to close.
 */
int pg_open_tzfile(const char *name, char *canonname);
}

#include "upkeep/pg/guc.hpp"

namespace upkeep::pg {

char *g_partition_timezone = nullptr;
int g_lock_timeout_ms = 2000;
char *g_databases = nullptr;
char *g_role = nullptr;
int g_naptime_s = 60;
int g_run_log_retain_min = 30 * 24 * 60;
int g_max_workers = 8;
char *g_debug_now = nullptr;
char *g_batch_method = nullptr;
int g_batch_pause_ms = 0;
int g_max_replica_lag_ms = 0;
char *g_fault_points = nullptr;
long g_fault_points_generation = 0;
char *g_debug_search_path = nullptr;

const char *
PinnedSearchPath() {
	return g_debug_search_path != nullptr && g_debug_search_path[0] != '\0' ? g_debug_search_path
	                                                                        : "pg_catalog, pg_temp";
}

namespace {

enum class ZoneKind { Unknown, LeapSeconds, Posix, Name };

/*
 * pg_tzset also takes POSIX specifications ('UTC+3', '+05', 'ABC-2XYZ'),
 * whose offsets count west of Greenwich: 'UTC+3' is three hours *behind*
 * UTC, the opposite of what it seems to say (and of SET TimeZone = '+05',
 * which PostgreSQL reads the ISO way).  A name is a zone file of the time
 * zone database -- what pg_timezone_names lists.  C-style: no C++ object
 * lives across these calls.
 */
ZoneKind
ClassifyZone(const char *name, long *gmtoff, bool *fixed) {
	pg_tz *tz = (name != nullptr && name[0] != '\0') ? pg_tzset(name) : nullptr;
	if (tz == nullptr)
		return ZoneKind::Unknown;
	if (!pg_tz_acceptable(tz))
		return ZoneKind::LeapSeconds;
	const int fd = pg_open_tzfile(name, nullptr);
	if (fd >= 0) {
		close(fd);
		return ZoneKind::Name;
	}
	*fixed = pg_get_timezone_offset(tz, gmtoff);
	return ZoneKind::Posix;
}

} // namespace

std::string
TimeZoneProblem(const char *name) {
	long gmtoff = 0;
	bool fixed = false;
	const ZoneKind kind = ClassifyZone(name, &gmtoff, &fixed);
	if (kind == ZoneKind::Name)
		return {};
	const std::string quoted = std::string("\"") + (name != nullptr ? name : "") + "\"";
	if (kind == ZoneKind::Unknown)
		return quoted + " is not a time zone name known to PostgreSQL (see pg_timezone_names).";
	if (kind == ZoneKind::LeapSeconds)
		return quoted + " uses leap seconds, which PostgreSQL does not support.";
	std::string reading = "with offsets and daylight-saving rules of its own";
	if (fixed) {
		const long secs = std::labs(gmtoff);
		char buf[96];
		if (gmtoff == 0)
			snprintf(buf, sizeof(buf), "as UTC itself");
		else if (secs % 3600 == 0)
			snprintf(buf, sizeof(buf), "as %ld hour%s %s UTC", secs / 3600, secs == 3600 ? "" : "s",
			         gmtoff < 0 ? "behind" : "ahead of");
		else
			snprintf(buf, sizeof(buf), "as %ld:%02ld hours %s UTC", secs / 3600, (secs % 3600) / 60,
			         gmtoff < 0 ? "behind" : "ahead of");
		reading = buf;
	}
	return quoted + " is a POSIX time zone specification, not a zone name: PostgreSQL reads it " + reading +
	       " (POSIX offsets count west of Greenwich: 'UTC+3' is three hours behind UTC). Use a name from "
	       "pg_timezone_names, such as 'Europe/Moscow' or 'Asia/Karachi'.";
}

bool
IsKnownTimeZone(const char *name) {
	return TimeZoneProblem(name).empty();
}

namespace {

bool
CheckTimeZone(char **newval, void **extra, GucSource source) {
	(void)extra;
	(void)source;
	const std::string problem = TimeZoneProblem(*newval);
	if (!problem.empty()) {
		GUC_check_errdetail("%s", problem.c_str());
		return false;
	}
	return true;
}

bool
CheckBatchMethod(char **newval, void **extra, GucSource source) {
	(void)extra;
	(void)source;
	const char *v = *newval;
	if (strcmp(v, "auto") == 0 || strcmp(v, "time") == 0 || strcmp(v, "ctid") == 0 || strcmp(v, "pk") == 0)
		return true;
	GUC_check_errdetail("Valid values: auto, time, ctid, pk.");
	return false;
}

/* <point>:<action>[:<n>], comma-separated; actions error, wait, kill, oom, notice. */
bool
CheckFaultPoints(char **newval, void **extra, GucSource source) {
	(void)extra;
	(void)source;
	const char *p = *newval;
	while (*p) {
		const char *end = strchr(p, ',');
		const size_t len = end ? (size_t)(end - p) : strlen(p);
		char entry[256];
		if (len >= sizeof(entry)) {
			GUC_check_errdetail("An entry is too long.");
			return false;
		}
		memcpy(entry, p, len);
		entry[len] = '\0';
		char *colon = strchr(entry, ':');
		if (colon == NULL) {
			GUC_check_errdetail("Entries are <point>:<action>[:<n>].");
			return false;
		}
		char *action = colon + 1;
		char *nth = strchr(action, ':');
		if (nth)
			*nth = '\0';
		while (*action == ' ')
			action++;
		if (strcmp(action, "error") != 0 && strcmp(action, "wait") != 0 && strcmp(action, "kill") != 0 &&
		    strcmp(action, "oom") != 0 && strcmp(action, "notice") != 0) {
			GUC_check_errdetail("Actions: error, wait, kill, oom, notice.");
			return false;
		}
		if (nth && atoi(nth + 1) <= 0) {
			GUC_check_errdetail("The hit count must be a positive integer.");
			return false;
		}
		p = end ? end + 1 : p + len;
	}
	return true;
}

void
AssignFaultPoints(const char *newval, void *extra) {
	(void)newval;
	(void)extra;
	g_fault_points_generation++;
}

} // namespace

void
DefineGucs() {
	DefineCustomStringVariable("upkeep.partition_timezone",
	                           "Time zone in which month boundaries of timestamptz partition keys are computed.",
	                           "Never the session's TimeZone, so a partition's bounds do not depend on who creates it.",
	                           &g_partition_timezone, "UTC", PGC_SUSET, 0, CheckTimeZone, nullptr, nullptr);
	DefineCustomIntVariable("upkeep.lock_timeout", "Longest wait for a lock taken by pg_upkeep maintenance.",
	                        "A table whose lock cannot be had in time is skipped and retried on the next run. "
	                        "0 means use the session's lock_timeout.",
	                        &g_lock_timeout_ms, 2000, 0, INT_MAX, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("upkeep.databases", "Databases the pg_upkeep background worker maintains.",
	                           "Comma-separated list; empty (the default) starts no worker.", &g_databases, "",
	                           PGC_SIGHUP, GUC_LIST_INPUT, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("upkeep.role", "Role the pg_upkeep workers connect as.",
	                           "Empty means the bootstrap superuser. Each policy still runs as its table's owner.",
	                           &g_role, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("upkeep.naptime", "Time between two wake-ups of a pg_upkeep worker.", nullptr, &g_naptime_s,
	                        60, 1, 24 * 3600, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
	DefineCustomIntVariable("upkeep.run_log_retain", "Age after which rows of upkeep.run_log are deleted.", nullptr,
	                        &g_run_log_retain_min, 30 * 24 * 60, 1, INT_MAX / 2, PGC_SIGHUP, GUC_UNIT_MIN, nullptr,
	                        nullptr, nullptr);
	/* PGC_POSTMASTER variables can only be created while preloading (else FATAL). */
	if (process_shared_preload_libraries_in_progress)
		DefineCustomIntVariable("upkeep.max_workers", "Most per-database pg_upkeep workers running at once.", nullptr,
		                        &g_max_workers, 8, 1, 128, PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("upkeep.debug_now", "Test hook: fixed current time for retention cutoffs.",
	                           "Empty uses the transaction's now(). Meant for tests only.", &g_debug_now, "", PGC_SUSET,
	                           GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("upkeep.batch_method", "How retention and archival cut expired rows into batches.",
	                           "auto picks time slices on a time index, else ctid block ranges, else primary-key "
	                           "ranges; time, ctid or pk force one where it is usable (tests, benchmarks).",
	                           &g_batch_method, "auto", PGC_USERSET, 0, CheckBatchMethod, nullptr, nullptr);
	DefineCustomIntVariable("upkeep.batch_pause",
	                        "Pause before each further batch of run_maintenance() and the worker.",
	                        "Leaves CPU, I/O and WAL bandwidth to the application between two batches of the same "
	                        "table, as vacuum_cost_delay does for VACUUM: the run takes longer and disturbs less. "
	                        "0 (the default) runs the batches back to back.",
	                        &g_batch_pause_ms, 0, 0, 10000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
	DefineCustomIntVariable(
	    "upkeep.max_replica_lag", "Longest replay lag of a streaming replica that committing runs keep going at.",
	    "Between two batches, run_maintenance() and the worker wait while any replica in "
	    "pg_stat_replication is further behind than this on replay. 0 (the default) never waits.",
	    &g_max_replica_lag_ms, 0, 0, 3600 * 1000, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
	DefineCustomStringVariable("upkeep.fault_points", "Test hook: fault points armed in this session.",
	                           "<point>:<action>[:<n>], comma-separated (actions: error, wait, kill, oom, notice). "
	                           "For pg_upkeep's own tests only.",
	                           &g_fault_points, "", PGC_SUSET, GUC_NOT_IN_SAMPLE, CheckFaultPoints, AssignFaultPoints,
	                           nullptr);
	DefineCustomStringVariable("upkeep.debug_search_path",
	                           "Test hook: the search_path pg_upkeep's own statements run with.",
	                           "Empty means pg_catalog, pg_temp. Tests set a hostile path to prove that every name "
	                           "pg_upkeep uses is qualified. A table owner's context keeps the owner's own "
	                           "search_path. For pg_upkeep's own tests only.",
	                           &g_debug_search_path, "", PGC_SUSET, GUC_NOT_IN_SAMPLE, nullptr, nullptr, nullptr);
	MarkGUCPrefixReserved("upkeep");
}

} // namespace upkeep::pg
