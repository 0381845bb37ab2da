/*
 * src/maint/delete_action.cpp
 *
 * action 'delete': expired rows go by batched DELETE statements through SQL,
 * so triggers, foreign keys and row-level security apply as for any DELETE
 * the owner would run.  Rows whose time is NULL are never deleted.
 */
#include <stdexcept>

#include "upkeep/maint/expired_batches.hpp"
#include "upkeep/maint/table_run.hpp"
#include "upkeep/pg/error_bridge.hpp"
#include "upkeep/pg/guc.hpp"
#include "upkeep/pg/spi.hpp"

namespace upkeep::maint {

/* The batching method for a table: upkeep.batch_method when usable, else the planner's choice. */
core::BatchMethod
ChooseMethodFor(const pg::RelInfo &rel, const std::string &time_column, std::string *why) {
	const core::TableFacts facts = GatherTableFacts(rel, time_column);
	try {
		return core::ChooseBatchMethod(facts, core::ParseBatchMethod(pg::g_batch_method ? pg::g_batch_method : ""),
		                               why);
	} catch (const std::invalid_argument &e) {
		pg::Throw(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE, e.what());
	}
}

void
RunDeleteAction(TableRun &run) {
	const Policy &p = run.GetPolicy();
	const pg::RelInfo &rel = run.Rel();
	Oid base = InvalidOid;
	const pg::KeyKind kind = TimeColumnKind(rel.oid, p.time_column, &base);
	const Cutoff cutoff = PolicyCutoff(p, kind, PolicyTimeZone(p));
	run.Note("cutoff " + cutoff.text);

	if (run.DryRun()) {
		/* the exact number a real run would delete now, and the other tables its foreign keys would change */
		run.Note("cutoff " + cutoff.text + CascadeNote(rel.oid));
		run.Batch([&] { return CountExpiredRows(rel, p.time_column, cutoff); });
		return;
	}
	std::string why;
	const core::BatchMethod method = ChooseMethodFor(rel, p.time_column, &why);
	run.Note("cutoff " + cutoff.text + ", batches by " + why);
	ExpiredRowBatches batches(rel, p.time_column, cutoff, p.batch_size, method);
	(void)RunExpiredBatches(run, batches, [&](const BatchPredicate &pred) -> int64_t {
		return static_cast<int64_t>(
		    pg::SpiExec("DELETE FROM " + batches.Target() + " WHERE " + pred.where, pred.args, pg::SpiMode::Write)
		        .processed);
	});
}

} // namespace upkeep::maint
