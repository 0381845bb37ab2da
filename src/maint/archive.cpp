/*
 * src/maint/archive.cpp
 *
 * Archival: rows older than the cutoff move from a table into its archive,
 * exactly once, whatever fails.
 *
 * Plain source: every batch is ONE statement,
 *     WITH moved AS (DELETE FROM src WHERE <batch> RETURNING cols),
 *          ins   AS (INSERT INTO archive (cols, archived_at)
 *                    SELECT cols, now() FROM moved RETURNING ...)
 *     SELECT <the other side's row count>, cols FROM <moved or ins>
 * so a row is in the source or in the archive, never both, never neither:
 * the statement is atomic, and a crash at any instant rolls the whole batch
 * back.  The rows the DELETE removed must equal the rows the archive took:
 * a BEFORE INSERT trigger or rule on the archive that drops or redirects
 * rows makes the batch roll back with an error instead of losing them.  The
 * batch predicate is a key range evaluated by the DELETE itself (no
 * SELECT-then-DELETE): a row updated to a newer time meanwhile fails the
 * re-check and stays.  The rows are hashed as the archive stored them, as
 * they stream out of the statement (bounded memory whatever the batch
 * size), and the batch is recorded in upkeep.archive_manifest in the same
 * transaction.  Source and archive are followed by OID: each batch locks
 * both and takes their current names.
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
	const pg::RelInfo &source;        /* the run's: refreshed by OID under each batch's lock */
	pg::RelInfo archive;              /* refreshed by OID under each batch's lock */
	std::vector<std::string> columns; /* source columns, in order: what moves and what is hashed */
	std::string key_column;           /* single-column primary key, for the manifest's key range */
	bool same_types = false;          /* every moved column has the same type and typmod in the archive */
	bool archive_rewrites = false;    /* the archive has BEFORE INSERT row triggers (or rules) */
};

ArchivePlan
PlanArchive(const pg::RelInfo &source, Oid archive_oid) {
	ArchivePlan plan{source, pg::GetRelation(archive_oid), {}, {}, false, false};
	for (const auto &c : pg::GetColumns(source.oid))
		plan.columns.push_back(c.name);
	const auto pk = PrimaryKeyColumns(source.oid);
	if (pk.size() == 1)
		plan.key_column = pk[0];
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

/* Before a batch that writes into it: the archive, locked by OID, as it is named now. */
void
RefreshArchive(ArchivePlan &plan) {
	pg::LockRelationById(plan.archive.oid, pg::kRowExclusiveLock);
	auto now = pg::LookupRelation(plan.archive.oid);
	if (!now) {
		const std::string msg = "archive " + plan.archive.qualified + " (OID " + std::to_string(plan.archive.oid) +
		                        ") was dropped during the run";
		pg::Throw(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, msg.c_str());
	}
	plan.archive = *now;
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

/* Row batches: one atomic move statement per batch, checked, digested and recorded. */
void
ArchiveRows(TableRun &run, ArchivePlan &plan, const std::string &time_column, const Cutoff &cutoff, int batch_size,
            int64_t run_id) {
	if (run.DryRun()) {
		run.Note("cutoff " + cutoff.text + CascadeNote(plan.source.oid));
		run.Batch([&] { return CountExpiredRows(plan.source, time_column, cutoff); });
		return;
	}
	std::string why;
	const core::BatchMethod method = ChooseMethodFor(plan.source, time_column, &why);
	run.Note("cutoff " + cutoff.text + ", batches by " + why);
	ExpiredRowBatches batches(plan.source, time_column, cutoff, batch_size, method);
	const std::string cols = JoinQuoted(plan.columns);
	const int ncols = static_cast<int>(plan.columns.size());
	/*
	 * The rows are hashed as the archive holds them.  When source and archive
	 * columns have the same types and nothing on the archive can rewrite a row
	 * on its way in (BEFORE INSERT triggers, rules), those are the moved rows
	 * themselves, and the INSERT only reports how many it took; otherwise the
	 * INSERT's RETURNING is hashed, with the DELETE's count beside it (a LEFT
	 * JOIN, so the count arrives even when the archive took nothing).
	 */
	const bool hash_moved = plan.same_types && !plan.archive_rewrites;
	pg::DigestSpec spec;
	spec.count_col = 1;
	spec.hash_first = hash_moved ? 2 : 3;
	spec.hash_count = ncols;
	spec.present_col = hash_moved ? 0 : 2;
	for (size_t i = 0; i < plan.columns.size(); i++)
		if (plan.columns[i] == time_column)
			spec.range_columns.push_back(spec.hash_first + static_cast<int>(i));
	for (size_t i = 0; i < plan.columns.size(); i++)
		if (!plan.key_column.empty() && plan.columns[i] == plan.key_column)
			spec.range_columns.push_back(spec.hash_first + static_cast<int>(i));
	const bool has_key_range = spec.range_columns.size() > 1;
	(void)RunExpiredBatches(run, batches, [&](const BatchPredicate &pred) -> int64_t {
		RefreshArchive(plan);
		const std::string moved = "WITH moved AS (DELETE FROM " + batches.Target() + " WHERE " + pred.where +
		                          " RETURNING " + cols + "), ins AS (INSERT INTO " + plan.archive.qualified + " (" +
		                          cols + ", archived_at) OVERRIDING SYSTEM VALUE SELECT " + cols +
		                          ", pg_catalog.now() FROM moved RETURNING ";
		const std::string sql =
		    hash_moved ? moved + "1) SELECT (SELECT pg_catalog.count(*) FROM ins), " + cols + " FROM moved"
		               : moved + cols + ") SELECT m.n, i.* FROM (SELECT pg_catalog.count(*) AS n FROM moved) m "
		                                "LEFT JOIN (SELECT true AS present, " + cols + " FROM ins) i ON true";
		pg::FaultPoint("archive-before-delete");
		const int nest = pg::PinFingerprintSettings();
		pg::BatchDigest d = pg::ExecAndDigest(sql, pred.args, spec);
		pg::UnpinFingerprintSettings(nest);
		pg::FaultPoint("archive-after-insert");
		/* hash_moved: d.rows left the source and the archive took other_count; else the reverse */
		const int64_t removed = hash_moved ? d.rows : std::max<int64_t>(d.other_count, 0);
		const int64_t landed = hash_moved ? std::max<int64_t>(d.other_count, 0) : d.rows;
		if (removed != landed) {
			const std::string msg = "archive " + plan.archive.qualified + " took " + std::to_string(landed) + " of the " +
			                        std::to_string(removed) + " rows this batch removed from " +
			                        plan.source.qualified + "; the batch is rolled back";
			pg::Throw(ERRCODE_TRIGGERED_ACTION_EXCEPTION, msg.c_str(),
			          "A BEFORE INSERT trigger or a rule on the archive dropped or redirected rows (an inheritance "
			          "routing trigger does that).",
			          "Archive into a table without such triggers or rules; a declaratively partitioned archive "
			          "routes rows itself.");
		}
		if (d.rows > 0) {
			std::optional<std::string> kmin, kmax;
			if (has_key_range) {
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
	/* the partition by OID, under the lock the statement takes, by the name it has now */
	auto locked_name = [&](int mode) {
		pg::LockRelationById(c.oid, mode);
		return pg::GetRelation(c.oid).qualified;
	};
	if (r.rows.empty())
		run.Batch(
		    [&]() -> int64_t {
			    pg::SpiExec("ALTER TABLE " + locked_name(pg::kAccessExclusiveLock) + " ADD CONSTRAINT " + con +
			                    " CHECK (" +
			                    BoundsCheck(src,
			                                c.lower.value == std::numeric_limits<int64_t>::min()
			                                    ? std::string()
			                                    : pg::KeyLiteral(src.kind, c.lower.value),
			                                pg::KeyLiteral(src.kind, c.upper.value)) +
			                    ") NOT VALID",
			                {}, false, false);
			    return 0;
		    },
		    true, BatchLock::None);
	run.Batch(
	    [&]() -> int64_t {
		    pg::SpiExec("ALTER TABLE " + locked_name(pg::kShareUpdateExclusiveLock) + " VALIDATE CONSTRAINT " + con, {},
		                false, false);
		    return 0;
	    },
	    true, BatchLock::None);
}

/* Whole partitions: DETACH from the source, add archived_at (metadata only), ATTACH to the archive. */
void
ArchivePartitions(TableRun &run, ArchivePlan &plan, const Cutoff &cutoff, int64_t run_id) {
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
	const std::vector<pg::ChildPartition> expired =
	    ExpiredPartitionsOf(pg::ListRangePartitions(src.rel.oid), cutoff.key);
	run.SetLabel(std::string(core::Describe(core::Action::Archive).label) + " " + std::to_string(expired.size()) +
	             " partition" + (expired.size() == 1 ? "" : "s") +
	             " (>" + run.GetPolicy().retain + ") to " + plan.archive.qualified);
	const std::string tz = PolicyTimeZone(run.GetPolicy());
	for (const auto &want : expired) {
		if (!run.DryRun())
			ProveBounds(run, src, want);
		run.Batch(
		    [&]() -> int64_t {
			    if (run.DryRun())
				    return std::max<int64_t>(static_cast<int64_t>(pg::RelTuples(want.oid).value_or(0)), 0);
			    /*
			     * Count and hash the partition's rows first, under SHARE on it
			     * alone: readers go on, writers wait, and nothing can change the
			     * rows until this transaction ends -- the manifest records exactly
			     * what moves, as verifiable as a batch of rows.  The source's
			     * parent is not locked yet, so the scan holds up nobody's queries
			     * on the set.
			     */
			    pg::LockRelationById(want.oid, pg::kShareLock);
			    if (!pg::LookupRelation(want.oid))
				    return 0;
			    const pg::RelInfo part_now = pg::GetRelation(want.oid);
			    core::Fingerprint content;
			    {
				    const int nest = pg::PinFingerprintSettings();
				    for (auto &[k, fp] : HashArchiveRows(part_now, plan.columns, false))
					    content.Merge(fp);
				    pg::UnpinFingerprintSettings(nest);
			    }
			    /*
			     * DETACH locks the source and the partition (and the source's
			     * DEFAULT), ATTACH the archive and its DEFAULT: all of them at once
			     * or none, then both sides by the names they have now.
			     */
			    std::vector<pg::RelLock> also{{plan.archive.oid, pg::kShareUpdateExclusiveLock}};
			    const Oid arc_def = pg::DefaultPartitionOf(plan.archive.oid);
			    if (arc_def != InvalidOid)
				    also.push_back({arc_def, pg::kAccessExclusiveLock});
			    const PartitionChange change =
			        LockForPartitionChange(src.rel.oid, pg::kAccessExclusiveLock, {want}, also);
			    if (change.parts.empty())
				    return 0; /* detached, re-bounded or dropped by someone else meanwhile */
			    const pg::ChildPartition &c = change.parts.front();
			    RefreshArchive(plan);
			    const int64_t rows = static_cast<int64_t>(content.Rows());
			    /* a partition FROM (MINVALUE) keeps that bound, and its own name */
			    const bool open_below = c.lower.value == std::numeric_limits<int64_t>::min();
			    const std::string lo = open_below ? "MINVALUE" : pg::KeyLiteral(src.kind, c.lower.value);
			    const std::string hi = pg::KeyLiteral(src.kind, c.upper.value);
			    pg::SpiExec("ALTER TABLE " + change.parent.qualified + " DETACH PARTITION " + c.qualified, {}, false,
			                false);
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
				    pg::SpiExec("ALTER TABLE " + c.qualified + " RENAME TO " + pg::QuoteIdent(new_name), {}, false,
				                false);
				    const pg::RelInfo renamed = pg::GetRelation(c.oid);
				    moved = renamed.qualified;
				    if (plan.archive.nspoid != renamed.nspoid)
					    pg::SpiExec("ALTER TABLE " + moved + " SET SCHEMA " + pg::QuoteIdent(plan.archive.nspname), {},
					                false, false);
				    moved = pg::QuoteQualified(plan.archive.nspname, new_name);
			    }
			    pg::SpiExec("ALTER TABLE " + plan.archive.qualified + " ATTACH PARTITION " + moved +
			                    " FOR VALUES FROM (" + lo + ") TO (" + hi + ")",
			                {}, false, false);
			    RecordManifest(run_id, plan, "partition", rows, std::nullopt, std::nullopt, src.key.column,
			                   open_below ? std::nullopt : std::optional<std::string>(lo), hi,
			                   std::optional<core::Hash128>(content.Sum()), moved);
			    return rows;
		    },
		    true, BatchLock::None);
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
		run.Note("would create " + pg::QuoteQualified(source.nspname, DefaultArchiveName(source)) +
		         (source.relkind != RELKIND_PARTITIONED_TABLE ? CascadeNote(source.oid) : std::string()));
		if (source.relkind != RELKIND_PARTITIONED_TABLE)
			run.Batch([&] { return CountExpiredRows(source, p.time_column, cutoff); });
		return;
	}
	ArchivePlan plan = PlanArchive(source, archive);
	run.SetLabel(core::RetentionLabel(core::Action::Archive, p.retain) + " to " + plan.archive.qualified);
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
	RequireManageableTable(source, false); /* the rule set_policy applies; archive_table's messages name no detail */
	if (batch_size <= 0)
		Fail(ERRCODE_INVALID_PARAMETER_VALUE, "batch_size must be positive, not " + std::to_string(batch_size));

	Policy p;
	p.relid = source.oid;
	p.action = core::Action::Archive;
	p.retain = ValidateAge("older_than", older_than, kMaxRetainYears);
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

	const RunOptions opt = RunOptions::ArchiveTable();
	std::vector<Outcome> out;
	const int64_t run_id = NewRunId();
	const std::string run_by = RunByLabel(false);
	const std::string label = core::RetentionLabel(p.action, p.retain);
	/* one run per table: a worker, pg_cron or another call on it now means an immediate skip, not a wait */
	if (!pg::TryLockTable(source.oid, false)) {
		const std::string msg = "another pg_upkeep run is processing this table";
		LogOutcome(run_id, source.oid, source.qualified, label, core::Status::Skipped, msg, run_by);
		pg::Notice("upkeep: " + source.qualified + ": " + label + " [skipped: " + msg + "]");
		return 0;
	}
	pg::OwnerPathRun owner_paths; /* the owner's search_path looked up once, not per batch */
	TableRun run(opt, p, source, run_id, run_by, &out);
	return run.Direct(label, [&] { RunArchiveAction(run); }, p.action);
}

} // namespace upkeep::maint
