#include "core/bytes.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

namespace tally {
namespace {

TEST(Hex, EncodesLowercase) {
  Bytes bytes{0x00, 0x01, 0xab, 0xff};
  EXPECT_EQ(to_hex(bytes), "0001abff");
  EXPECT_EQ(to_hex(Bytes{}), "");
}

TEST(Hex, DecodesEitherCase) {
  EXPECT_EQ(from_hex("0001ABff").value(), (Bytes{0x00, 0x01, 0xab, 0xff}));
  EXPECT_TRUE(from_hex("")->empty());
}

TEST(Hex, RejectsOddLengthAndNonHex) {
  EXPECT_EQ(from_hex("abc").error().code, "invalid_hex");
  EXPECT_EQ(from_hex("zz").error().code, "invalid_hex");
  EXPECT_NE(from_hex("0g").error().message.find("position 1"), std::string::npos);
}

TEST(FixedBytes, ParsesExactSizeOnly) {
  auto parsed = FixedBytes<4>::from_hex("deadbeef");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->hex(), "deadbeef");
  EXPECT_FALSE(FixedBytes<4>::from_hex("deadbe").ok());
  EXPECT_FALSE(FixedBytes<4>::from_hex("deadbeef00").ok());
  EXPECT_TRUE(FixedBytes<4>().is_zero());
  EXPECT_FALSE(parsed->is_zero());
}

TEST(FixedBytes, OrdersLexicographically) {
  auto low = FixedBytes<2>::from_hex("00ff").value();
  auto high = FixedBytes<2>::from_hex("0100").value();
  EXPECT_LT(low, high);
}

RC_GTEST_PROP(HexProperty, RoundTrips, (std::vector<uint8_t> bytes)) {
  RC_ASSERT(from_hex(to_hex(bytes)).value() == bytes);
}

}  // namespace
}  // namespace tally
