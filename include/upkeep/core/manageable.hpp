/*
 * upkeep/core/manageable.hpp
 *
 * Which tables pg_upkeep may manage (set_policy, archive_table) or write an
 * archive into: the one rule, over catalog facts the pg layer reads.
 */
#pragma once

#include <cstdint>
#include <string_view>

#include "upkeep/core/no_postgres.hpp"

namespace upkeep::core {

/* PostgreSQL's FirstNormalObjectId: OIDs below it belong to initdb's objects. */
constexpr uint32_t kFirstNormalObjectId = 16384;
/* pg_class.relkind and relpersistence letters the rule looks at (stable catalog values). */
constexpr char kRelkindTable = 'r';
constexpr char kRelkindPartitioned = 'p';
constexpr char kPersistenceTemp = 't';

struct RelationFacts {
	std::string_view nspname;
	uint32_t oid = 0;
	bool in_extension_schema = false; /* pg_upkeep's own schema */
	char relkind = 0;
	char persistence = 0;
};

/* Why a relation may not be managed, checked in this order; None when it may. */
enum class TableRefusal {
	None,
	SystemCatalog, /* pg_catalog, information_schema, pg_toast, or made by initdb */
	OwnTable,      /* pg_upkeep's own */
	NotATable,     /* views, sequences, indexes, foreign tables, ... */
	Temporary      /* gone with its session */
};

TableRefusal ManageRefusal(const RelationFacts &t);

} // namespace upkeep::core
