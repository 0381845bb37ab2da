/*
 * src/maint/verify.cpp
 *
 * verify_backup_integrity(): archive manifests vs archived rows, amcheck on
 * the B-tree indexes of managed and archive tables, data checksums and
 * checksum failures, WAL archiving, partition sets (gaps, overlaps, rows in
 * DEFAULT), publications that publish a managed set's partitions one by one,
 * and stored fingerprints vs current data.  Plus
 * snapshot_fingerprints(), which stores what the last check compares with.
 */
#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "upkeep/core/fingerprint.hpp"
#include "upkeep/maint/archive.hpp"
#include "upkeep/maint/fingerprint.hpp"
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/pending_detach.hpp"
#include "upkeep/maint/policy.hpp"
#include "upkeep/maint/verify.hpp"
#include "upkeep/pg/catalog.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/extension.hpp"
#include "upkeep/pg/fault_point.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/row_hash.hpp"
#include "upkeep/pg/spi.hpp"
#include "upkeep/pg/subtransaction.hpp"

extern "C" {
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/acl.h"
}

namespace upkeep::maint {

namespace {

bool
CanRead(Oid relid) {
	const Oid user = pg::CurrentUser();
	return pg::PgCall([&] {
		return pg_class_aclcheck(relid, user, ACL_SELECT) == ACLCHECK_OK ||
		       pg_attribute_aclcheck_all(relid, user, ACL_SELECT, ACLMASK_ALL) == ACLCHECK_OK;
	});
}

/* Managed tables the caller may act on, with their archives (when they exist). */
struct Managed {
	pg::RelInfo rel;
	Policy policy;
	std::optional<pg::RelInfo> archive;
};

std::vector<Managed>
ManagedTables(bool require_owner) {
	std::vector<Managed> out;
	const Oid user = pg::CurrentUser();
	for (const Policy &p : LoadPolicies(InvalidOid)) {
		auto rel = pg::LookupRelation(p.relid);
		if (!rel)
			continue;
		if (require_owner ? !pg::MayActAsOwner(rel->oid, user) : !CanRead(rel->oid))
			continue;
		Managed m{*rel, p, std::nullopt};
		if (p.action == core::Action::Archive) {
			Oid a = p.archive_to;
			if (a == InvalidOid)
				a = pg::RelationByName(rel->nspoid, DefaultArchiveName(*rel));
			if (a != InvalidOid)
				m.archive = pg::LookupRelation(a);
		}
		out.push_back(std::move(m));
	}
	return out;
}

std::string
Plural(int64_t n, const char *word) {
	const std::string w = word;
	const bool es = w.size() >= 2 && (w.compare(w.size() - 2, 2, "ch") == 0 || w.back() == 's');
	return std::to_string(n) + " " + w + (n == 1 ? "" : (es ? "es" : "s"));
}

/* ---- archive manifests ---------------------------------------------- */

struct ManifestGroup {
	int64_t rows = 0;
	core::Hash128 hash;
	std::vector<int64_t> ids;
	std::string archived_at;
};

} // namespace

std::map<int64_t, core::Fingerprint>
HashArchiveRows(const pg::RelInfo &archive, const std::vector<std::string> &columns, bool group_by_time,
                const std::string &where, const std::vector<pg::SpiValue> &args) {
	std::string cols;
	for (const auto &c : columns)
		cols += (cols.empty() ? "" : ", ") + pg::QuoteIdent(c);
	const std::string sql = std::string("SELECT ") +
	                        (group_by_time ? "archived_at" : "'2000-01-01'::pg_catalog.timestamptz") + ", " + cols +
	                        " FROM " + archive.qualified + (where.empty() ? "" : " WHERE " + where);
	std::map<int64_t, core::Fingerprint> groups;
	const int ncols = static_cast<int>(columns.size());
	Portal portal = pg::PgCall([&] {
		const int nargs = static_cast<int>(args.size());
		Oid *types = (Oid *)palloc(sizeof(Oid) * (nargs + 1));
		Datum *values = (Datum *)palloc(sizeof(Datum) * (nargs + 1));
		char *nulls = (char *)palloc(nargs + 1);
		for (int i = 0; i < nargs; i++) {
			types[i] = args[i].type;
			values[i] = pg::SpiValueToDatum(args[i]);
			nulls[i] = args[i].isnull ? 'n' : ' ';
		}
		SPIPlanPtr plan = SPI_prepare(sql.c_str(), nargs, types);
		if (plan == NULL)
			elog(ERROR, "pg_upkeep: could not prepare the archive scan: %s", SPI_result_code_string(SPI_result));
		return SPI_cursor_open(NULL, plan, values, nulls, true);
	});
	for (;;) {
		SPITupleTable *tt = pg::PgCall([&] {
			SPI_cursor_fetch(portal, true, 10000);
			return SPI_processed > 0 ? SPI_tuptable : (SPITupleTable *)NULL;
		});
		if (tt == nullptr)
			break;
		const uint64 n = pg::PgCall([] { return SPI_processed; });
		std::vector<int> attnums;
		for (int i = 2; i <= ncols + 1; i++)
			attnums.push_back(i);
		pg::RowHasher hasher(tt->tupdesc, attnums);
		pg::PgCall([&] {
			const int natts = tt->tupdesc->natts;
			Datum *values = (Datum *)palloc(sizeof(Datum) * natts);
			bool *isnull = (bool *)palloc(sizeof(bool) * natts);
			/* per row, reset after it: what output functions and detoasting leave must not add up */
			MemoryContext row_cxt =
			    AllocSetContextCreate(CurrentMemoryContext, "upkeep archive row", ALLOCSET_DEFAULT_SIZES);
			for (uint64 r = 0; r < n; r++) {
				const core::Hash128 h = hasher.HashTuple(tt->vals[r], tt->tupdesc, values, isnull, row_cxt);
				groups[isnull[0] ? PG_INT64_MIN : DatumGetInt64(values[0])].Add(h);
			}
			MemoryContextDelete(row_cxt);
			pfree(values);
			pfree(isnull);
			SPI_freetuptable(tt);
		});
	}
	pg::PgCall([&] { SPI_cursor_close(portal); });
	return groups;
}

namespace {

/* One pass over an archive (see HashArchiveRows). */
std::map<int64_t, core::Fingerprint>
HashArchive(const pg::RelInfo &archive, const std::vector<std::string> &columns, bool group_by_time,
            const std::string &where = {}, const std::vector<pg::SpiValue> &args = {}) {
	return HashArchiveRows(archive, columns, group_by_time, where, args);
}

/*
 * Several batches share one archived_at (one transaction): find which of
 * them no longer matches, by re-hashing the archive rows in each batch's key
 * range.  Batches without a key range stay suspects.
 */
std::vector<int64_t>
NarrowByKeyRange(const pg::RelInfo &archive, const std::vector<std::string> &columns, bool by_time, int64_t at,
                 const std::vector<int64_t> &ids) {
	std::vector<int64_t> culprits;
	for (int64_t id : ids) {
		pg::SpiResult b = pg::AsExtensionOwner([&] {
			return pg::SpiExec("SELECT key_column, key_min, key_max, row_count, content_hash, "
			                   "pg_catalog.quote_ident(tn.nspname) OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) "
			                   "pg_catalog.quote_ident(t.typname) FROM upkeep.archive_manifest m "
			                   "LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) $2 "
			                   "AND a.attname OPERATOR(pg_catalog.=) m.key_column "
			                   "LEFT JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) a.atttypid "
			                   "LEFT JOIN pg_catalog.pg_namespace tn ON tn.oid OPERATOR(pg_catalog.=) t.typnamespace "
			                   "WHERE m.id OPERATOR(pg_catalog.=) $1",
			                   {pg::SpiValue::Int8(id), pg::SpiValue::Oid_(archive.oid)}, pg::SpiMode::ReadOnly);
		});
		if (b.rows.empty() || b.IsNull(0, 0) || b.IsNull(0, 1) || b.IsNull(0, 5)) {
			culprits.push_back(id);
			continue;
		}
		const std::string key = pg::QuoteIdent(b.At(0, 0));
		const std::string type = b.At(0, 5);
		std::string where =
		    key + " OPERATOR(pg_catalog.>=) $1::" + type + " AND " + key + " OPERATOR(pg_catalog.<=) $2::" + type;
		std::vector<pg::SpiValue> args{pg::SpiValue::Text(b.At(0, 1)), pg::SpiValue::Text(b.At(0, 2))};
		if (by_time) {
			where += " AND archived_at OPERATOR(pg_catalog.=) $3";
			args.push_back(pg::SpiValue::TimestampTz(at));
		}
		auto got = pg::WithFingerprintSettings([&] { return HashArchive(archive, columns, false, where, args); });
		core::Fingerprint all;
		for (auto &[k, fp] : got)
			all.Merge(fp);
		if (static_cast<int64_t>(all.Rows()) != b.Int(0, 3) || all.Sum() != core::Hash128::FromHex(b.At(0, 4)))
			culprits.push_back(id);
	}
	return culprits.empty() ? ids : culprits;
}

void
CheckManifests(std::vector<CheckResult> &out) {
	/* archives with manifests, the caller may read */
	pg::SpiResult archives = pg::AsExtensionOwner([] {
		return pg::SpiExec("SELECT DISTINCT m.archive::pg_catalog.oid, m.archive_name FROM upkeep.archive_manifest m "
		                   "ORDER BY 2",
		                   {}, pg::SpiMode::ReadOnly);
	});
	for (size_t i = 0; i < archives.rows.size(); i++) {
		const std::string name = archives.At(i, 1);
		if (archives.IsNull(i, 0)) {
			out.push_back({"archive_manifest", name, "failed", "the archive table was dropped; its manifests remain"});
			continue;
		}
		const Oid archive_oid = archives.OidAt(i, 0);
		auto archive = pg::LookupRelation(archive_oid);
		if (!archive) {
			out.push_back({"archive_manifest", name, "failed", "the archive table is missing"});
			continue;
		}
		if (!CanRead(archive_oid))
			continue;
		std::optional<std::string> unlogged;
		auto failure = pg::TrySubtransaction([&] {
			pg::FaultPoint("verify-manifests");
			unlogged = UnloggedPart(archive_oid);
			if (unlogged && InRecovery()) {
				out.push_back({"archive_manifest", archive->qualified, "warning",
				               "not comparable: " + *unlogged + " is UNLOGGED and has no contents during recovery; " +
				                   "compare it on the primary"});
				return;
			}
			/* manifests of this archive, by (columns, archived_at) */
			pg::SpiResult m = pg::AsExtensionOwner([&] {
				return pg::SpiExec(
				    "SELECT m.id, m.method, m.row_count, m.content_hash, m.columns::pg_catalog.text, "
				    "((pg_catalog.extract('epoch', m.archived_at) OPERATOR(pg_catalog.*) 1000000)::pg_catalog.int8 "
				    "OPERATOR(pg_catalog.-) 946684800000000), pg_catalog.to_char(pg_catalog.timezone('UTC', "
				    "m.archived_at), 'YYYY-MM-DD HH24:MI:SS.US') OPERATOR(pg_catalog.||) '+00', m.partition_name, "
				    "pg_catalog.array_to_string(m.columns, ',') "
				    "FROM upkeep.archive_manifest m WHERE m.archive OPERATOR(pg_catalog.=) $1 ORDER BY m.id",
				    {pg::SpiValue::RegClass(archive_oid)}, pg::SpiMode::ReadOnly);
			});
			const bool by_time = [&] {
				for (const auto &c : pg::GetColumns(archive_oid))
					if (c.name == "archived_at")
						return true;
				return false;
			}();
			std::map<std::string, std::map<int64_t, ManifestGroup>> expected; /* columns -> archived_at -> group */
			int64_t batches = 0, rows = 0, partitions = 0, partition_rows = 0;
			std::vector<std::string> partition_problems;
			for (size_t r = 0; r < m.rows.size(); r++) {
				const std::string method = m.At(r, 1);
				if (method == "partition") {
					partitions++;
					partition_rows += m.Int(r, 2);
					const std::string pname = m.IsNull(r, 7) ? "" : m.At(r, 7);
					bool attached =
					    pg::SpiExec("SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_inherits i WHERE i.inhrelid "
					                "OPERATOR(pg_catalog.=) pg_catalog.to_regclass($1) AND i.inhparent "
					                "OPERATOR(pg_catalog.=) $2)",
					                {pg::SpiValue::Text(pname), pg::SpiValue::Oid_(archive_oid)}, pg::SpiMode::ReadOnly)
					        .BoolAt(0, 0);
					if (!attached) {
						partition_problems.push_back("moved partition " + pname + " (batch " + m.At(r, 0) +
						                             ") is no longer attached to the archive");
						continue;
					}
					/* a move recorded with its rows' count and hash (0.2.0 on): as verifiable as a batch */
					if (!m.IsNull(r, 3)) {
						const Oid part_oid = pg::SpiExec("SELECT pg_catalog.to_regclass($1)::pg_catalog.oid",
						                                 {pg::SpiValue::Text(pname)}, pg::SpiMode::ReadOnly)
						                         .OidAt(0, 0);
						auto part = pg::LookupRelation(part_oid);
						std::vector<std::string> columns;
						const std::string colspec = m.At(r, 8);
						for (size_t start = 0; start <= colspec.size();) {
							const size_t comma = colspec.find(',', start);
							columns.push_back(
							    colspec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
							if (comma == std::string::npos)
								break;
							start = comma + 1;
						}
						core::Fingerprint all;
						pg::WithFingerprintSettings([&] {
							for (auto &[k, fp] : HashArchive(*part, columns, false))
								all.Merge(fp);
						});
						const int64_t want_rows = m.Int(r, 2);
						const core::Hash128 want = core::Hash128::FromHex(m.At(r, 3));
						if (static_cast<int64_t>(all.Rows()) != want_rows || all.Sum() != want)
							partition_problems.push_back(
							    "moved partition " + pname + " (batch " + m.At(r, 0) + "): manifest says " +
							    Plural(want_rows, "row") + " hashing to " + want.Hex() + ", the partition has " +
							    Plural(static_cast<int64_t>(all.Rows()), "row") + " hashing to " + all.Sum().Hex());
					}
					continue;
				}
				batches++;
				rows += m.Int(r, 2);
				ManifestGroup &g = expected[m.At(r, 8)][by_time ? m.Int(r, 5) : 0];
				g.rows += m.Int(r, 2);
				g.hash += core::Hash128::FromHex(m.At(r, 3));
				g.ids.push_back(m.Int(r, 0));
				g.archived_at = m.At(r, 6);
			}
			std::vector<std::string> problems; /* of the contents: not comparable when the archive is unlogged */
			for (auto &[colspec, groups] : expected) {
				std::vector<std::string> columns;
				size_t start = 0;
				while (start <= colspec.size()) {
					size_t comma = colspec.find(',', start);
					columns.push_back(
					    colspec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
					if (comma == std::string::npos)
						break;
					start = comma + 1;
				}
				auto actual = pg::WithFingerprintSettings([&] { return HashArchive(*archive, columns, by_time); });
				if (!by_time) {
					/* one group: the whole archive must be what the manifests say */
					core::Fingerprint all;
					for (auto &[k, fp] : actual)
						all.Merge(fp);
					actual.clear();
					actual[0] = all;
				}
				for (auto &[at, g] : groups) {
					auto it = actual.find(at);
					const int64_t have_rows = it == actual.end() ? 0 : static_cast<int64_t>(it->second.Rows());
					const core::Hash128 have_hash = it == actual.end() ? core::Hash128{} : it->second.Sum();
					if (have_rows != g.rows || have_hash != g.hash) {
						std::vector<int64_t> culprits = g.ids;
						if (g.ids.size() > 1)
							culprits = NarrowByKeyRange(*archive, columns, by_time, at, g.ids);
						std::string ids;
						for (int64_t id : culprits)
							ids += (ids.empty() ? "" : ", ") + std::to_string(id);
						problems.push_back(std::string("batch") + (culprits.size() > 1 ? "es " : " ") + ids +
						                   (by_time ? " archived at " + g.archived_at : "") + ": manifest says " +
						                   Plural(g.rows, "row") + " hashing to " + g.hash.Hex() +
						                   ", the archive has " + Plural(have_rows, "row") + " hashing to " +
						                   have_hash.Hex());
					}
				}
			}
			if (problems.empty() && partition_problems.empty())
				out.push_back({"archive_manifest", archive->qualified, "ok",
				               Plural(batches, "batch") + " (" + Plural(rows, "row") + ") match their manifests" +
				                   (partitions ? "; " + Plural(partitions, "moved partition") + " (" +
				                                     Plural(partition_rows, "row") + ") attached and matching"
				                               : "")});
			for (const auto &p : partition_problems)
				out.push_back({"archive_manifest", archive->qualified, "failed", p});
			for (const auto &p : problems)
				if (unlogged)
					out.push_back({"archive_manifest", archive->qualified, "warning",
					               "not comparable: " + *unlogged + " is UNLOGGED (crash recovery empties it, " +
					                   "physical backups do not carry its rows); " + p});
				else
					out.push_back({"archive_manifest", archive->qualified, "failed", p});
		});
		if (failure)
			out.push_back({"archive_manifest", name, "failed", std::string("check could not run: ") + failure->what()});
	}
}

/* ---- amcheck ------------------------------------------------------------ */

void
CheckIndexes(std::vector<CheckResult> &out, const std::vector<Managed> &managed) {
	const bool installed =
	    pg::SpiExec(
	        "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'amcheck')", {},
	        pg::SpiMode::ReadOnly)
	        .BoolAt(0, 0);
	if (!installed) {
		out.push_back({"amcheck", "", "warning",
		               "amcheck is not installed: CREATE EXTENSION amcheck to verify the B-tree indexes of managed "
		               "and archive tables"});
		return;
	}
	const std::string schema =
	    pg::SpiExec("SELECT n.nspname FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid "
	                "OPERATOR(pg_catalog.=) e.extnamespace WHERE e.extname OPERATOR(pg_catalog.=) 'amcheck'",
	                {}, pg::SpiMode::ReadOnly)
	        .At(0, 0);
	const bool recovery = InRecovery();
	std::set<Oid> tables;
	for (const auto &m : managed) {
		tables.insert(m.rel.oid);
		if (m.archive)
			tables.insert(m.archive->oid);
	}
	for (Oid t : tables) {
		/* leaf B-tree indexes of the table and of its partitions (partitioned indexes have no storage) */
		pg::SpiResult idx = pg::SpiExec(
		    "SELECT i.indexrelid::pg_catalog.regclass::pg_catalog.text, ic.relpersistence OPERATOR(pg_catalog.=) 'u' "
		    "FROM pg_catalog.pg_index i "
		    "JOIN pg_catalog.pg_class ic ON ic.oid OPERATOR(pg_catalog.=) i.indexrelid "
		    "JOIN pg_catalog.pg_am am ON am.oid OPERATOR(pg_catalog.=) ic.relam "
		    "WHERE am.amname OPERATOR(pg_catalog.=) 'btree' AND ic.relkind OPERATOR(pg_catalog.=) 'i' "
		    "AND i.indrelid OPERATOR(pg_catalog.=) ANY (SELECT $1::pg_catalog.oid UNION ALL SELECT relid FROM "
		    "pg_catalog.pg_partition_tree($1) WHERE isleaf) ORDER BY 1",
		    {pg::SpiValue::RegClass(t)}, pg::SpiMode::ReadOnly);
		for (size_t r = 0; r < idx.rows.size(); r++) {
			const std::string index = idx.At(r, 0);
			if (idx.BoolAt(r, 1) && recovery) {
				/* amcheck would skip it with a NOTICE: say so rather than 'passed' */
				out.push_back(
				    {"amcheck", index, "warning",
				     "not checked: an UNLOGGED index has no contents during recovery; check it on the primary"});
				continue;
			}
			auto failure = pg::TrySubtransaction([&] {
				pg::FaultPoint("verify-amcheck");
				pg::SpiExec("SELECT " + pg::QuoteIdent(schema) + ".bt_index_check($1::pg_catalog.regclass, true)",
				            {pg::SpiValue::Text(index)}, pg::SpiMode::Write);
			});
			if (!failure)
				out.push_back({"amcheck", index, "ok", "bt_index_check with heapallindexed passed"});
			else if (failure->SqlErrCode() == ERRCODE_INSUFFICIENT_PRIVILEGE)
				out.push_back({"amcheck", index, "warning", std::string("not checked: ") + failure->what()});
			else
				out.push_back({"amcheck", index, "failed", failure->what()});
		}
	}
}

/* ---- checksums and WAL archiving ------------------------------------ */

void
CheckChecksums(std::vector<CheckResult> &out) {
	pg::SpiResult r = pg::SpiExec(
	    "SELECT pg_catalog.current_setting('data_checksums'), d.checksum_failures, "
	    "d.checksum_last_failure::pg_catalog.text, "
	    "pg_catalog.current_database() FROM pg_catalog.pg_stat_database d WHERE d.datname OPERATOR(pg_catalog.=) "
	    "pg_catalog.current_database()",
	    {}, pg::SpiMode::ReadOnly);
	const std::string db = r.At(0, 3);
	if (r.At(0, 0) == "on")
		out.push_back({"data_checksums", "cluster", "ok", "data checksums are enabled"});
	else
		out.push_back({"data_checksums", "cluster", "warning",
		               "data checksums are off: silent page corruption goes unnoticed (initdb --data-checksums, or "
		               "pg_checksums --enable on a stopped cluster)"});
	const int64_t failures = r.IsNull(0, 1) ? 0 : r.Int(0, 1);
	if (failures == 0)
		out.push_back({"checksum_failures", db, "ok", "no checksum failures recorded"});
	else
		out.push_back({"checksum_failures", db, "failed",
		               Plural(failures, "checksum failure") + ", the last at " + (r.IsNull(0, 2) ? "?" : r.At(0, 2))});
}

void
CheckWalArchiving(std::vector<CheckResult> &out) {
	pg::SpiResult r =
	    pg::SpiExec("SELECT pg_catalog.current_setting('archive_mode'), a.archived_count, a.last_archived_wal, "
	                "a.last_archived_time::pg_catalog.text, a.failed_count, a.last_failed_wal, "
	                "a.last_failed_time::pg_catalog.text, "
	                "(a.last_failed_time IS NOT NULL AND (a.last_archived_time IS NULL OR a.last_failed_time "
	                "OPERATOR(pg_catalog.>) "
	                "a.last_archived_time)), "
	                "(a.last_archived_time IS NULL OR a.last_archived_time OPERATOR(pg_catalog.<) (pg_catalog.now() "
	                "OPERATOR(pg_catalog.-) '1 hour'::pg_catalog.interval)), "
	                "pg_catalog.current_setting('archive_command'), pg_catalog.current_setting('archive_library') "
	                "FROM pg_catalog.pg_stat_archiver a",
	                {}, pg::SpiMode::ReadOnly);
	const std::string mode = r.At(0, 0);
	if (mode == "off") {
		out.push_back({"wal_archiving", "cluster", "warning",
		               "not configured (archive_mode = off): point-in-time recovery is not possible"});
		return;
	}
	if (r.BoolAt(0, 7)) {
		out.push_back({"wal_archiving", "cluster", "failed",
		               "archiving is failing: " + r.At(0, 4) + " failures, the last for " +
		                   (r.IsNull(0, 5) ? "?" : r.At(0, 5)) + " at " + (r.IsNull(0, 6) ? "?" : r.At(0, 6)) +
		                   ", newer than the last success" + (r.IsNull(0, 3) ? " (none yet)" : " at " + r.At(0, 3))});
		return;
	}
	if (r.BoolAt(0, 8)) {
		out.push_back({"wal_archiving", "cluster", "warning",
		               r.IsNull(0, 3) ? std::string("archive_mode is ") + mode + " but no WAL segment was archived yet"
		                              : "the last WAL segment was archived more than an hour ago, at " + r.At(0, 3)});
		return;
	}
	out.push_back(
	    {"wal_archiving", "cluster", "ok",
	     r.At(0, 1) + " segments archived, the last " + (r.IsNull(0, 2) ? "?" : r.At(0, 2)) + " at " + r.At(0, 3)});
}

/* ---- partition sets ---------------------------------------------------- */

void
CheckPartitionSets(std::vector<CheckResult> &out, const std::vector<Managed> &managed) {
	for (const auto &m : managed) {
		if (m.rel.relkind != RELKIND_PARTITIONED_TABLE)
			continue;
		auto failure = pg::TrySubtransaction([&] {
			const PartitionedTable t = RequireMonthlyPartitionable(m.rel);
			auto children = pg::ListRangePartitions(t.rel.oid);
			std::vector<std::string> problems;
			const pg::ChildPartition *prev = nullptr, *def = nullptr;
			int ranged = 0;
			for (const auto &c : children) {
				if (c.is_default) {
					def = &c;
					continue;
				}
				ranged++;
				if (prev && prev->upper.value < c.lower.value)
					problems.push_back("gap between " + prev->qualified + " (up to " +
					                   pg::KeyLiteral(t.kind, prev->upper.value) + ") and " + c.qualified + " (from " +
					                   pg::KeyLiteral(t.kind, c.lower.value) + ")");
				if (prev && prev->upper.value > c.lower.value)
					problems.push_back("overlap between " + prev->qualified + " and " + c.qualified);
				prev = &c;
			}
			for (const auto &d :
			     PendingDetaches(t.rel.oid)) /* hidden from the parent's queries and from the list above */
				problems.push_back("partition " + d.qualified +
				                   " is detach pending (a DETACH ... CONCURRENTLY did not " +
				                   "finish): the parent's queries do not see its rows until the next run or ALTER " +
				                   "TABLE ... DETACH PARTITION ... FINALIZE completes it");
			for (const auto &p : problems)
				out.push_back({"partition_set", m.rel.qualified, "failed", p});
			int64_t def_rows = 0;
			if (def && CanRead(def->oid))
				def_rows = *pg::SpiQueryInts("SELECT pg_catalog.count(*) FROM ONLY " + def->qualified).at(0).at(0);
			if (def_rows > 0)
				out.push_back({"partition_set", m.rel.qualified, "warning",
				               Plural(def_rows, "row") + " in the DEFAULT partition " + def->qualified +
				                   ": create_monthly_partition() for their months moves them out"});
			if (problems.empty() && def_rows == 0)
				out.push_back({"partition_set", m.rel.qualified, "ok",
				               Plural(ranged, "partition") + ", contiguous" + (def ? ", DEFAULT empty" : "")});
		});
		if (failure)
			out.push_back(
			    {"partition_set", m.rel.qualified, "failed", std::string("check could not run: ") + failure->what()});
	}
}

/* ---- logical replication ---------------------------------------------- */

/*
 * A publication with publish_via_partition_root = false publishes each
 * partition under its own name, and a partition made later is published at
 * once when the publication covers the set (FOR ALL TABLES, FOR TABLE parent
 * or an ancestor, FOR TABLES IN SCHEMA of the parent's schema, where
 * pg_upkeep creates them).  A subscriber without a table of that name stops
 * its apply worker on the first row for it, and retries in a loop; one that
 * has it skips its rows until REFRESH PUBLICATION.  So every
 * partitioned managed set such a publication covers is a warning; one
 * published through its root is ok; an unpublished one is not listed.
 */
void
CheckPublications(std::vector<CheckResult> &out, const std::vector<Managed> &managed) {
	for (const auto &m : managed) {
		if (m.rel.relkind != RELKIND_PARTITIONED_TABLE)
			continue;
		pg::SpiResult r = pg::SpiExec(
		    "SELECT p.pubname::pg_catalog.text, p.pubviaroot FROM pg_catalog.pg_publication p "
		    "WHERE p.puballtables OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_rel r "
		    "WHERE r.prpubid OPERATOR(pg_catalog.=) p.oid AND (r.prrelid OPERATOR(pg_catalog.=) $1 OR r.prrelid "
		    "OPERATOR(pg_catalog.=) ANY (ARRAY(SELECT a.relid::pg_catalog.oid FROM "
		    "pg_catalog.pg_partition_ancestors($1) a)))) "
		    "OR EXISTS (SELECT 1 FROM pg_catalog.pg_publication_namespace n WHERE n.pnpubid OPERATOR(pg_catalog.=) "
		    "p.oid "
		    "AND n.pnnspid OPERATOR(pg_catalog.=) $2) ORDER BY 1",
		    {pg::SpiValue::RegClass(m.rel.oid), pg::SpiValue::Oid_(m.rel.nspoid)}, pg::SpiMode::ReadOnly);
		for (size_t i = 0; i < r.rows.size(); i++) {
			const std::string pub = pg::QuoteIdent(r.At(i, 0));
			if (r.BoolAt(i, 1))
				out.push_back({"publication", m.rel.qualified, "ok",
				               "publication " + pub + " publishes it through its partition root"});
			else
				out.push_back(
				    {"publication", m.rel.qualified, "warning",
				     "publication " + pub +
				         " publishes its partitions one by one (publish_via_partition_root "
				         "= false): each partition pg_upkeep makes is published under its own name at once; a "
				         "subscriber without that table stops its apply worker on the first row for it, retrying "
				         "in a loop, and one with it skips its rows until ALTER SUBSCRIPTION ... REFRESH "
				         "PUBLICATION. ALTER PUBLICATION " +
				         pub + " SET (publish_via_partition_root = true)"});
		}
	}
}

/* ---- fingerprints ---------------------------------------------------- */

void
CheckFingerprints(std::vector<CheckResult> &out) {
	pg::SpiResult stored = pg::AsExtensionOwner([] {
		return pg::SpiExec("SELECT DISTINCT ON (f.table_name) f.table_name, f.row_count, f.fingerprint, "
		                   "pg_catalog.to_char(pg_catalog.timezone('UTC', f.taken_at), 'YYYY-MM-DD HH24:MI:SS.US') "
		                   "OPERATOR(pg_catalog.||) '+00', f.wal_lsn::pg_catalog.text, "
		                   "pg_catalog.to_regclass(f.table_name)::pg_catalog.oid "
		                   "FROM upkeep.fingerprint f ORDER BY f.table_name, f.id DESC",
		                   {}, pg::SpiMode::ReadOnly);
	});
	for (size_t i = 0; i < stored.rows.size(); i++) {
		const std::string name = stored.At(i, 0);
		const std::string when = "the snapshot of " + stored.At(i, 3) + " (LSN " + stored.At(i, 4) + ")";
		if (stored.IsNull(i, 5)) {
			out.push_back({"fingerprint", name, "failed",
			               "table is missing; " + when + " had " + Plural(stored.Int(i, 1), "row")});
			continue;
		}
		const Oid relid = stored.OidAt(i, 5);
		if (!CanRead(relid))
			continue;
		TableFingerprint now;
		std::optional<std::string> unlogged;
		bool unreadable = false;
		auto failure = pg::TrySubtransaction([&] {
			unlogged = UnloggedPart(relid);
			unreadable = unlogged && InRecovery();
			if (!unreadable)
				now = FingerprintTable(relid);
		});
		if (failure) {
			out.push_back({"fingerprint", name, "failed", std::string("check could not run: ") + failure->what()});
			continue;
		}
		if (unreadable) {
			out.push_back({"fingerprint", name, "warning",
			               "not comparable: " + *unlogged + " is UNLOGGED and has no contents during recovery; " +
			                   "compare it on the primary"});
			continue;
		}
		const std::string then_now = "then " + Plural(stored.Int(i, 1), "row") + " hashing to " + stored.At(i, 2) +
		                             ", now " + Plural(now.rows, "row") + " hashing to " + now.hex;
		if (now.rows == stored.Int(i, 1) && now.hex == stored.At(i, 2))
			out.push_back({"fingerprint", name, "ok", Plural(now.rows, "row") + ", identical to " + when});
		else if (unlogged)
			out.push_back({"fingerprint", name, "warning",
			               "not comparable: " + *unlogged + " is UNLOGGED (crash recovery empties it, physical " +
			                   "backups do not carry its rows); it differs from " + when + ": " + then_now});
		else
			out.push_back({"fingerprint", name, "failed", "differs from " + when + ": " + then_now});
	}
}

/*
 * Runs one check; an error becomes a failed row instead of hiding the rest.
 * A cancel, statement_timeout or termination is no check failing: it ends
 * the call (TrySubtransaction rethrows it, here and in every per-object
 * subtransaction of the checks).
 */
template <typename Fn>
void
Isolated(std::vector<CheckResult> &out, const char *name, Fn &&fn) {
	std::vector<CheckResult> part;
	auto failure = pg::TrySubtransaction([&] { fn(part); });
	if (failure)
		part.push_back({name, "", "failed", std::string("check could not run: ") + failure->what()});
	out.insert(out.end(), part.begin(), part.end());
}

} // namespace

std::vector<StoredFingerprint>
SnapshotFingerprints() {
	std::vector<StoredFingerprint> out;
	std::set<Oid> done;
	for (const auto &m : ManagedTables(true)) {
		std::vector<pg::RelInfo> rels{m.rel};
		if (m.archive)
			rels.push_back(*m.archive);
		for (const auto &rel : rels) {
			if (!done.insert(rel.oid).second)
				continue;
			TableFingerprint f = FingerprintTable(rel.oid);
			pg::SpiResult r = pg::AsExtensionOwner([&] {
				return pg::SpiExec(
				    "INSERT INTO upkeep.fingerprint (relid, table_name, row_count, fingerprint, taken_at, "
				    "wal_lsn, taken_by) VALUES ($1, $2, $3, $4, pg_catalog.clock_timestamp(), "
				    "pg_catalog.pg_current_wal_insert_lsn(), pg_catalog.session_user()) "
				    "RETURNING pg_catalog.to_char(pg_catalog.timezone('UTC', taken_at), "
				    "'YYYY-MM-DD HH24:MI:SS.US') OPERATOR(pg_catalog.||) '+00', wal_lsn::pg_catalog.text",
				    {pg::SpiValue::Oid_(rel.oid), pg::SpiValue::Text(rel.qualified), pg::SpiValue::Int8(f.rows),
				     pg::SpiValue::Text(f.hex)},
				    pg::SpiMode::WriteReturning);
			});
			out.push_back({rel.qualified, f.rows, f.hex, r.At(0, 0), r.At(0, 1)});
		}
	}
	return out;
}

std::vector<CheckResult>
VerifyBackupIntegrity() {
	std::vector<CheckResult> out;
	std::vector<Managed> managed;
	Isolated(out, "archive_manifest", [&](std::vector<CheckResult> &o) { CheckManifests(o); });
	Isolated(out, "amcheck", [&](std::vector<CheckResult> &o) {
		managed = ManagedTables(false);
		CheckIndexes(o, managed);
	});
	Isolated(out, "data_checksums", [&](std::vector<CheckResult> &o) { CheckChecksums(o); });
	Isolated(out, "wal_archiving", [&](std::vector<CheckResult> &o) { CheckWalArchiving(o); });
	Isolated(out, "partition_set", [&](std::vector<CheckResult> &o) {
		if (managed.empty())
			managed = ManagedTables(false);
		CheckPartitionSets(o, managed);
	});
	Isolated(out, "publication", [&](std::vector<CheckResult> &o) {
		if (managed.empty())
			managed = ManagedTables(false);
		CheckPublications(o, managed);
	});
	Isolated(out, "fingerprint", [&](std::vector<CheckResult> &o) { CheckFingerprints(o); });
	return out;
}

} // namespace upkeep::maint
