#include "core/bytes.h"

#include <algorithm>

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

// Two values that agree on a random number of leading bytes, so that every word and every
// byte position decides some comparisons.
template <size_t N>
std::pair<FixedBytes<N>, FixedBytes<N>> values_sharing_a_prefix() {
  const auto shared = *rc::gen::inRange<size_t>(0, N + 1);
  const auto first = *rc::gen::container<std::vector<uint8_t>>(N, rc::gen::arbitrary<uint8_t>());
  auto second = *rc::gen::container<std::vector<uint8_t>>(N, rc::gen::arbitrary<uint8_t>());
  std::copy(first.begin(), first.begin() + static_cast<std::ptrdiff_t>(shared), second.begin());
  return {FixedBytes<N>::from_span(first), FixedBytes<N>::from_span(second)};
}

template <size_t N>
void check_comparisons_match_the_bytes() {
  const auto [left, right] = values_sharing_a_prefix<N>();
  const bool equal = std::equal(left.data.begin(), left.data.end(), right.data.begin());
  const bool less = std::lexicographical_compare(left.data.begin(), left.data.end(),
                                                 right.data.begin(), right.data.end());
  const bool greater = std::lexicographical_compare(right.data.begin(), right.data.end(),
                                                    left.data.begin(), left.data.end());
  RC_ASSERT((left == right) == equal);
  RC_ASSERT((left != right) == !equal);
  RC_ASSERT((left < right) == less);
  RC_ASSERT((left > right) == greater);
  RC_ASSERT(((left <=> right) == 0) == equal);
}

RC_GTEST_PROP(FixedBytesProperty, ComparisonsAreLexicographicOverTheBytes, ()) {
  check_comparisons_match_the_bytes<32>();
  check_comparisons_match_the_bytes<64>();
  check_comparisons_match_the_bytes<4>();  // not a whole number of words
}

RC_GTEST_PROP(HexProperty, RoundTrips, (std::vector<uint8_t> bytes)) {
  RC_ASSERT(from_hex(to_hex(bytes)).value() == bytes);
}

}  // namespace
}  // namespace tally
