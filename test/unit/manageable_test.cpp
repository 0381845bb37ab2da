/*
 * test/unit/manageable_test.cpp
 *
 * The one rule for which tables pg_upkeep manages: never catalogs (by
 * schema, TOAST included, or by an initdb OID), never its own tables, only
 * ordinary and partitioned tables, never temporary ones -- in that order.
 */
#include <gtest/gtest.h>

#include "upkeep/core/manageable.hpp"

using namespace upkeep::core;

namespace {
RelationFacts
Plain() {
	RelationFacts t;
	t.nspname = "public";
	t.oid = 16385;
	t.relkind = kRelkindTable;
	t.persistence = 'p';
	return t;
}
} // namespace

TEST(Manageable, OrdinaryAndPartitionedTables) {
	RelationFacts t = Plain();
	EXPECT_EQ(ManageRefusal(t), TableRefusal::None);
	t.relkind = kRelkindPartitioned;
	EXPECT_EQ(ManageRefusal(t), TableRefusal::None);
	t.persistence = 'u'; /* unlogged is fine to manage */
	EXPECT_EQ(ManageRefusal(t), TableRefusal::None);
	t.oid = kFirstNormalObjectId;
	EXPECT_EQ(ManageRefusal(t), TableRefusal::None);
}

TEST(Manageable, CatalogsBySchemaOrOid) {
	for (const char *schema : {"pg_catalog", "information_schema", "pg_toast"}) {
		RelationFacts t = Plain();
		t.nspname = schema;
		EXPECT_EQ(ManageRefusal(t), TableRefusal::SystemCatalog) << schema;
	}
	RelationFacts t = Plain();
	t.oid = kFirstNormalObjectId - 1;
	EXPECT_EQ(ManageRefusal(t), TableRefusal::SystemCatalog);
	t = Plain();
	t.nspname = "pg_toast_temp_3"; /* not the TOAST schema itself, but temporary TOAST: refused as temporary */
	t.persistence = kPersistenceTemp;
	EXPECT_EQ(ManageRefusal(t), TableRefusal::Temporary);
}

TEST(Manageable, OwnTablesThenKindThenTemp) {
	RelationFacts t = Plain();
	t.in_extension_schema = true;
	t.relkind = 'v';
	EXPECT_EQ(ManageRefusal(t), TableRefusal::OwnTable); /* the first reason wins */
	t.in_extension_schema = false;
	EXPECT_EQ(ManageRefusal(t), TableRefusal::NotATable);
	for (char kind : {'v', 'm', 'S', 'i', 'f', 'c', 't'}) {
		t.relkind = kind;
		EXPECT_EQ(ManageRefusal(t), TableRefusal::NotATable) << kind;
	}
	t = Plain();
	t.persistence = kPersistenceTemp;
	EXPECT_EQ(ManageRefusal(t), TableRefusal::Temporary);
	t.relkind = 'v';
	EXPECT_EQ(ManageRefusal(t), TableRefusal::NotATable);
}
