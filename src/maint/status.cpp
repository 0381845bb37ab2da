/*
 * src/maint/status.cpp
 *
 * See upkeep/maint/status.hpp.
 */
#include "upkeep/maint/partitions.hpp"
#include "upkeep/maint/policy.hpp"
#include "upkeep/maint/status.hpp"
#include "upkeep/pg/citus.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/owner_context.hpp"
#include "upkeep/pg/spi.hpp"
#include "upkeep/pg/subtransaction.hpp"

extern "C" {
#include "catalog/pg_class.h"
}

namespace upkeep::maint {

namespace {

int64_t
Reltuples(Oid relid) {
	auto r = pg::SpiQueryInts("SELECT GREATEST(c.reltuples, 0)::pg_catalog.int8 FROM pg_catalog.pg_class c WHERE "
	                          "c.oid OPERATOR(pg_catalog.=) $1",
	                          {pg::SpiValue::Oid_(relid)});
	return r.empty() || !r[0][0] ? 0 : *r[0][0];
}

} // namespace

std::optional<PolicyStatus>
GetPolicyStatus(Oid relid) {
	auto policies = LoadPolicies(relid);
	if (policies.empty())
		return std::nullopt;
	auto rel = pg::LookupRelation(relid);
	if (!rel || !pg::MayActAsOwner(relid, pg::CurrentUser()))
		return std::nullopt;
	const Policy &p = policies.front();
	PolicyStatus st;
	Oid base = InvalidOid;
	const pg::KeyKind kind = TimeColumnKind(relid, p.time_column, &base);
	const std::string tz = PolicyTimeZone(p);
	const Cutoff cutoff = PolicyCutoff(p, kind, tz);
	st.cutoff = cutoff.text;

	if (rel->relkind == RELKIND_PARTITIONED_TABLE) {
		Policy now_policy = p;
		now_policy.retain = "0";
		const int64_t now_key = PolicyCutoff(now_policy, kind, tz).key;
		int32_t parts = 0, premade = 0;
		int64_t expired = 0, def = 0;
		auto children = pg::ListRangePartitions(relid);
		for (const auto &c : children) {
			if (c.is_default) {
				def += Reltuples(c.oid);
				continue;
			}
			parts++;
			if (c.lower.value > now_key)
				premade++;
		}
		for (const pg::ChildPartition &c : ExpiredPartitionsOf(children, cutoff.key))
			expired += Reltuples(c.oid);
		st.partitions = parts;
		st.premade = premade;
		st.default_rows = def;
		st.expired = expired;
		return st;
	}
	/* the planner's estimate of WHERE time < cutoff, as the table's owner */
	auto failure = pg::TrySubtransaction([&] {
		pg::AsOwner(rel->owner, [&] {
			pg::SpiResult r = pg::SpiExec("EXPLAIN (FORMAT JSON) SELECT 1 FROM ONLY " + rel->qualified + " WHERE " +
			                                  pg::QuoteIdent(p.time_column) + " OPERATOR(pg_catalog.<) " + cutoff.text,
			                              {}, pg::SpiMode::WriteReturning); /* SPI refuses EXPLAIN in read-only mode */
			std::string plan = r.At(0, 0);
			auto rows = pg::SpiQueryInts("SELECT (($1::pg_catalog.json OPERATOR(pg_catalog.->) 0 "
			                             "OPERATOR(pg_catalog.->) 'Plan' OPERATOR(pg_catalog.->>) 'Plan Rows')"
			                             "::pg_catalog.numeric)::pg_catalog.int8",
			                             {pg::SpiValue::Text(plan)});
			if (!rows.empty() && rows[0][0])
				st.expired = *rows[0][0];
		});
	});
	if (failure && failure->SqlErrCode() == ERRCODE_QUERY_CANCELED)
		throw *failure;
	/* any other failure (say, a lock on the table's catalog entry): no estimate, shown as NULL */
	return st;
}

std::optional<int64_t>
TableBytes(Oid relid) {
	if (!pg::LookupRelation(relid))
		return std::nullopt;
	if (!pg::RowsOnShards(pg::CitusTableKind(relid))) {
		auto r = pg::SpiQueryInts("SELECT pg_catalog.pg_total_relation_size($1)", {pg::SpiValue::RegClass(relid)});
		return r.empty() || !r[0][0] ? std::optional<int64_t>() : std::optional<int64_t>(*r[0][0]);
	}
	/* every node answers for its shards: one that cannot makes this size unknown (NULL), not the view fail */
	std::optional<int64_t> bytes;
	auto failure = pg::TrySubtransaction([&] {
		auto r = pg::SpiQueryInts("SELECT pg_catalog.citus_total_relation_size($1)", {pg::SpiValue::RegClass(relid)});
		if (!r.empty() && r[0][0])
			bytes = *r[0][0];
	});
	if (failure && failure->SqlErrCode() == ERRCODE_QUERY_CANCELED)
		throw *failure;
	return bytes;
}

} // namespace upkeep::maint
