/*
 * upkeep/pg/subtransaction.hpp
 *
 * Failure isolation: run C++ work inside an internal subtransaction, as a
 * PL/pgSQL EXCEPTION block does.  A PostgreSQL error inside is already
 * flushed by PgCall when it arrives here as PgError; the subtransaction is
 * rolled back (undoing its changes, locks, SPI state, user-id switches and
 * GUC nest levels) and the error handed back as a value.
 */
#pragma once

#include <optional>

#include "upkeep/pg/error_bridge.hpp"

extern "C" {
#include "utils/resowner.h"
}

namespace upkeep::pg {

struct SubxactState {
	MemoryContext cxt;
	ResourceOwner owner;
};

SubxactState BeginSubtransaction();
void CommitSubtransaction(const SubxactState &s);
void RollbackSubtransaction(const SubxactState &s);

/*
 * Errors that end the statement whatever isolation a caller wanted: a query
 * cancel or statement_timeout (57014), a termination or shutdown (57P01..3).
 * No subtransaction may swallow them.
 */
inline bool
IsInterrupt(const PgError &e) {
	const int c = e.SqlErrCode();
	return c == ERRCODE_QUERY_CANCELED || c == ERRCODE_ADMIN_SHUTDOWN || c == ERRCODE_CRASH_SHUTDOWN ||
	       c == ERRCODE_CANNOT_CONNECT_NOW;
}

/*
 * Runs fn() in a subtransaction.  Returns nullopt on success (subtransaction
 * released), or the PgError that rolled it back.  Interrupts (IsInterrupt)
 * and non-PostgreSQL exceptions roll back too and are rethrown.
 */
template <typename Fn>
std::optional<PgError>
TrySubtransaction(Fn &&fn) {
	SubxactState s = BeginSubtransaction();
	try {
		fn();
	} catch (const PgError &e) {
		RollbackSubtransaction(s);
		if (IsInterrupt(e))
			throw;
		return e;
	} catch (...) {
		RollbackSubtransaction(s);
		throw;
	}
	CommitSubtransaction(s);
	return std::nullopt;
}

} // namespace upkeep::pg
