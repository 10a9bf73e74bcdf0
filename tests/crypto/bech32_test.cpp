#include "crypto/bech32.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

namespace tally {
namespace {

std::string lowercase(std::string text) {
  for (char& character : text) {
    if (character >= 'A' && character <= 'Z') {
      character = static_cast<char>(character - 'A' + 'a');
    }
  }
  return text;
}

// BIP-350 test vectors: valid bech32m strings.
const std::vector<std::string> kValidBech32m = {
    "A1LQFN3A",
    "a1lqfn3a",
    "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "11" + std::string(82, 'l') + "ludsr8",
    "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
    "?1v759aa",
};

// BIP-173 test vectors: valid bech32 strings.
const std::vector<std::string> kValidBech32 = {
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11" + std::string(82, 'q') + "c8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
};

// BIP-350 invalid bech32m strings, with the reason the BIP gives.
const std::vector<std::string> kInvalidBech32m = {
    std::string("\x20") + "1xj0phk",  // HRP character out of range
    std::string("\x7f") + "1g6xzxy",  // HRP character out of range
    std::string("\x80") + "1vctc34",  // HRP character out of range
    // overall max length exceeded
    "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11d6pts4",
    "qyrz8wqd2c9m",   // no separator character
    "1qyrz8wqd2c9m",  // empty HRP
    "y1b0jsk6g",      // invalid data character
    "lt1igcx5c0",     // invalid data character
    "in1muywd",       // too short checksum
    "mm1crxm3i",      // invalid character in checksum
    "au1s5cgom",      // invalid character in checksum
    "M1VUXWEZ",       // checksum calculated with uppercase form of HRP
    "16plkw9",        // empty HRP
    "1p2gdwpf",       // empty HRP
};

// BIP-173 invalid bech32 strings.
const std::vector<std::string> kInvalidBech32 = {
    std::string("\x20") + "1nwldj5",
    std::string("\x7f") + "1axkwrx",
    std::string("\x80") + "1eym55h",
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
    "pzry9x0s0muk",
    "1pzry9x0s0muk",
    "x1b4n0q5v",
    "li1dgmt3",
    std::string("de1lg7wt") + "\xff",
    "A1G7SGD8",
    "10a06t8",
    "1qzzfhee",
};

TEST(Bech32Test, Bip350ValidStringsDecodeAsBech32m) {
  for (const std::string& text : kValidBech32m) {
    SCOPED_TRACE(text);
    Result<Bech32Decoded> decoded = bech32_decode(text);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->variant, Bech32Variant::bech32m);
    EXPECT_EQ(bech32_encode(decoded->human_readable_part, decoded->data, Bech32Variant::bech32m),
              lowercase(text));
  }
}

TEST(Bech32Test, Bip173ValidStringsDecodeAsBech32) {
  for (const std::string& text : kValidBech32) {
    SCOPED_TRACE(text);
    Result<Bech32Decoded> decoded = bech32_decode(text);
    ASSERT_TRUE(decoded.ok()) << decoded.error().message;
    EXPECT_EQ(decoded->variant, Bech32Variant::bech32);
    EXPECT_EQ(bech32_encode(decoded->human_readable_part, decoded->data, Bech32Variant::bech32),
              lowercase(text));
  }
}

TEST(Bech32Test, InvalidStringsAreRejected) {
  for (const auto* list : {&kInvalidBech32m, &kInvalidBech32}) {
    for (const std::string& text : *list) {
      SCOPED_TRACE(text);
      Result<Bech32Decoded> decoded = bech32_decode(text);
      ASSERT_FALSE(decoded.ok());
      EXPECT_EQ(decoded.error().code, "invalid_bech32");
      EXPECT_FALSE(decoded.error().message.empty());
    }
  }
}

TEST(Bech32Test, DecodedValuesOfTheCharsetVectors) {
  Result<Bech32Decoded> forward = bech32_decode("abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw");
  ASSERT_TRUE(forward.ok());
  EXPECT_EQ(forward->human_readable_part, "abcdef");
  ASSERT_EQ(forward->data.size(), 32u);
  for (size_t index = 0; index < 32; ++index) {
    EXPECT_EQ(forward->data[index], index);
  }
  Result<Bech32Decoded> backward = bech32_decode("abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx");
  ASSERT_TRUE(backward.ok());
  ASSERT_EQ(backward->data.size(), 32u);
  for (size_t index = 0; index < 32; ++index) {
    EXPECT_EQ(backward->data[index], 31 - index);
  }
  Result<Bech32Decoded> upper = bech32_decode("A1LQFN3A");
  ASSERT_TRUE(upper.ok());
  EXPECT_EQ(upper->human_readable_part, "a");
  EXPECT_TRUE(upper->data.empty());
}

TEST(Bech32Test, EncodeKnownStrings) {
  EXPECT_EQ(bech32_encode("a", {}, Bech32Variant::bech32), "a12uel5l");
  EXPECT_EQ(bech32_encode("A", {}, Bech32Variant::bech32m), "a1lqfn3a");
  EXPECT_EQ(bech32_encode("?", {}, Bech32Variant::bech32m), "?1v759aa");
}

TEST(Bech32Test, ErrorMessagesSayWhatIsWrong) {
  auto message_of = [](std::string_view text) {
    Result<Bech32Decoded> decoded = bech32_decode(text);
    EXPECT_FALSE(decoded.ok()) << text;
    return decoded.ok() ? std::string() : decoded.error().message;
  };
  EXPECT_EQ(message_of("y1b0jsk6g"), "invalid character 'b' at position 2");
  EXPECT_EQ(message_of(std::string("\x20") + "1xj0phk"), "invalid character 0x20 at position 0");
  EXPECT_EQ(message_of("a12uEL5L").substr(0, 10), "mixed case");
  EXPECT_EQ(message_of("M1VUXWEZ"), kBech32ChecksumMismatch);
  EXPECT_EQ(message_of("a12uel5m"), kBech32ChecksumMismatch);
  EXPECT_EQ(message_of("qyrz8wqd2c9m"), "missing separator '1'");
  EXPECT_NE(message_of("1qyrz8wqd2c9m").find("empty human-readable part"), std::string::npos);
  EXPECT_NE(message_of("in1muywd").find("too short"), std::string::npos);
  EXPECT_NE(message_of(std::string(91, 'a')).find("too long"), std::string::npos);
}

TEST(Bech32Test, MaximumLengthIsNinety) {
  std::string hrp(83, 'a');  // 83 + separator + 6 checksum characters = 90
  std::string text = bech32_encode(hrp, {}, Bech32Variant::bech32m);
  ASSERT_EQ(text.size(), 90u);
  EXPECT_TRUE(bech32_decode(text).ok());
  std::string longer = bech32_encode(hrp + "a", {}, Bech32Variant::bech32m);
  EXPECT_FALSE(bech32_decode(longer).ok());
}

TEST(Bech32Test, ConvertBitsKnownValues) {
  Result<Bytes> groups = convert_bits(Bytes{0xff}, 8, 5, true);
  ASSERT_TRUE(groups.ok());
  EXPECT_EQ(*groups, (Bytes{31, 28}));
  Result<Bytes> back = convert_bits(*groups, 5, 8, false);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, (Bytes{0xff}));
  Result<Bytes> empty = convert_bits(Bytes{}, 8, 5, true);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(Bech32Test, ConvertBitsPaddingErrors) {
  // 10 bits: one byte and two padding bits, which must be zero.
  Result<Bytes> zero_padding = convert_bits(Bytes{0, 4}, 5, 8, false);
  ASSERT_TRUE(zero_padding.ok());
  EXPECT_EQ(*zero_padding, (Bytes{1}));
  Result<Bytes> non_zero_padding = convert_bits(Bytes{0, 1}, 5, 8, false);
  ASSERT_FALSE(non_zero_padding.ok());
  EXPECT_EQ(non_zero_padding.error().code, "invalid_bech32");
  EXPECT_NE(non_zero_padding.error().message.find("padding"), std::string::npos);
  // 5 bits are not even one byte: an incomplete group.
  Result<Bytes> incomplete = convert_bits(Bytes{0}, 5, 8, false);
  ASSERT_FALSE(incomplete.ok());
  EXPECT_NE(incomplete.error().message.find("incomplete"), std::string::npos);
  // 15 bits: one byte and 7 left over, which is a whole 5-bit group too many.
  EXPECT_FALSE(convert_bits(Bytes{0, 0, 0}, 5, 8, false).ok());
  // Values must fit in the source group size.
  Result<Bytes> too_wide = convert_bits(Bytes{32}, 5, 8, true);
  ASSERT_FALSE(too_wide.ok());
  EXPECT_EQ(too_wide.error().code, "invalid_bech32");
}

RC_GTEST_PROP(Bech32Property, ConvertBitsRoundTrip, (const std::vector<uint8_t>& bytes)) {
  Result<Bytes> groups = convert_bits(bytes, 8, 5, true);
  RC_ASSERT(groups.ok());
  RC_ASSERT(groups->size() == (bytes.size() * 8 + 4) / 5);
  for (uint8_t group : *groups) {
    RC_ASSERT(group < 32);
  }
  Result<Bytes> back = convert_bits(*groups, 5, 8, false);
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == bytes);
}

RC_GTEST_PROP(Bech32Property, EncodeDecodeRoundTrip, ()) {
  const std::string hrp = *rc::gen::suchThat(
      rc::gen::container<std::string>(rc::gen::inRange<char>(33, 127)),
      [](const std::string& text) { return !text.empty() && text.size() <= 20; });
  const size_t max_data = 90 - hrp.size() - 1 - 6;
  const auto data = *rc::gen::resize(static_cast<int>(max_data),
                                     rc::gen::container<Bytes>(rc::gen::inRange<uint8_t>(0, 32)));
  RC_PRE(data.size() <= max_data);
  const bool use_bech32m = *rc::gen::arbitrary<bool>();
  const Bech32Variant variant = use_bech32m ? Bech32Variant::bech32m : Bech32Variant::bech32;

  std::string text = bech32_encode(hrp, data, variant);
  RC_ASSERT(text == lowercase(text));
  Result<Bech32Decoded> decoded = bech32_decode(text);
  RC_ASSERT(decoded.ok());
  RC_ASSERT(decoded->human_readable_part == lowercase(hrp));
  RC_ASSERT(decoded->data == data);
  RC_ASSERT(decoded->variant == variant);

  // The all-uppercase form decodes to the same thing.
  std::string upper = text;
  for (char& character : upper) {
    if (character >= 'a' && character <= 'z') {
      character = static_cast<char>(character - 'a' + 'A');
    }
  }
  Result<Bech32Decoded> decoded_upper = bech32_decode(upper);
  RC_ASSERT(decoded_upper.ok());
  RC_ASSERT(decoded_upper->data == data);
}

RC_GTEST_PROP(Bech32Property, ArbitraryStringsNeverCrashAndDecodeCanonically,
              (const std::string& text)) {
  Result<Bech32Decoded> decoded = bech32_decode(text);
  if (decoded.ok()) {
    RC_ASSERT(bech32_encode(decoded->human_readable_part, decoded->data, decoded->variant) ==
              lowercase(text));
  } else {
    RC_ASSERT(decoded.error().code == "invalid_bech32");
  }
}

}  // namespace
}  // namespace tally
