/*
 * upkeep/pg/report.hpp
 *
 * Messages to the client and the server log from C++ code.
 */
#pragma once

#include <string>

namespace upkeep::pg {

void Notice(const std::string &message, const std::string &detail = {});
void Warning(const std::string &message, const std::string &detail = {});
void Log(const std::string &message);
void Debug(const std::string &message);

} // namespace upkeep::pg

namespace upkeep::pg {

/* What this backend is doing, as pg_stat_activity shows it (query text). */
void ReportActivity(const std::string &text);
/* CHECK_FOR_INTERRUPTS from C++ (a pending cancel arrives as PgError 57014). */
void CheckInterrupts();
/* Milliseconds on a monotonic clock. */
double NowMs();

} // namespace upkeep::pg
