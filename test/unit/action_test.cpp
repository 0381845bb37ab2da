/*
 * test/unit/action_test.cpp
 *
 * Actions and statuses: the words stored and shown stay exactly what they
 * were as strings (run_log and the regress expected files depend on them),
 * every word parses back, and the descriptor answers what the engine and
 * the worker used to read out of labels.
 */
#include <gtest/gtest.h>

#include <string>

#include "upkeep/core/action.hpp"

using namespace upkeep::core;

namespace {
constexpr Action kAll[] = {Action::Delete, Action::Archive, Action::Drop, Action::Detach};
constexpr Status kAllStatuses[] = {Status::Ok, Status::Skipped, Status::Failed, Status::DryRun};
} // namespace

TEST(Action, NamesAndLabelsAreTheStoredWords) {
	EXPECT_STREQ(ActionName(Action::Delete), "delete");
	EXPECT_STREQ(ActionName(Action::Archive), "archive");
	EXPECT_STREQ(ActionName(Action::Drop), "drop");
	EXPECT_STREQ(ActionName(Action::Detach), "detach");
	EXPECT_EQ(RetentionLabel(Action::Delete, "30 days"), "DELETE (>30 days)");
	EXPECT_EQ(RetentionLabel(Action::Archive, "1 year"), "ARCHIVE (>1 year)");
	EXPECT_EQ(RetentionLabel(Action::Drop, "3 mons"), "DROP (>3 mons)");
	EXPECT_EQ(RetentionLabel(Action::Detach, "00:00:01"), "DETACH (>00:00:01)");
}

TEST(Action, EveryNameParsesBackAndNothingElseDoes) {
	for (Action a : kAll) {
		EXPECT_EQ(Describe(a).action, a);
		auto parsed = ParseAction(ActionName(a));
		ASSERT_TRUE(parsed.has_value());
		EXPECT_EQ(*parsed, a);
	}
	EXPECT_FALSE(ParseAction("DELETE").has_value()); /* the label is not the policy word */
	EXPECT_FALSE(ParseAction("").has_value());
	EXPECT_FALSE(ParseAction("truncate").has_value());
	EXPECT_FALSE(ParseAction("delete ").has_value());
}

TEST(Action, GrainFollowsTheTable) {
	EXPECT_EQ(GrainOf(Action::Delete, false), Grain::Rows);
	EXPECT_EQ(GrainOf(Action::Delete, true), Grain::Rows);
	EXPECT_EQ(GrainOf(Action::Archive, false), Grain::Rows);
	EXPECT_EQ(GrainOf(Action::Archive, true), Grain::Partitions);
	EXPECT_EQ(GrainOf(Action::Drop, true), Grain::Partitions);
	EXPECT_EQ(GrainOf(Action::Detach, true), Grain::Partitions);
	EXPECT_TRUE(Describe(Action::Drop).partitions_only);
	EXPECT_TRUE(Describe(Action::Detach).partitions_only);
	EXPECT_FALSE(Describe(Action::Delete).partitions_only);
	EXPECT_FALSE(Describe(Action::Archive).partitions_only);
}

TEST(Action, VacuumOnlyAfterRowWork) {
	/* what the worker did by label: "DELETE..." always, "ARCHIVE (" (rows) but not "ARCHIVE n partitions" */
	EXPECT_TRUE(WarrantsVacuum(Action::Delete, false));
	EXPECT_TRUE(WarrantsVacuum(Action::Delete, true));
	EXPECT_TRUE(WarrantsVacuum(Action::Archive, false));
	EXPECT_FALSE(WarrantsVacuum(Action::Archive, true));
	EXPECT_FALSE(WarrantsVacuum(Action::Drop, true));
	EXPECT_FALSE(WarrantsVacuum(Action::Detach, true));
}

TEST(Action, SummariesAndManifests) {
	EXPECT_TRUE(Describe(Action::Drop).keeps_set_summary);
	EXPECT_TRUE(Describe(Action::Detach).keeps_set_summary);
	EXPECT_FALSE(Describe(Action::Delete).keeps_set_summary);
	EXPECT_FALSE(Describe(Action::Archive).keeps_set_summary);
	EXPECT_TRUE(Describe(Action::Archive).keeps_manifest);
	EXPECT_FALSE(Describe(Action::Delete).keeps_manifest);
}

TEST(Action, EveryPropertyOfTheTable) {
	/* the descriptor table as it was written with positional booleans: parts, sets, summary, manifest, vacuum */
	struct Row {
		Action a;
		bool parts, sets, summary, manifest, vacuum;
	};
	const Row rows[] = {
	    {Action::Delete, false, false, false, false, true},
	    {Action::Archive, false, true, false, true, true},
	    {Action::Drop, true, false, true, false, false},
	    {Action::Detach, true, false, true, false, false},
	};
	for (const Row &r : rows) {
		const ActionInfo &i = Describe(r.a);
		EXPECT_EQ(i.partitions_only, r.parts) << i.name;
		EXPECT_EQ(i.partitions_of_sets, r.sets) << i.name;
		EXPECT_EQ(i.keeps_set_summary, r.summary) << i.name;
		EXPECT_EQ(i.keeps_manifest, r.manifest) << i.name;
		EXPECT_EQ(i.vacuum_after_rows, r.vacuum) << i.name;
	}
	/* a property not set is false */
	constexpr ActionInfo bare(Action::Delete, "x", "X");
	static_assert(!bare.partitions_only && !bare.partitions_of_sets && !bare.keeps_set_summary &&
	                  !bare.keeps_manifest && !bare.vacuum_after_rows,
	              "unset properties are false");
	static_assert(bare.KeepsManifest().keeps_manifest && !bare.KeepsManifest().vacuum_after_rows,
	              "a setter sets its property only");
}

TEST(Status, WordsRoundTrip) {
	EXPECT_STREQ(StatusText(Status::Ok), "ok");
	EXPECT_STREQ(StatusText(Status::Skipped), "skipped");
	EXPECT_STREQ(StatusText(Status::Failed), "failed");
	EXPECT_STREQ(StatusText(Status::DryRun), "dry run");
	for (Status s : kAllStatuses) {
		auto parsed = ParseStatus(StatusText(s));
		ASSERT_TRUE(parsed.has_value());
		EXPECT_EQ(*parsed, s);
	}
	EXPECT_FALSE(ParseStatus("running").has_value());
	EXPECT_FALSE(ParseStatus("OK").has_value());
}

TEST(Status, WorseOrdersFailedOverSkippedOverOk) {
	EXPECT_EQ(Worse(Status::Ok, Status::Ok), Status::Ok);
	EXPECT_EQ(Worse(Status::Ok, Status::Skipped), Status::Skipped);
	EXPECT_EQ(Worse(Status::Skipped, Status::Ok), Status::Skipped);
	EXPECT_EQ(Worse(Status::Skipped, Status::Failed), Status::Failed);
	EXPECT_EQ(Worse(Status::Failed, Status::Skipped), Status::Failed);
	EXPECT_EQ(Worse(Status::Ok, Status::Failed), Status::Failed);
}
