/*
 * src/maint/archive.cpp
 *
 * Archival: rows older than the cutoff move from a table into its archive,
 * exactly once, whatever fails.
 *
 * Plain source: every batch is ONE statement,
 *     WITH moved AS (DELETE FROM src WHERE <batch> RETURNING cols),
 *          ins   AS (INSERT INTO archive (cols) SELECT cols FROM moved RETURNING cols)
 *     SELECT cols FROM ins
 * so a row is in the source or in the archive, never both, never neither:
 * the statement is atomic, and a crash at any instant rolls the whole batch
 * back.  The batch predicate is a key range evaluated by the DELETE itself
 * (no SELECT-then-DELETE): a row updated to a newer time meanwhile fails the
 * re-check and stays.  The rows are hashed as the archive stored them and
 * the batch is recorded in upkeep.archive_manifest in the same transaction.
 *
 * Partitioned source: whole expired partitions move (DETACH, ADD COLUMN
 * archived_at with a default -- metadata only --, ATTACH to the archive),
 * keeping their relfilenode: no row is copied.  Partitions pg_upkeep made
 * carry a CHECK equal to their bounds, so ATTACH does not scan them either.
 */
#include <algorithm>
#include <limits>

#include "upkeep/core/naming.hpp"
#include "upkeep/maint/archive.hpp"
#include "upkeep/maint/expired_batches.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/run_log.hpp"
#include "upkeep/maint/table_run.hpp"
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

namespace {

[[noreturn]] void
Fail(int code, const std::string &msg, const std::string &detail = {}) {
	pg::Throw(code, msg.c_str(), detail.empty() ? nullptr : detail.c_str());
}

/* Primary-key column names of a table, in key order. */
std::vector<std::string>
PrimaryKeyColumns(Oid relid) {
	pg::SpiResult r = pg::SpiExec("SELECT a.attname FROM pg_catalog.pg_index i "
	                              "CROSS JOIN LATERAL pg_catalog.unnest(i.indkey) WITH ORDINALITY k(attnum, n) "
	                              "JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
	                              "AND a.attnum OPERATOR(pg_catalog.=) k.attnum "
	                              "WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND i.indisprimary ORDER BY k.n",
	                              {pg::SpiValue::Oid_(relid)}, true);
	std::vector<std::string> cols;
	for (size_t i = 0; i < r.rows.size(); i++)
		cols.push_back(r.At(i, 0));
	return cols;
}

bool
HasColumn(Oid relid, const std::string &name) {
	for (const auto &c : pg::GetColumns(relid))
		if (c.name == name)
			return true;
	return false;
}

std::string
JoinQuoted(const std::vector<std::string> &names) {
	std::string out;
	for (const auto &n : names)
		out += (out.empty() ? "" : ", ") + pg::QuoteIdent(n);
	return out;
}

/* Creates <source>_archive as the source's owner: its columns, archived_at, its primary key; partitioned alike. */
Oid
CreateDefaultArchive(const pg::RelInfo &source) {
	const std::string name = DefaultArchiveName(source);
	const std::string qualified = pg::QuoteQualified(source.nspname, name);
	const auto pk = PrimaryKeyColumns(source.oid);
	std::string sql = "CREATE TABLE " + qualified + " (LIKE " + source.qualified +
	                  ", archived_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()";
	if (!pk.empty())
		sql += ", PRIMARY KEY (" + JoinQuoted(pk) + ")";
	sql += ")";
	if (source.relkind == RELKIND_PARTITIONED_TABLE) {
		const pg::PartitionKey key = pg::GetPartitionKey(source.oid);
		sql += " PARTITION BY RANGE (" + pg::QuoteIdent(key.column) + ")";
	}
	pg::AsOwner(source.owner, [&] {
		pg::SpiExec(sql, {}, false, false);
		pg::SpiExec("COMMENT ON TABLE " + qualified + " IS " +
		                pg::SpiExec("SELECT pg_catalog.quote_literal($1)",
		                            {pg::SpiValue::Text("pg_upkeep archive of " + source.qualified)}, true)
		                    .At(0, 0),
		            {}, false, false);
	});
	pg::Notice("upkeep: created archive " + qualified + " for " + source.qualified);
	return pg::RelationByName(source.nspoid, name);
}

struct ArchivePlan {
	pg::RelInfo source;
	pg::RelInfo archive;
	std::vector<std::string> columns; /* source columns, in order: what moves and what is hashed */
	std::string key_column;           /* single-column primary key, for the manifest's key range */
	bool archive_has_archived_at = false;
	bool same_types = false;          /* every moved column has the same type and typmod in the archive */
	bool archive_rewrites = false;    /* the archive has BEFORE INSERT row triggers (or rules) */
};

ArchivePlan
PlanArchive(const pg::RelInfo &source, Oid archive_oid) {
	ArchivePlan plan;
	plan.source = source;
	plan.archive = pg::GetRelation(archive_oid);
	for (const auto &c : pg::GetColumns(source.oid))
		plan.columns.push_back(c.name);
	const auto pk = PrimaryKeyColumns(source.oid);
	if (pk.size() == 1)
		plan.key_column = pk[0];
	plan.archive_has_archived_at = HasColumn(archive_oid, "archived_at");
	const auto src_cols = pg::GetColumns(source.oid);
	const auto arc_cols = pg::GetColumns(archive_oid);
	plan.same_types = true;
	for (const auto &sc : src_cols) {
		bool same = false;
		for (const auto &ac : arc_cols)
			same = same || (ac.name == sc.name && ac.type == sc.type && ac.typmod == sc.typmod);
		plan.same_types = plan.same_types && same;
	}
	/* BEFORE INSERT row triggers (tgtype: ROW 1, BEFORE 2, INSERT 4) on the archive or its partitions, or rules */
	plan.archive_rewrites =
	    pg::SpiExec("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t WHERE t.tgrelid OPERATOR(pg_catalog.=) ANY "
	                "(SELECT $1::pg_catalog.oid UNION ALL SELECT relid FROM pg_catalog.pg_partition_tree($1)) "
	                "AND (t.tgtype::pg_catalog.int4 OPERATOR(pg_catalog.&) 7) OPERATOR(pg_catalog.=) 7 AND NOT t.tgisinternal) "
	                "OR EXISTS (SELECT 1 FROM pg_catalog.pg_rewrite r WHERE r.ev_class OPERATOR(pg_catalog.=) $1)",
	                {pg::SpiValue::RegClass(archive_oid)}, true)
	        .BoolAt(0, 0);
	return plan;
}

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
		    false, false);
	});
}

/* Row batches: one atomic move statement per batch, digested and recorded. */
void
ArchiveRows(TableRun &run, const ArchivePlan &plan, const std::string &time_column, const Cutoff &cutoff,
            int batch_size, int64_t run_id) {
	if (run.DryRun()) {
		run.Batch([&] { return CountExpiredRows(plan.source, time_column, cutoff); });
		return;
	}
	std::string why;
	const core::BatchMethod method = ChooseMethodFor(plan.source, time_column, &why);
	run.Note("cutoff " + cutoff.text + ", batches by " + why);
	ExpiredRowBatches batches(plan.source, time_column, cutoff, batch_size, method);
	const std::string cols = JoinQuoted(plan.columns);
	/* where the time and key columns sit in the result (1-based), for the manifest's ranges */
	int time_pos = 0, key_pos = 0;
	for (size_t i = 0; i < plan.columns.size(); i++) {
		if (plan.columns[i] == time_column)
			time_pos = static_cast<int>(i + 1);
		if (!plan.key_column.empty() && plan.columns[i] == plan.key_column)
			key_pos = static_cast<int>(i + 1);
	}
	std::vector<int> ranges{time_pos};
	if (key_pos > 0)
		ranges.push_back(key_pos);
	/*
	 * The rows are hashed as the archive holds them.  When source and archive
	 * columns have the same types and nothing on the archive can rewrite a row
	 * on its way in (BEFORE INSERT triggers), that is the moved rows
	 * themselves; otherwise the INSERT's RETURNING.
	 */
	const bool hash_moved = plan.same_types && !plan.archive_rewrites;
	(void)RunExpiredBatches(run, batches, [&](const BatchPredicate &pred) -> int64_t {
		const std::string sql =
		    hash_moved
		        ? "WITH moved AS (DELETE FROM " + batches.Target() + " WHERE " + pred.where + " RETURNING " + cols +
		              "), ins AS (INSERT INTO " + plan.archive.qualified + " (" + cols +
		              ") OVERRIDING SYSTEM VALUE SELECT " + cols + " FROM moved) SELECT " + cols + " FROM moved"
		        : "WITH moved AS (DELETE FROM " + batches.Target() + " WHERE " + pred.where + " RETURNING " + cols +
		              "), ins AS (INSERT INTO " + plan.archive.qualified + " (" + cols +
		              ") OVERRIDING SYSTEM VALUE SELECT " + cols + " FROM moved RETURNING " + cols + ") SELECT " +
		              cols + " FROM ins";
		pg::FaultPoint("archive-before-delete");
		const int nest = pg::PinFingerprintSettings();
		pg::BatchDigest d = pg::ExecAndDigestRanges(sql, pred.args, static_cast<int>(plan.columns.size()), ranges);
		pg::UnpinFingerprintSettings(nest);
		pg::FaultPoint("archive-after-insert");
		if (d.rows > 0) {
			std::optional<std::string> kmin, kmax;
			if (key_pos > 0) {
				kmin = d.extras[2];
				kmax = d.extras[3];
			}
			RecordManifest(run_id, plan, "rows", d.rows, kmin, kmax, time_column, d.extras[0], d.extras[1], d.hash,
			               "");
		}
		return d.rows;
	});
}

/*
 * Before a partition moves, make sure it carries a validated CHECK equal to
 * its bounds, so that ATTACH to the archive needs no scan.  Partitions made
 * by pg_upkeep for a set that archives have it from birth; others (made
 * before the policy, or by hand) get it here, in two batches: ADD ... NOT
 * VALID (a brief lock, no scan), then VALIDATE, which scans under SHARE
 * UPDATE EXCLUSIVE, so the application keeps reading and writing.  The move
 * itself -- which holds ACCESS EXCLUSIVE on the source -- then stays as
 * short for a million rows as for ten.
 */
void
ProveBounds(TableRun &run, const PartitionedTable &src, const pg::ChildPartition &c) {
	const std::string name = BoundsConstraintName(c.name);
	pg::SpiResult r = pg::SpiExec("SELECT k.convalidated FROM pg_catalog.pg_constraint k WHERE k.conrelid "
	                              "OPERATOR(pg_catalog.=) $1 AND k.conname OPERATOR(pg_catalog.=) $2 AND k.contype "
	                              "OPERATOR(pg_catalog.=) 'c'",
	                              {pg::SpiValue::Oid_(c.oid), pg::SpiValue::Name(name)}, true);
	if (!r.rows.empty() && r.BoolAt(0, 0))
		return;
	const std::string con = pg::QuoteIdent(name);
	if (r.rows.empty())
		run.Batch([&]() -> int64_t {
			pg::SpiExec("ALTER TABLE " + c.qualified + " ADD CONSTRAINT " + con + " CHECK (" +
			                BoundsCheck(src,
			                            c.lower.value == std::numeric_limits<int64_t>::min()
			                                ? std::string()
			                                : pg::KeyLiteral(src.kind, c.lower.value),
			                            pg::KeyLiteral(src.kind, c.upper.value)) +
			                ") NOT VALID",
			            {}, false, false);
			return 0;
		});
	run.Batch([&]() -> int64_t {
		pg::SpiExec("ALTER TABLE " + c.qualified + " VALIDATE CONSTRAINT " + con, {}, false, false);
		return 0;
	});
}

/* Whole partitions: DETACH from the source, add archived_at (metadata only), ATTACH to the archive. */
void
ArchivePartitions(TableRun &run, const ArchivePlan &plan, const Cutoff &cutoff, int64_t run_id) {
	const PartitionedTable src = RequireMonthlyPartitionable(plan.source);
	if (plan.archive.relkind != RELKIND_PARTITIONED_TABLE)
		Fail(ERRCODE_WRONG_OBJECT_TYPE,
		     "archive " + plan.archive.qualified + " of partitioned " + plan.source.qualified + " is not partitioned",
		     "Whole partitions move by DETACH/ATTACH; the archive must be range-partitioned on \"" + src.key.column +
		         "\".");
	const PartitionedTable arc = RequireMonthlyPartitionable(plan.archive);
	if (arc.key.column != src.key.column || arc.kind != src.kind)
		Fail(ERRCODE_INVALID_OBJECT_DEFINITION, "archive " + plan.archive.qualified +
		                                            " is not partitioned like " + plan.source.qualified);
	auto children = pg::ListRangePartitions(src.rel.oid);
	std::vector<pg::ChildPartition> ranged;
	for (auto &c : children)
		if (!c.is_default)
			ranged.push_back(c);
	std::vector<pg::ChildPartition> expired;
	for (size_t i = 0; i + 1 < ranged.size(); i++)
		if (ranged[i].upper.value <= cutoff.key)
			expired.push_back(ranged[i]);
	run.SetLabel("ARCHIVE " + std::to_string(expired.size()) + " partition" + (expired.size() == 1 ? "" : "s") +
	             " (>" + run.GetPolicy().retain + ") to " + plan.archive.qualified);
	const std::string tz = PolicyTimeZone(run.GetPolicy());
	for (const auto &c : expired) {
		if (!run.DryRun())
			ProveBounds(run, src, c);
		run.Batch([&]() -> int64_t {
			auto est = pg::SpiQueryInts("SELECT GREATEST(c.reltuples, 0)::pg_catalog.int8 FROM pg_catalog.pg_class c "
			                            "WHERE c.oid OPERATOR(pg_catalog.=) $1",
			                            {pg::SpiValue::Oid_(c.oid)});
			const int64_t rows = est.empty() || !est[0][0] ? 0 : *est[0][0];
			if (run.DryRun())
				return rows;
			/* a partition FROM (MINVALUE) keeps that bound, and its own name */
			const bool open_below = c.lower.value == std::numeric_limits<int64_t>::min();
			const std::string lo = open_below ? "MINVALUE" : pg::KeyLiteral(src.kind, c.lower.value);
			const std::string hi = pg::KeyLiteral(src.kind, c.upper.value);
			pg::SpiExec("ALTER TABLE " + src.rel.qualified + " DETACH PARTITION " + c.qualified, {}, false, false);
			pg::FaultPoint("partition-between-detach-attach");
			if (!HasColumn(c.oid, "archived_at"))
				pg::SpiExec("ALTER TABLE " + c.qualified +
				                " ADD COLUMN archived_at pg_catalog.timestamptz NOT NULL DEFAULT pg_catalog.now()",
				            {}, false, false);
			/* name it after the archive, so the source's month name is free again */
			const std::string new_name =
			    open_below ? std::string()
			               : core::FitIdentifier(plan.archive.name,
			                                     core::MonthSuffix(pg::MonthContaining(src.kind, c.lower.value, tz)),
			                                     [](std::string_view s, size_t limit) {
				                                     return pg::ClipToEncoding(std::string(s), limit);
			                                     });
			std::string moved = c.qualified;
			if (!open_below && pg::RelationByName(plan.archive.nspoid, new_name) == InvalidOid) {
				pg::SpiExec("ALTER TABLE " + c.qualified + " RENAME TO " + pg::QuoteIdent(new_name), {}, false, false);
				pg::SpiResult nsp = pg::SpiExec("SELECT n.nspname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace "
				                                "n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace WHERE c.oid "
				                                "OPERATOR(pg_catalog.=) $1",
				                                {pg::SpiValue::Oid_(c.oid)}, true);
				moved = pg::QuoteQualified(nsp.At(0, 0), new_name);
				if (plan.archive.nspoid != pg::GetRelation(c.oid).nspoid)
					pg::SpiExec("ALTER TABLE " + moved + " SET SCHEMA " + pg::QuoteIdent(plan.archive.nspname), {},
					            false, false);
				moved = pg::QuoteQualified(plan.archive.nspname, new_name);
			}
			pg::SpiExec("ALTER TABLE " + plan.archive.qualified + " ATTACH PARTITION " + moved + " FOR VALUES FROM (" +
			                lo + ") TO (" + hi + ")",
			            {}, false, false);
			RecordManifest(run_id, plan, "partition", rows, std::nullopt, std::nullopt, src.key.column,
			               open_below ? std::nullopt : std::optional<std::string>(lo), hi, std::nullopt, moved);
			return rows;
		});
	}
}

} // namespace

Oid
ResolveArchive(const pg::RelInfo &source, Oid archive, bool create, bool *created) {
	*created = false;
	if (archive != InvalidOid) {
		ValidateArchiveTarget(source, archive);
		return archive;
	}
	const std::string name = DefaultArchiveName(source);
	Oid existing = pg::RelationByName(source.nspoid, name);
	if (existing != InvalidOid) {
		ValidateArchiveTarget(source, existing);
		return existing;
	}
	if (!create)
		return InvalidOid;
	Oid made = CreateDefaultArchive(source);
	*created = true;
	return made;
}

void
RunArchiveAction(TableRun &run) {
	const Policy &p = run.GetPolicy();
	const pg::RelInfo &source = run.Rel();
	Oid base = InvalidOid;
	const pg::KeyKind kind = TimeColumnKind(source.oid, p.time_column, &base);
	const Cutoff cutoff = PolicyCutoff(p, kind, PolicyTimeZone(p));
	bool created = false;
	const Oid archive = ResolveArchive(source, p.archive_to, !run.DryRun(), &created);
	if (archive == InvalidOid) {
		/* dry run before the default archive exists: report what would move */
		run.Note("would create " + pg::QuoteQualified(source.nspname, DefaultArchiveName(source)));
		if (source.relkind != RELKIND_PARTITIONED_TABLE)
			run.Batch([&] { return CountExpiredRows(source, p.time_column, cutoff); });
		return;
	}
	const ArchivePlan plan = PlanArchive(source, archive);
	run.SetLabel("ARCHIVE (>" + p.retain + ") to " + plan.archive.qualified);
	run.Note("cutoff " + cutoff.text);
	const int64_t run_id = run.RunId();
	if (source.relkind == RELKIND_PARTITIONED_TABLE)
		ArchivePartitions(run, plan, cutoff, run_id);
	else
		ArchiveRows(run, plan, p.time_column, cutoff, p.batch_size, run_id);
}

int64_t
ArchiveTable(Oid source_oid, Oid archive_oid, const std::string &older_than, const std::string &time_column,
             int batch_size) {
	const pg::RelInfo source = pg::GetRelation(source_oid);
	RequireOwner(source); /* before any lock */
	if (archive_oid != InvalidOid)
		RequireOwner(pg::GetRelation(archive_oid));
	if (source.nspname == "pg_catalog" || source.nspname == "information_schema" || source.oid < 16384)
		Fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "\"" + source.qualified + "\" is a system catalog");
	if (source.nspoid == pg::ExtensionSchema())
		Fail(ERRCODE_INSUFFICIENT_PRIVILEGE, "\"" + source.qualified + "\" belongs to pg_upkeep itself");
	if (source.relkind != RELKIND_RELATION && source.relkind != RELKIND_PARTITIONED_TABLE)
		Fail(ERRCODE_WRONG_OBJECT_TYPE, "\"" + source.qualified + "\" is not a table");
	if (batch_size <= 0)
		Fail(ERRCODE_INVALID_PARAMETER_VALUE, "batch_size must be positive, not " + std::to_string(batch_size));
	if (!pg::SpiExec("SELECT $1::pg_catalog.interval OPERATOR(pg_catalog.>) '0'::pg_catalog.interval",
	                 {pg::SpiValue::Text(older_than)}, true)
	         .BoolAt(0, 0))
		Fail(ERRCODE_INVALID_PARAMETER_VALUE, "older_than must be a positive interval, not \"" + older_than + "\"");

	Policy p;
	p.relid = source.oid;
	p.action = "archive";
	p.retain = pg::SpiExec("SELECT $1::pg_catalog.interval::pg_catalog.text", {pg::SpiValue::Text(older_than)}, true)
	               .At(0, 0);
	p.batch_size = batch_size;
	p.archive_to = archive_oid;
	if (!time_column.empty())
		p.time_column = time_column;
	else if (source.relkind == RELKIND_PARTITIONED_TABLE)
		p.time_column = RequireMonthlyPartitionable(source).key.column;
	else
		Fail(ERRCODE_NULL_VALUE_NOT_ALLOWED, "time_column is required for table " + source.qualified);
	(void)TimeColumnKind(source.oid, p.time_column, nullptr);
	if (archive_oid != InvalidOid)
		ValidateArchiveTarget(source, archive_oid);

	RunOptions opt;
	opt.mode = RunMode::CallerTransaction;
	opt.notices = false;
	std::vector<Outcome> out;
	TableRun run(opt, p, source, NewRunId(), RunByLabel(false), &out);
	return run.Direct("ARCHIVE (>" + p.retain + ")", [&] { RunArchiveAction(run); });
}

} // namespace upkeep::maint
