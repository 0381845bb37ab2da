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
