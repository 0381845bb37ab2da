/*
 * src/pg/report.cpp
 *
 * Non-error ereports from C++ (they can still longjmp on OOM or on
 * client_min_messages = error, hence PgCall).
 */
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/report.hpp"

namespace upkeep::pg {

namespace {
void
Emit(int level, const char *message, const char *detail) {
	ereport(level, (errmsg_internal("%s", message), detail ? errdetail_internal("%s", detail) : 0));
}
} // namespace

void
Notice(const std::string &message, const std::string &detail) {
	PgCall([&] { Emit(NOTICE, message.c_str(), detail.empty() ? nullptr : detail.c_str()); });
}

void
Warning(const std::string &message, const std::string &detail) {
	PgCall([&] { Emit(WARNING, message.c_str(), detail.empty() ? nullptr : detail.c_str()); });
}

void
Log(const std::string &message) {
	PgCall([&] { Emit(LOG, message.c_str(), nullptr); });
}

void
Debug(const std::string &message) {
	PgCall([&] { Emit(DEBUG1, message.c_str(), nullptr); });
}

} // namespace upkeep::pg

extern "C" {
#include "miscadmin.h"
#include "utils/backend_status.h"
}

#include <chrono>

namespace upkeep::pg {

void
ReportActivity(const std::string &text) {
	PgCall([&] { pgstat_report_activity(STATE_RUNNING, text.c_str()); });
}

void
CheckInterrupts() {
	PgCall([] { CHECK_FOR_INTERRUPTS(); });
}

double
NowMs() {
	using namespace std::chrono;
	return duration<double, std::milli>(steady_clock::now().time_since_epoch()).count();
}

} // namespace upkeep::pg
