/*
 * upkeep/core/naming.hpp
 *
 * Names of the relations pg_upkeep creates.  PostgreSQL truncates identifiers
 * to 63 bytes silently; we never let it: a name that would not fit is
 * shortened on a character boundary and tagged with a hash of the full parent
 * name, so two long parents sharing a prefix still get distinct names, and
 * the same parent always gets the same name (idempotence).
 */
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include "upkeep/core/calendar.hpp"
#include "upkeep/core/no_postgres.hpp"

namespace upkeep::core {

/* PostgreSQL's NAMEDATALEN - 1. */
constexpr size_t kMaxIdentifierBytes = 63;

/*
 * Returns the largest byte length <= limit at which `s` can be cut without
 * splitting a character.  The pg layer passes pg_mbcliplen for the database
 * encoding; Utf8Clip is the default and what the unit tests use.
 */
using ClipFn = std::function<size_t(std::string_view s, size_t limit)>;
size_t Utf8Clip(std::string_view s, size_t limit);

/* "_YYYY_MM" */
std::string MonthSuffix(YearMonth ym);

/*
 * `base` + `suffix`, fitted into kMaxIdentifierBytes.  When it does not fit,
 * the result is  clip(base) + "_" + 8 hex digits of XXH3(base) + suffix.
 */
std::string FitIdentifier(std::string_view base, std::string_view suffix, const ClipFn &clip = Utf8Clip);

/* <parent>_YYYY_MM, fitted. */
std::string PartitionName(std::string_view parent, YearMonth ym, const ClipFn &clip = Utf8Clip);

/* Short stable tag of a name: 8 lowercase hex digits of its XXH3-64. */
std::string NameTag(std::string_view name);

} // namespace upkeep::core
