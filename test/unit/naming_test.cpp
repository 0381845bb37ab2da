/*
 * test/unit/naming_test.cpp
 *
 * Partition and archive names: PostgreSQL's 63-byte limit, distinct names
 * for long parents sharing a prefix, determinism, and never cutting a
 * multibyte character.
 */
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>
#include <string>

#include "upkeep/core/naming.hpp"

using namespace upkeep::core;

namespace {
bool
ValidUtf8(const std::string &s) {
	size_t i = 0;
	while (i < s.size()) {
		unsigned char c = static_cast<unsigned char>(s[i]);
		size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
		if (n == 0 || i + n > s.size())
			return false;
		for (size_t k = 1; k < n; k++)
			if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
				return false;
		i += n;
	}
	return true;
}
} // namespace

TEST(Naming, MonthSuffix) {
	EXPECT_EQ(MonthSuffix({2024, 2}), "_2024_02");
	EXPECT_EQ(MonthSuffix({1, 12}), "_0001_12");
	EXPECT_THROW(MonthSuffix({10000, 1}), std::out_of_range);
}

TEST(Naming, ShortNamesAreConcatenated) {
	EXPECT_EQ(PartitionName("events", {2024, 2}), "events_2024_02");
	EXPECT_EQ(PartitionName("Mixed.Case \"x\"", {2024, 12}), "Mixed.Case \"x\"_2024_12");
}

TEST(Naming, ExactlySixtyThreeBytesFits) {
	const std::string parent(55, 'p'); /* 55 + 8 = 63 */
	const std::string name = PartitionName(parent, {2024, 1});
	EXPECT_EQ(name, parent + "_2024_01");
	EXPECT_EQ(name.size(), 63u);
	const std::string longer(56, 'p');
	EXPECT_LE(PartitionName(longer, {2024, 1}).size(), 63u);
	EXPECT_NE(PartitionName(longer, {2024, 1}), longer.substr(0, 55) + "_2024_01");
}

TEST(Naming, LongParentsSharingSixtyBytesStayDistinct) {
	const std::string base(60, 'x');
	std::set<std::string> names;
	for (char c = 'a'; c <= 'z'; c++) {
		const std::string n = PartitionName(base + c, {2024, 6});
		EXPECT_LE(n.size(), kMaxIdentifierBytes);
		EXPECT_EQ(n.substr(n.size() - 8), "_2024_06");
		names.insert(n);
	}
	EXPECT_EQ(names.size(), 26u);
}

TEST(Naming, Deterministic) {
	const std::string parent(100, 'q');
	EXPECT_EQ(PartitionName(parent, {2024, 6}), PartitionName(parent, {2024, 6}));
	/* the same parent gets the same tag for every month */
	const std::string a = PartitionName(parent, {2024, 6});
	const std::string b = PartitionName(parent, {2031, 1});
	EXPECT_EQ(a.substr(0, a.size() - 8), b.substr(0, b.size() - 8));
}

TEST(Naming, MultibyteNeverCut) {
	std::string e_acute;
	for (int i = 0; i < 40; i++)
		e_acute += "\xC3\xA9"; /* é, 2 bytes */
	std::string kanji;
	for (int i = 0; i < 30; i++)
		kanji += "\xE6\x97\xA5"; /* 日, 3 bytes */
	for (const std::string &parent : {e_acute, kanji}) {
		for (int m = 1; m <= 12; m++) {
			const std::string n = PartitionName(parent, {2024, m});
			EXPECT_LE(n.size(), kMaxIdentifierBytes);
			EXPECT_TRUE(ValidUtf8(n)) << n;
		}
	}
	EXPECT_EQ(Utf8Clip("\xC3\xA9\xC3\xA9", 3), 2u);
	EXPECT_EQ(Utf8Clip("\xE6\x97\xA5"
	                   "a",
	                   2),
	          0u);
	EXPECT_EQ(Utf8Clip("abc", 10), 3u);
}

TEST(Naming, CustomClipIsHonoured) {
	size_t seen_limit = 0;
	ClipFn clip = [&](std::string_view s, size_t limit) {
		seen_limit = limit;
		return std::min<size_t>(s.size(), limit > 5 ? limit - 5 : 0);
	};
	const std::string n = PartitionName(std::string(80, 'z'), {2024, 3}, clip);
	EXPECT_EQ(seen_limit, 63u - 8u - 9u);
	EXPECT_EQ(n.size(), 63u - 5u);
	ClipFn liar = [](std::string_view, size_t limit) { return limit + 1; };
	EXPECT_THROW(PartitionName(std::string(80, 'z'), {2024, 3}, liar), std::logic_error);
}

TEST(Naming, FitIdentifierAndTags) {
	EXPECT_EQ(FitIdentifier("orders", "_archive"), "orders_archive");
	const std::string fitted = FitIdentifier(std::string(70, 'o'), "_archive");
	EXPECT_LE(fitted.size(), 63u);
	EXPECT_EQ(fitted.substr(fitted.size() - 8), "_archive");
	EXPECT_THROW(FitIdentifier("x", std::string(60, 's')), std::invalid_argument);
	const std::string tag = NameTag("anything");
	EXPECT_EQ(tag.size(), 8u);
	for (char c : tag)
		EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << tag;
	EXPECT_NE(NameTag("a"), NameTag("b"));
}
