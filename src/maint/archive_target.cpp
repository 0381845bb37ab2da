/*
 * src/maint/archive_target.cpp
 *
 * Validation of archive tables (see upkeep/maint/archive.hpp).
 */
#include "upkeep/core/naming.hpp"
#include "upkeep/maint/archive.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/spi.hpp"
#include "upkeep/pg/time_keys.hpp"

extern "C" {
#include "access/transam.h"
#include "catalog/pg_class.h"
#include "parser/parse_coerce.h"
}

namespace upkeep::maint {

namespace {

bool
Coercible(Oid from, Oid to) {
	return pg::PgCall([&] { return can_coerce_type(1, &from, &to, COERCION_IMPLICIT); });
}

} // namespace

std::string
DefaultArchiveName(const pg::RelInfo &source) {
	return core::FitIdentifier(source.name, "_archive", [](std::string_view s, size_t limit) {
		return pg::ClipToEncoding(std::string(s), limit);
	});
}

void
ValidateArchiveTarget(const pg::RelInfo &source, Oid archive_oid) {
	const pg::RelInfo archive = pg::GetRelation(archive_oid);
	auto fail = [&](int code, const std::string &msg, const std::string &detail = {}) { pg::Throw(code, msg, detail); };
	if (archive.oid == source.oid)
		fail(ERRCODE_INVALID_PARAMETER_VALUE, "a table cannot be its own archive");
	/* the rule for managed tables (RequireManageableTable), said of the archive */
	switch (ManageRefusal(archive)) {
	case core::TableRefusal::None:
		break;
	case core::TableRefusal::SystemCatalog:
		fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "archive " + archive.qualified + " is a system catalog");
		break;
	case core::TableRefusal::OwnTable:
		fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "archive " + archive.qualified + " belongs to pg_upkeep itself");
		break;
	case core::TableRefusal::NotATable:
		fail(ERRCODE_WRONG_OBJECT_TYPE, "archive " + archive.qualified + " is not a table");
		break;
	case core::TableRefusal::Temporary:
		fail(ERRCODE_INVALID_PARAMETER_VALUE, "archive " + archive.qualified + " is a temporary table",
		     "Archived rows would vanish with the session.");
		break;
	}
	if (archive.persistence == RELPERSISTENCE_UNLOGGED && source.persistence == RELPERSISTENCE_PERMANENT)
		fail(ERRCODE_INVALID_PARAMETER_VALUE, "archive " + archive.qualified + " is unlogged",
		     "Archived rows would be lost at crash recovery and missing on standbys.");
	/*
	 * Rows inserted into an ancestor of the source (the source is one of its
	 * partitions or inheritance children) route back into the source, and an
	 * archive inside the source is deleted from with it: either way the same
	 * rows would move again on every run.
	 */
	const auto related = pg::SpiExec(
	    "WITH RECURSIVE up(r) AS (SELECT $1::pg_catalog.oid UNION SELECT i.inhparent FROM pg_catalog.pg_inherits i, up "
	    "WHERE i.inhrelid OPERATOR(pg_catalog.=) up.r), down(r) AS (SELECT $1::pg_catalog.oid UNION SELECT i.inhrelid "
	    "FROM pg_catalog.pg_inherits i, down WHERE i.inhparent OPERATOR(pg_catalog.=) down.r) "
	    "SELECT EXISTS (SELECT 1 FROM up WHERE up.r OPERATOR(pg_catalog.=) $2), "
	    "EXISTS (SELECT 1 FROM down WHERE down.r OPERATOR(pg_catalog.=) $2)",
	    {pg::SpiValue::Oid_(source.oid), pg::SpiValue::Oid_(archive.oid)}, pg::SpiMode::ReadOnly);
	if (related.BoolAt(0, 0))
		fail(ERRCODE_INVALID_PARAMETER_VALUE,
		     "archive " + archive.qualified + " contains " + source.qualified +
		         " (as a partition or inheritance child)",
		     "Rows inserted into the archive would route back into the source and move again on every run.");
	if (related.BoolAt(0, 1))
		fail(ERRCODE_INVALID_PARAMETER_VALUE,
		     "archive " + archive.qualified + " is a partition or inheritance child of " + source.qualified,
		     "Deleting from the source would delete the archived rows too.");
	if (archive.owner != source.owner)
		fail(ERRCODE_INSUFFICIENT_PRIVILEGE,
		     "archive " + archive.qualified + " belongs to " + pg::RoleName(archive.owner) + ", not to " +
		         pg::RoleName(source.owner) + ", the owner of " + source.qualified,
		     "Source and archive must have the same owner.");

	const auto src_cols = pg::GetColumns(source.oid);
	const auto arc_cols = pg::GetColumns(archive.oid);
	/* archived_at: pg_upkeep sets it to the batch's time, so the archive must have it, and the source must not */
	const pg::Column *archived_at = nullptr;
	for (const auto &a : arc_cols)
		if (a.name == "archived_at")
			archived_at = &a;
	for (const auto &s : src_cols)
		if (s.name == "archived_at")
			fail(ERRCODE_DUPLICATE_COLUMN, "source " + source.qualified + " has a column \"archived_at\"",
			     "pg_upkeep sets the archive's archived_at to the time of each batch; a source column of that name "
			     "would collide with it.");
	std::vector<std::string> problems;
	pg::KeyKind archived_kind;
	if (archived_at == nullptr)
		problems.push_back("column \"archived_at\" (timestamptz, set by pg_upkeep to each batch's time) is missing");
	else if (archived_at->generated || !pg::ClassifyKeyType(archived_at->type, &archived_kind) ||
	         archived_kind != pg::KeyKind::TimestampTz)
		problems.push_back("column \"archived_at\" is " +
		                   (archived_at->generated ? std::string("generated") : archived_at->type_sql) +
		                   ", not a timestamptz column pg_upkeep can set to each batch's time");
	for (const auto &s : src_cols) {
		const pg::Column *match = nullptr;
		for (const auto &a : arc_cols)
			if (a.name == s.name)
				match = &a;
		if (!match) {
			problems.push_back("column \"" + s.name + "\" (" + s.type_sql + ") is missing");
			continue;
		}
		if (match->generated) {
			problems.push_back("column \"" + s.name + "\" is generated in the archive and cannot receive values");
			continue;
		}
		bool ok = (match->type == s.type) ? (match->typmod == -1 || match->typmod == s.typmod)
		                                  : Coercible(s.type, match->type);
		if (!ok)
			problems.push_back("column \"" + s.name + "\" is " + match->type_sql + " in the archive but " + s.type_sql +
			                   " in the source");
	}
	for (const auto &a : arc_cols) {
		bool in_source = false;
		for (const auto &s : src_cols)
			in_source = in_source || s.name == a.name;
		if (in_source || !a.notnull || a.generated || a.identity || a.name == "archived_at")
			continue;
		bool has_default =
		    pg::SpiExec("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_attrdef WHERE adrelid "
		                "OPERATOR(pg_catalog.=) $1 AND adnum OPERATOR(pg_catalog.=) $2)",
		                {pg::SpiValue::Oid_(archive.oid), pg::SpiValue::Int4(a.attnum)}, pg::SpiMode::ReadOnly)
		        .BoolAt(0, 0);
		if (!has_default)
			problems.push_back("extra column \"" + a.name + "\" is NOT NULL without a default");
	}
	if (!problems.empty()) {
		std::string detail;
		for (const auto &p : problems)
			detail += (detail.empty() ? "" : "; ") + p;
		fail(ERRCODE_DATATYPE_MISMATCH, "archive " + archive.qualified + " is not compatible with " + source.qualified,
		     detail + ".");
	}
}

} // namespace upkeep::maint
