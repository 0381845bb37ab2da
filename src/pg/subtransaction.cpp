/*
 * src/pg/subtransaction.cpp
 *
 * Internal subtransactions (see upkeep/pg/subtransaction.hpp), following
 * PL/pgSQL's exec_stmt_block: remember the memory context and resource owner,
 * restore both after release or rollback.
 */
#include "upkeep/pg/subtransaction.hpp"

extern "C" {
#include "access/xact.h"
}

namespace upkeep::pg {

SubxactState
BeginSubtransaction() {
	SubxactState s{CurrentMemoryContext, CurrentResourceOwner};
	PgCall([&] {
		BeginInternalSubTransaction(NULL);
		MemoryContextSwitchTo(s.cxt);
	});
	return s;
}

void
CommitSubtransaction(const SubxactState &s) {
	PgCall([&] {
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(s.cxt);
		CurrentResourceOwner = s.owner;
	});
}

void
RollbackSubtransaction(const SubxactState &s) {
	PgCall([&] {
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(s.cxt);
		CurrentResourceOwner = s.owner;
	});
}

} // namespace upkeep::pg
