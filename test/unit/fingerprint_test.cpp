/*
 * test/unit/fingerprint_test.cpp
 *
 * The row encoding and the order-independent combination behind
 * table_fingerprint() and archive manifests.
 */
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "upkeep/core/fingerprint.hpp"

using namespace upkeep::core;

namespace {
Hash128
Row(const std::vector<const char *> &cols) {
	RowEncoder e;
	e.Begin();
	for (size_t i = 0; i < cols.size(); i++) {
		if (cols[i] == nullptr)
			e.AddNull(static_cast<uint32_t>(i + 1));
		else
			e.AddValue(static_cast<uint32_t>(i + 1), RowEncoder::kBinary, cols[i],
			           std::char_traits<char>::length(cols[i]));
	}
	return e.Finish();
}

Fingerprint
Table(const std::vector<std::vector<const char *>> &rows) {
	Fingerprint f;
	for (const auto &r : rows)
		f.Add(Row(r));
	return f;
}
} // namespace

TEST(Fingerprint, AdditionModulo2To128) {
	Hash128 a{~0ULL, 0};
	a += Hash128{1, 0};
	EXPECT_EQ(a, (Hash128{0, 1})); /* carry into the high word */
	Hash128 b{~0ULL, ~0ULL};
	b += Hash128{1, 0};
	EXPECT_EQ(b, (Hash128{0, 0})); /* wraps */
}

TEST(Fingerprint, HexRoundTrip) {
	Hash128 h{0x0123456789abcdefULL, 0xfedcba9876543210ULL};
	EXPECT_EQ(h.Hex(), "fedcba98765432100123456789abcdef");
	EXPECT_EQ(Hash128::FromHex(h.Hex()), h);
	EXPECT_THROW(Hash128::FromHex("xyz"), std::invalid_argument);
	EXPECT_THROW(Hash128::FromHex(std::string(32, 'g')), std::invalid_argument);
	EXPECT_EQ(Fingerprint().Hex(), std::string(32, '0'));
}

TEST(Fingerprint, OrderIndependent) {
	std::vector<std::vector<const char *>> rows = {{"1", "a"}, {"2", "b"}, {"3", nullptr}, {"4", ""}};
	const Fingerprint f = Table(rows);
	std::mt19937 rng(7);
	for (int i = 0; i < 10; i++) {
		std::shuffle(rows.begin(), rows.end(), rng);
		EXPECT_EQ(Table(rows).Sum(), f.Sum());
	}
	EXPECT_EQ(f.Rows(), 4u);
}

TEST(Fingerprint, SensitiveToEverything) {
	const Hash128 base = Table({{"1", "a"}, {"2", "b"}}).Sum();
	EXPECT_NE(Table({{"1", "b"}, {"2", "a"}}).Sum(), base);             /* values swapped between rows */
	EXPECT_NE(Table({{"a", "1"}, {"b", "2"}}).Sum(), base);             /* values swapped between columns */
	EXPECT_NE(Table({{"1", "a"}}).Sum(), base);                         /* a row missing */
	EXPECT_NE(Table({{"1", "a"}, {"2", "b"}, {"2", "b"}}).Sum(), base); /* a row duplicated */
	EXPECT_NE(Row({nullptr}), Row({""}));                               /* NULL is not the empty value */
	EXPECT_NE(Row({"ab", "c"}), Row({"a", "bc"}));                      /* value boundaries are encoded */
	/* a row repeated twice does not cancel out (as XOR would) */
	EXPECT_NE(Table({{"x"}, {"x"}}).Sum(), Hash128{});
}

TEST(Fingerprint, MergeEqualsAddingAll) {
	Fingerprint a = Table({{"1"}, {"2"}});
	const Fingerprint b = Table({{"3"}});
	a.Merge(b);
	EXPECT_EQ(a.Sum(), Table({{"1"}, {"2"}, {"3"}}).Sum());
	EXPECT_EQ(a.Rows(), 3u);
}

TEST(Fingerprint, EncodingIsStable) {
	/* the encoding is part of the on-disk contract (stored fingerprints, manifests): pin it */
	RowEncoder e;
	e.Begin();
	e.AddNull(1);
	e.AddValue(2, RowEncoder::kText, "hi", 2);
	const std::string expected("\x01\x00\x00\x00\x00"
	                           "\x02\x00\x00\x00\x02\x02\x00\x00\x00hi",
	                           16);
	EXPECT_EQ(e.Bytes(), expected);
	EXPECT_EQ(e.Finish().Hex(), e.Finish().Hex());
}
