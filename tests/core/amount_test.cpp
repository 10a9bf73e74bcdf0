#include "core/amount.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <limits>

namespace tally {
namespace {

uint64_t units_of(std::string_view text) {
  Result<Amount> parsed = parse_amount(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << (parsed.ok() ? "" : parsed.error().message);
  return parsed.ok() ? parsed->units : 0;
}

std::string error_of(std::string_view text) {
  Result<Amount> parsed = parse_amount(text);
  EXPECT_FALSE(parsed.ok()) << text << " should be rejected";
  if (parsed.ok())
    return "";
  EXPECT_EQ(parsed.error().code, "invalid_amount");
  return parsed.error().message;
}

TEST(Amount, ParsesExactDecimals) {
  EXPECT_EQ(units_of("12.5"), 12'500'000'000u);
  EXPECT_EQ(units_of("0.000000001"), 1u);
  EXPECT_EQ(units_of("1"), 1'000'000'000u);
  EXPECT_EQ(units_of("0"), 0u);
  EXPECT_EQ(units_of("0.0"), 0u);
  EXPECT_EQ(units_of("007.10"), 7'100'000'000u);
  EXPECT_EQ(units_of("1000000000"), 1'000'000'000'000'000'000u);  // the default supply
  EXPECT_EQ(units_of("18446744073.709551615"), std::numeric_limits<uint64_t>::max());
}

TEST(Amount, RejectsBadTextWithReason) {
  EXPECT_NE(error_of("").find("empty"), std::string::npos);
  EXPECT_NE(error_of("-1").find("negative"), std::string::npos);
  EXPECT_NE(error_of("1.0000000001").find("9 decimal"), std::string::npos);
  EXPECT_NE(error_of("18446744073.709551616").find("too large"), std::string::npos);
  EXPECT_NE(error_of("99999999999999999999").find("too large"), std::string::npos);
  EXPECT_NE(error_of("1e9").find("unexpected character"), std::string::npos);
  EXPECT_NE(error_of("+1").find("unexpected character"), std::string::npos);
  EXPECT_NE(error_of(" 1").find("unexpected character"), std::string::npos);
  EXPECT_NE(error_of("1 ").find("unexpected character"), std::string::npos);
  EXPECT_NE(error_of("1.2.3").find("unexpected character"), std::string::npos);
  EXPECT_NE(error_of(".5").find("before the decimal point"), std::string::npos);
  EXPECT_NE(error_of("5.").find("after the decimal point"), std::string::npos);
  EXPECT_NE(error_of("abc").find("unexpected character"), std::string::npos);
}

TEST(Amount, FormatsShortestExactDecimal) {
  EXPECT_EQ(format_amount(Amount{12'500'000'000u}), "12.5");
  EXPECT_EQ(format_amount(Amount{1}), "0.000000001");
  EXPECT_EQ(format_amount(Amount{0}), "0");
  EXPECT_EQ(format_amount(Amount{1'000'000'000u}), "1");
  EXPECT_EQ(format_amount(Amount{std::numeric_limits<uint64_t>::max()}), "18446744073.709551615");
  EXPECT_EQ(format_units(Amount{12'500'000'000u}), "12500000000");
}

TEST(Amount, ParsesBaseUnits) {
  EXPECT_EQ(parse_units("18446744073709551615")->units, std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(parse_units("0")->units, 0u);
  EXPECT_EQ(parse_units("18446744073709551616").error().code, "invalid_amount");
  EXPECT_FALSE(parse_units("1.5").ok());
  EXPECT_FALSE(parse_units("").ok());
  EXPECT_FALSE(parse_units("-3").ok());
}

TEST(Amount, CheckedArithmeticDetectsOverflowAndUnderflow) {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  EXPECT_EQ(checked_add(Amount{kMax - 1}, Amount{1})->units, kMax);
  EXPECT_FALSE(checked_add(Amount{kMax}, Amount{1}).has_value());
  EXPECT_EQ(checked_sub(Amount{5}, Amount{5})->units, 0u);
  EXPECT_FALSE(checked_sub(Amount{4}, Amount{5}).has_value());
}

RC_GTEST_PROP(AmountProperty, FormatThenParseIsIdentity, (uint64_t units)) {
  Amount amount{units};
  RC_ASSERT(parse_amount(format_amount(amount))->units == units);
  RC_ASSERT(parse_units(format_units(amount))->units == units);
}

RC_GTEST_PROP(AmountProperty, CheckedAddMatchesWideArithmetic, (uint64_t left, uint64_t right)) {
  unsigned __int128 wide = static_cast<unsigned __int128>(left) + right;
  std::optional<Amount> sum = checked_add(Amount{left}, Amount{right});
  RC_ASSERT(sum.has_value() == (wide <= std::numeric_limits<uint64_t>::max()));
  if (sum)
    RC_ASSERT(sum->units == static_cast<uint64_t>(wide));
}

RC_GTEST_PROP(AmountProperty, ArbitraryTextNeverCrashesAndParsesOnlyCanonicalForms,
              (std::string text)) {
  Result<Amount> parsed = parse_amount(text);
  if (parsed.ok()) {
    // Whatever was accepted must denote the value we print (modulo leading/trailing zeros).
    RC_ASSERT(parse_amount(format_amount(*parsed))->units == parsed->units);
    for (char character : text)
      RC_ASSERT((character >= '0' && character <= '9') || character == '.');
  }
}

}  // namespace
}  // namespace tally
