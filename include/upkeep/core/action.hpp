/*
 * upkeep/core/action.hpp
 *
 * The retention actions and the outcome statuses as types.  A policy names
 * its action by the word stored in upkeep.policy.action ("delete"); run_log
 * and the functions' results show it by its label ("DELETE (>30 days)").
 * Everything else about an action -- does it work on rows or on whole
 * partitions, does it keep a stored summary or a manifest, does its work
 * leave dead rows for VACUUM -- is one descriptor here, so no part of the
 * code reads it back out of a string.
 */
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "upkeep/core/no_postgres.hpp"

namespace upkeep::core {

enum class Action { Delete, Archive, Drop, Detach };

/* What a piece of work acts on: rows (DELETE, INSERT ... SELECT) or whole partitions (DDL). */
enum class Grain { Rows, Partitions };

/*
 * An action's descriptor.  Written with named properties, each false unless
 * set:
 *     ActionInfo(Action::Drop, "drop", "DROP").PartitionsOnly().KeepsSetSummary()
 */
struct ActionInfo {
	Action action;
	const char *name;  /* the policy's word: "delete" */
	const char *label; /* the label's verb in run_log and results: "DELETE" */
	/* only on whole partitions of a range-partitioned set (drop, detach) */
	bool partitions_only = false;
	/* on a partitioned set it moves whole partitions, on a plain table rows (archive) */
	bool partitions_of_sets = false;
	/* keeps the stored summary of the partition set, so a run with nothing to do skips reading it (steady_state) */
	bool keeps_set_summary = false;
	/* keeps a manifest per batch moved (archive) */
	bool keeps_manifest = false;
	/* row work of this action leaves dead rows a VACUUM should reclaim */
	bool vacuum_after_rows = false;

	constexpr ActionInfo(Action a, const char *word, const char *verb) : action(a), name(word), label(verb) {}

	constexpr ActionInfo
	PartitionsOnly() const {
		ActionInfo i = *this;
		i.partitions_only = true;
		return i;
	}
	constexpr ActionInfo
	PartitionsOfSets() const {
		ActionInfo i = *this;
		i.partitions_of_sets = true;
		return i;
	}
	constexpr ActionInfo
	KeepsSetSummary() const {
		ActionInfo i = *this;
		i.keeps_set_summary = true;
		return i;
	}
	constexpr ActionInfo
	KeepsManifest() const {
		ActionInfo i = *this;
		i.keeps_manifest = true;
		return i;
	}
	constexpr ActionInfo
	VacuumAfterRows() const {
		ActionInfo i = *this;
		i.vacuum_after_rows = true;
		return i;
	}
};

/* The descriptor of an action. */
const ActionInfo &Describe(Action a);
/* The action a policy word names ("delete", ...), or nullopt. */
std::optional<Action> ParseAction(std::string_view name);
/* The policy word of an action. */
const char *ActionName(Action a);
/* "DELETE (>30 days)": the label of a retention action over a retain interval. */
std::string RetentionLabel(Action a, const std::string &retain);
/* What the action's work acts on for a table, partitioned or not. */
Grain GrainOf(Action a, bool partitioned);
/* Whether a successful run of the action on such a table warrants a VACUUM (its row work left dead rows). */
bool WarrantsVacuum(Action a, bool partitioned);

/*
 * How one action of a run ended.  The words are what run_log.status,
 * policy_state.last_status and the results show.
 */
enum class Status { Ok, Skipped, Failed, DryRun };

/* "ok", "skipped", "failed", "dry run" */
const char *StatusText(Status s);
std::optional<Status> ParseStatus(std::string_view text);
/* The worse of two statuses for a policy's schedule: failed over skipped over ok. */
Status Worse(Status a, Status b);

} // namespace upkeep::core
