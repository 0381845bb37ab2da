/*
 * src/maint/archive_manifest.cpp
 *
 * upkeep.archive_manifest: one row per batch moved (rows or a whole
 * partition), in the batch's own transaction, with what verify() checks.
 */
#include <algorithm>
#include <limits>

#include "upkeep/core/naming.hpp"
#include "upkeep/maint/archive.hpp"
#include "upkeep/maint/archive_move.hpp"
#include "upkeep/maint/expired_batches.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/run_log.hpp"
#include "upkeep/maint/table_run.hpp"
#include "upkeep/maint/verify.hpp"
#include "upkeep/pg/batch_digest.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/report.hpp"
#include "upkeep/pg/row_hash.hpp"
#include "upkeep/pg/spi.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
}

namespace upkeep::maint {

void
RecordManifest(int64_t run_id, const ArchivePlan &plan, const std::string &method, int64_t rows,
               const std::optional<std::string> &key_min, const std::optional<std::string> &key_max,
               const std::string &time_column, const std::optional<std::string> &time_min,
               const std::optional<std::string> &time_max, const std::optional<core::Hash128> &hash,
               const std::string &partition_name) {
	auto opt_text = [](const std::optional<std::string> &v) {
		return v ? pg::SpiValue::Text(*v) : pg::SpiValue::Null(TEXTOID);
	};
	std::string cols = "{";
	for (size_t i = 0; i < plan.columns.size(); i++) {
		std::string c = plan.columns[i];
		std::string esc;
		for (char ch : c) {
			if (ch == '"' || ch == '\\')
				esc += '\\';
			esc += ch;
		}
		cols += (i ? "," : "") + std::string("\"") + esc + "\"";
	}
	cols += "}";
	pg::AsExtensionOwner([&] {
		pg::SpiExec(
		    "INSERT INTO upkeep.archive_manifest (run_id, source, source_name, archive, archive_name, archived_at, "
		    "method, row_count, key_column, key_min, key_max, time_column, time_min, time_max, columns, content_hash, "
		    "partition_name) VALUES ($1, $2, $3, $4, $5, pg_catalog.now(), $6, $7, $8, $9, $10, $11, $12, $13, "
		    "$14::pg_catalog.name[], $15, $16)",
		    {pg::SpiValue::Int8(run_id), pg::SpiValue::Oid_(plan.source.oid), pg::SpiValue::Text(plan.source.qualified),
		     pg::SpiValue::RegClass(plan.archive.oid), pg::SpiValue::Text(plan.archive.qualified),
		     pg::SpiValue::Text(method), pg::SpiValue::Int8(rows),
		     plan.key_column.empty() ? pg::SpiValue::Null(NAMEOID) : pg::SpiValue::Name(plan.key_column),
		     opt_text(key_min), opt_text(key_max), pg::SpiValue::Name(time_column), opt_text(time_min),
		     opt_text(time_max), pg::SpiValue::Text(cols),
		     hash ? pg::SpiValue::Text(hash->Hex()) : pg::SpiValue::Null(TEXTOID),
		     partition_name.empty() ? pg::SpiValue::Null(TEXTOID) : pg::SpiValue::Text(partition_name)},
		    pg::SpiMode::Write);
	});
}

} // namespace upkeep::maint
