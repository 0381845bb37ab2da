/*
 * src/core/manageable.cpp
 *
 * See upkeep/core/manageable.hpp.
 */
#include "upkeep/core/manageable.hpp"

namespace upkeep::core {

TableRefusal
ManageRefusal(const RelationFacts &t) {
	if (t.nspname == "pg_catalog" || t.nspname == "information_schema" || t.nspname == "pg_toast" ||
	    t.oid < kFirstNormalObjectId)
		return TableRefusal::SystemCatalog;
	if (t.in_extension_schema)
		return TableRefusal::OwnTable;
	if (t.relkind != kRelkindTable && t.relkind != kRelkindPartitioned)
		return TableRefusal::NotATable;
	if (t.persistence == kPersistenceTemp)
		return TableRefusal::Temporary;
	return TableRefusal::None;
}

} // namespace upkeep::core
