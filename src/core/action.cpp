/*
 * src/core/action.cpp
 *
 * See upkeep/core/action.hpp.
 */
#include "upkeep/core/action.hpp"

namespace upkeep::core {

namespace {

/* In the order of the enum. */
constexpr ActionInfo kActions[] = {
    ActionInfo(Action::Delete, "delete", "DELETE").VacuumAfterRows(),
    ActionInfo(Action::Archive, "archive", "ARCHIVE").PartitionsOfSets().KeepsManifest().VacuumAfterRows(),
    ActionInfo(Action::Drop, "drop", "DROP").PartitionsOnly().KeepsSetSummary(),
    ActionInfo(Action::Detach, "detach", "DETACH").PartitionsOnly().KeepsSetSummary(),
};

constexpr const char *kStatuses[] = {"ok", "skipped", "failed", "dry run"};

int
Severity(Status s) {
	switch (s) {
	case Status::Failed:
		return 2;
	case Status::Skipped:
		return 1;
	default:
		return 0;
	}
}

} // namespace

const ActionInfo &
Describe(Action a) {
	return kActions[static_cast<int>(a)];
}

std::optional<Action>
ParseAction(std::string_view name) {
	for (const ActionInfo &i : kActions)
		if (name == i.name)
			return i.action;
	return std::nullopt;
}

const char *
ActionName(Action a) {
	return Describe(a).name;
}

std::string
RetentionLabel(Action a, const std::string &retain) {
	return std::string(Describe(a).label) + " (>" + retain + ")";
}

Grain
GrainOf(Action a, bool partitioned) {
	const ActionInfo &i = Describe(a);
	if (i.partitions_only || (i.partitions_of_sets && partitioned))
		return Grain::Partitions;
	return Grain::Rows;
}

bool
WarrantsVacuum(Action a, bool partitioned) {
	return Describe(a).vacuum_after_rows && GrainOf(a, partitioned) == Grain::Rows;
}

const char *
StatusText(Status s) {
	return kStatuses[static_cast<int>(s)];
}

std::optional<Status>
ParseStatus(std::string_view text) {
	for (int i = 0; i < 4; i++)
		if (text == kStatuses[i])
			return static_cast<Status>(i);
	return std::nullopt;
}

Status
Worse(Status a, Status b) {
	return Severity(b) > Severity(a) ? b : a;
}

} // namespace upkeep::core
