/*
 * src/pg/batch_digest.cpp
 *
 * See upkeep/pg/batch_digest.hpp.
 */
#include <memory>

#include "upkeep/pg/batch_digest.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/row_hash.hpp"

extern "C" {
#include "executor/spi.h"
}

namespace upkeep::pg {

namespace {

struct Params {
	int nargs;
	Oid *types;
	Datum *values;
	char *nulls;
};

} // namespace

BatchDigest
ExecAndDigest(const std::string &sql, const std::vector<SpiValue> &args, int hash_columns, int extra_columns) {
	BatchDigest out;
	int rc = PgCall([&] {
		const int nargs = static_cast<int>(args.size());
		Oid *types = nargs ? (Oid *)palloc(sizeof(Oid) * nargs) : nullptr;
		Datum *values = nargs ? (Datum *)palloc(sizeof(Datum) * nargs) : nullptr;
		char *nulls = nargs ? (char *)palloc(nargs) : nullptr;
		for (int i = 0; i < nargs; i++) {
			types[i] = args[i].type;
			values[i] = SpiValueToDatum(args[i]);
			nulls[i] = args[i].isnull ? 'n' : ' ';
		}
		return SPI_execute_with_args(sql.c_str(), nargs, types, values, nulls, false, 0);
	});
	if (rc < 0)
		Throw(ERRCODE_INTERNAL_ERROR, "SPI_execute failed while archiving", sql.c_str());
	SPITupleTable *tt = PgCall([] { return SPI_tuptable; });
	if (tt == nullptr)
		return out;
	const uint64 n = PgCall([] { return SPI_processed; });
	std::vector<int> attnums;
	for (int i = 1; i <= hash_columns; i++)
		attnums.push_back(i);
	RowHasher hasher(tt->tupdesc, attnums);
	core::Fingerprint fp;
	const int natts = tt->tupdesc->natts;
	PgCall([&] {
		Datum *values = (Datum *)palloc(sizeof(Datum) * natts);
		bool *isnull = (bool *)palloc(sizeof(bool) * natts);
		for (uint64 r = 0; r < n; r++) {
			heap_deform_tuple(tt->vals[r], tt->tupdesc, values, isnull);
			fp.Add(hasher.HashRow(values, isnull));
		}
		pfree(values);
		pfree(isnull);
	});
	out.rows = static_cast<int64_t>(fp.Rows());
	out.hash = fp.Sum();
	if (n > 0) {
		for (int e = 0; e < extra_columns; e++) {
			const int col = hash_columns + e + 1;
			char *v = PgCall([&] { return SPI_getvalue(tt->vals[0], tt->tupdesc, col); });
			out.extras.push_back(v ? std::optional<std::string>(v) : std::nullopt);
		}
	}
	PgCall([&] { SPI_freetuptable(tt); });
	return out;
}

} // namespace upkeep::pg
