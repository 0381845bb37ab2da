/*
 * src/pg/fault_point.cpp
 *
 * See upkeep/pg/fault_point.hpp.
 */
#include <csignal>
#include <cstring>
#include <map>
#include <new>
#include <string>

#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/report.hpp"
#include "upkeep/pg/setting.hpp"

extern "C" {
#include "catalog/pg_collation.h"
#include "miscadmin.h"
#include "storage/lock.h"
#include "utils/builtins.h"
#include "utils/guc.h"
}

namespace upkeep::pg {

namespace {

/* Hits per point since the setting was last assigned (any SET of it, even to the same value). */
struct Counters {
	long generation = -1;
	std::map<std::string, long> hits;
};

Counters &
State() {
	static Counters c;
	return c;
}

std::string
Trim(const std::string &s) {
	size_t b = s.find_first_not_of(" \t");
	size_t e = s.find_last_not_of(" \t");
	return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
}

/* The action configured for `point` in `setting` ("" when none), and the hit it fires on (0: every one). */
std::string
ActionFor(const std::string &setting, const std::string &point, long *nth) {
	size_t start = 0;
	while (start <= setting.size()) {
		size_t comma = setting.find(',', start);
		const std::string entry =
		    Trim(setting.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
		size_t c1 = entry.find(':');
		if (c1 != std::string::npos && entry.substr(0, c1) == point) {
			std::string action = entry.substr(c1 + 1);
			*nth = 0;
			size_t c2 = action.find(':');
			if (c2 != std::string::npos) {
				*nth = std::strtol(action.c_str() + c2 + 1, nullptr, 10);
				action = action.substr(0, c2);
			}
			return action;
		}
		if (comma == std::string::npos)
			break;
		start = comma + 1;
	}
	return {};
}

/* Waits for the point's advisory lock in share mode, lock_timeout off for this wait only.  C-style. */
void
WaitForRelease(const char *point) {
	int32 key = DatumGetInt32(DirectFunctionCall1Coll(hashtext, DEFAULT_COLLATION_OID, CStringGetTextDatum(point)));
	LOCKTAG tag;
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, (uint32)kFaultLockClass, (uint32)key, 2);
	int nest = NewGUCNestLevel();
	SetForLevel("lock_timeout", "0");
	(void)LockAcquire(&tag, ShareLock, false, false);
	LockRelease(&tag, ShareLock, false);
	AtEOXact_GUC(true, nest);
}

} // namespace

namespace {

enum class Act { None, Error, Wait, Kill, Oom, Notice };

/* What upkeep.fault_points says to do at `point` now (counting the hit). */
Act
Decide(const char *point) {
	const char *raw = g_fault_points;
	if (raw == nullptr || raw[0] == '\0')
		return Act::None;
	Counters &st = State();
	if (st.generation != g_fault_points_generation) {
		st.generation = g_fault_points_generation;
		st.hits.clear();
	}
	long nth = 0;
	const std::string action = ActionFor(raw, point, &nth);
	if (action.empty())
		return Act::None;
	const long hit = ++st.hits[point];
	if (nth > 0 && hit != nth)
		return Act::None;
	if (action == "error")
		return Act::Error;
	if (action == "wait")
		return Act::Wait;
	if (action == "kill")
		return Act::Kill;
	if (action == "oom")
		return Act::Oom;
	return action == "notice" ? Act::Notice : Act::None;
}

/* The action, PostgreSQL's way (ereport).  C-style. */
void
ActC(Act act, const char *point) {
	switch (act) {
	case Act::None:
		break;
	case Act::Error:
		ereport(ERROR, (errcode(ERRCODE_INTERNAL_ERROR), errmsg("fault injected at %s", point),
		                errdetail("upkeep.fault_points is set (a test setting).")));
		break;
	case Act::Wait:
		WaitForRelease(point);
		break;
	case Act::Kill:
		(void)kill(MyProcPid, SIGKILL);
		pg_usleep(10 * 1000 * 1000L); /* the signal arrives first */
		break;
	case Act::Oom:
		ereport(ERROR, (errcode(ERRCODE_OUT_OF_MEMORY), errmsg("out of memory"),
		                errdetail("fault injected at %s (upkeep.fault_points is set).", point)));
		break;
	case Act::Notice:
		ereport(NOTICE, (errmsg("upkeep: fault point %s reached", point)));
		break;
	}
}

} // namespace

void
FaultPoint(const char *point) {
	const Act act = Decide(point);
	if (act == Act::Error) {
		const std::string msg = std::string("fault injected at ") + point;
		Throw(ERRCODE_INTERNAL_ERROR, msg, "upkeep.fault_points is set (a test setting).");
	}
	if (act == Act::Oom)
		throw std::bad_alloc();
	if (act != Act::None)
		PgCall([&] { ActC(act, point); });
}

void
FaultPointInCallback(const char *point) {
	Act act = Act::None;
	try {
		act = Decide(point);
	} catch (...) {
		act = Act::None;
	}
	ActC(act, point);
}

} // namespace upkeep::pg
