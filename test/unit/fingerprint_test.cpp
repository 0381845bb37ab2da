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

/* The aggregate's partial states combine exactly: any split of the rows, merged, is the whole. */
TEST(Fingerprint, PartialStatesCombineExactly) {
	std::vector<std::vector<const char *>> rows = {{"1", "a"}, {"2", "b"}, {"3", nullptr}, {"4", ""}, {"5", "e"}};
	const Fingerprint whole = Table(rows);
	for (size_t cut = 0; cut <= rows.size(); cut++) {
		Fingerprint left = Table({rows.begin(), rows.begin() + static_cast<long>(cut)});
		const Fingerprint right = Table({rows.begin() + static_cast<long>(cut), rows.end()});
		left.Merge(right);
		EXPECT_EQ(left.Sum(), whole.Sum());
		EXPECT_EQ(left.Rows(), whole.Rows());
	}
}

/* The state's bytes are little-endian words (lo, hi, rows) and round-trip, carries included. */
TEST(Fingerprint, StateBytesRoundTrip) {
	Fingerprint f;
	f.Add(Hash128{~0ULL, 0x0102030405060708ULL});
	f.Add(Hash128{1, 0});
	unsigned char buf[Fingerprint::kStateBytes];
	f.ToState(buf);
	EXPECT_EQ(buf[0], 0x00); /* lo wrapped to 0 */
	EXPECT_EQ(buf[8], 0x09); /* hi = 0x0102030405060708 + carry, least significant byte first */
	EXPECT_EQ(buf[15], 0x01);
	EXPECT_EQ(buf[16], 0x02); /* two rows */
	const Fingerprint back = Fingerprint::FromState(buf);
	EXPECT_EQ(back.Sum(), f.Sum());
	EXPECT_EQ(back.Rows(), 2u);
	EXPECT_EQ(back.Hex(), f.Hex());
}

/* Decimal form: exact, and a sum of decimal hashes (a numeric sum on Citus) maps back modulo 2^128. */
TEST(Fingerprint, DecimalSumsMapBackModulo2To128) {
	EXPECT_EQ((Hash128{0, 0}).Decimal(), "0");
	EXPECT_EQ((Hash128{~0ULL, ~0ULL}).Decimal(), "340282366920938463463374607431768211455");
	EXPECT_EQ((Hash128{0, 1}).Decimal(), "18446744073709551616");
	const Hash128 a{0x0123456789abcdefULL, 0xfedcba9876543210ULL}, b{~0ULL, ~0ULL}, c{5, 7};
	EXPECT_EQ(Hash128::FromDecimalModulo(a.Decimal()), a);
	/* a + b + c computed in decimal (as numeric sum would), then reduced */
	Hash128 sum = a;
	sum += b;
	sum += c;
	/* big decimal addition of the three */
	auto add = [](std::string x, std::string y) {
		std::string r;
		int carry = 0;
		for (int i = static_cast<int>(x.size()) - 1, j = static_cast<int>(y.size()) - 1; i >= 0 || j >= 0 || carry;
		     i--, j--) {
			int d = carry + (i >= 0 ? x[i] - '0' : 0) + (j >= 0 ? y[j] - '0' : 0);
			r.push_back(static_cast<char>('0' + d % 10));
			carry = d / 10;
		}
		return std::string(r.rbegin(), r.rend());
	};
	EXPECT_EQ(Hash128::FromDecimalModulo(add(add(a.Decimal(), b.Decimal()), c.Decimal())), sum);
	EXPECT_THROW(Hash128::FromDecimalModulo(""), std::invalid_argument);
	EXPECT_THROW(Hash128::FromDecimalModulo("-1"), std::invalid_argument);
	EXPECT_THROW(Hash128::FromDecimalModulo("1.5"), std::invalid_argument);
}
