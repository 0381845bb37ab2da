/*
 * upkeep/pg/spi.hpp
 *
 * SPI from C++: parameterised statements only, results copied into std::
 * types before control returns, every call behind PgCall.  There is no RAII
 * connection object: a destructor must never call into PostgreSQL while an
 * exception unwinds (pg_duckdb #584).  A connection left open by an error is
 * closed by the (sub)transaction abort (AtEO(Sub)Xact_SPI).
 */
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

extern "C" {
#include "postgres.h"
}

namespace upkeep::pg {

/* One SPI parameter, held on the C++ side; turned into a Datum inside PgCall. */
struct SpiValue {
	Oid type;
	bool isnull;
	int64_t num;     /* by-value types: int2/4/8, oid, bool, date, timestamp(tz) */
	std::string str; /* text, name */

	static SpiValue Text(std::string s);
	static SpiValue Name(std::string s);
	static SpiValue Int8(int64_t v);
	static SpiValue Int4(int32_t v);
	static SpiValue Oid_(Oid v);
	static SpiValue RegClass(Oid v);
	static SpiValue Bool(bool v);
	static SpiValue TimestampTz(int64_t usec);
	static SpiValue Timestamp(int64_t usec);
	static SpiValue Date(int32_t days);
	static SpiValue Tid(uint32_t block, uint16_t offset);
	/* A key value (date days or timestamp usec) typed like the key column. */
	static SpiValue Key(Oid key_base_type, int64_t value);
	static SpiValue Null(Oid type);
};

using SpiRow = std::vector<std::optional<std::string>>;

struct SpiResult {
	int code = 0;
	uint64_t processed = 0;
	std::vector<SpiRow> rows; /* text output of each column, nullopt for NULL */

	/* Value of row r, column c; throws if missing or NULL. */
	const std::string &At(size_t r, size_t c) const;
	bool IsNull(size_t r, size_t c) const;
	int64_t Int(size_t r, size_t c) const;
	Oid OidAt(size_t r, size_t c) const;
	bool BoolAt(size_t r, size_t c) const;
};

/*
 * Opens an SPI connection and pins search_path (guc.hpp PinnedSearchPath)
 * for it: nothing pg_upkeep runs through SPI resolves a name through the
 * caller's search_path.
 */
void SpiConnect(bool nonatomic = false);
void SpiFinish();
/* SET CONSTRAINTS ALL IMMEDIATE for the current transaction (PostgreSQL's own call, no SQL parsed). */
void SetConstraintsImmediate();

/* A GUC nest level of the caller's own (what a SET clause gives a function), and its end. */
int OpenGucLevel();
void CloseGucLevel(int level);

/* What a statement run through SpiExec does, and whether its rows come back. */
enum class SpiMode {
	ReadOnly,      /* a query: read-only snapshot, rows returned */
	Write,         /* a statement that changes something; no rows wanted */
	WriteReturning /* a statement that changes something (or may), rows returned */
};

/*
 * Runs `sql` with $1..$n bound to `args`.  Rows are returned as text unless
 * the mode is Write (return rows of catalog-sized results only).  A
 * negative SPI code throws PgError; an error inside the statement arrives
 * as its own PgError with the statement's SQLSTATE.
 */
SpiResult SpiExec(const std::string &sql, const std::vector<SpiValue> &args = {},
                  SpiMode mode = SpiMode::WriteReturning, long limit = 0);

/*
 * Like SpiExec for queries whose columns are by-value integers or
 * date/time types (int2/4/8, oid, bool, date, timestamp, timestamptz): the
 * raw values, no text round trip (dates as days and timestamps as
 * microseconds since 2000-01-01, infinities as the int extremes).
 */
using SpiIntRow = std::vector<std::optional<int64_t>>;
std::vector<SpiIntRow> SpiQueryInts(const std::string &sql, const std::vector<SpiValue> &args = {},
                                    bool read_only = true);

/* The Datum of a parameter (palloc'd when by reference).  May ereport: call inside PgCall. */
Datum SpiValueToDatum(const SpiValue &v);

/*
 * SPI_execute_with_args with SpiValue parameters; returns its code, results
 * left in SPI_tuptable.  May ereport: call inside PgCall.
 */
int SpiExecuteRaw(const char *sql, const std::vector<SpiValue> &args, bool read_only, long limit);

/*
 * Commit inside a non-atomic SPI connection (procedures, the worker).  A new
 * transaction starts at once, with search_path pinned again; if the commit
 * itself fails (a deferred constraint), the transaction is rolled back, the
 * new one started all the same, and the error thrown.
 */
void SpiCommit();
/* Roll back inside a non-atomic SPI connection; a new transaction starts at once. */
void SpiRollback();
/* The same, with synchronous_commit = off for this commit only (SET LOCAL semantics). */
void CommitAsync();

} // namespace upkeep::pg
