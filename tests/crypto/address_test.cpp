#include "crypto/address.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <unordered_set>
#include <vector>

#include "crypto/bech32.h"

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

std::string uppercase(std::string text) {
  for (char& character : text) {
    if (character >= 'a' && character <= 'z') {
      character = static_cast<char>(character - 'a' + 'A');
    }
  }
  return text;
}

Address address_of(uint8_t fill) {
  PublicKey key;
  for (size_t index = 0; index < key.data.size(); ++index) {
    key.data[index] = static_cast<uint8_t>(fill + index * 7);
  }
  return Address{key};
}

std::string error_message(std::string_view text) {
  Result<Address> parsed = Address::parse(text);
  EXPECT_FALSE(parsed.ok()) << text;
  if (parsed.ok()) {
    return "";
  }
  EXPECT_EQ(parsed.error().code, "invalid_address") << text;
  return parsed.error().message;
}

// The key as 5-bit groups, for building almost-valid addresses.
Bytes key_groups(const PublicKey& key) {
  Result<Bytes> groups = convert_bits(key.span(), 8, 5, true);
  EXPECT_TRUE(groups.ok());
  return *groups;
}

TEST(AddressTest, TextFormHasPrefixAndLength) {
  std::string text = address_of(1).to_string();
  EXPECT_EQ(text.substr(0, 6), "tally1");
  EXPECT_EQ(text.size(), 64u);
  EXPECT_EQ(text, lowercase(text));
  Result<Address> parsed = Address::parse(text);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(*parsed, address_of(1));
}

TEST(AddressTest, KnownKeyHasStableText) {
  // The all-zero key: 52 'q's (value 0) and the bech32m checksum.
  Address zero{PublicKey()};
  std::string text = zero.to_string();
  EXPECT_EQ(text.substr(0, 58), "tally1" + std::string(52, 'q'));
  Result<Bech32Decoded> decoded = bech32_decode(text);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->variant, Bech32Variant::bech32m);
  EXPECT_EQ(decoded->human_readable_part, "tally");
}

TEST(AddressTest, EverySingleCharacterSubstitutionIsRejected) {
  const std::string text = address_of(9).to_string();
  size_t tried = 0;
  for (size_t position = 0; position < text.size(); ++position) {
    for (int value = 0; value < 256; ++value) {
      char character = static_cast<char>(value);
      if (character == text[position]) {
        continue;
      }
      std::string altered = text;
      altered[position] = character;
      Result<Address> parsed = Address::parse(altered);
      // Upper-casing a single character makes it mixed case: rejected too.
      ASSERT_FALSE(parsed.ok()) << "position " << position << " value " << value;
      ASSERT_EQ(parsed.error().code, "invalid_address");
      ++tried;
    }
  }
  EXPECT_EQ(tried, 64u * 255u);
}

TEST(AddressTest, TypoInDataReportsChecksumMismatch) {
  std::string text = address_of(3).to_string();
  text[20] = text[20] == 'q' ? 'p' : 'q';
  EXPECT_EQ(error_message(text), "checksum mismatch: the address has a typo");
}

TEST(AddressTest, WrongPrefixIsNamed) {
  PublicKey key = address_of(4).key;
  std::string other = bech32_encode("cosmos", key_groups(key), Bech32Variant::bech32m);
  std::string message = error_message(other);
  EXPECT_NE(message.find("wrong prefix"), std::string::npos) << message;
  EXPECT_NE(message.find("'tally1'"), std::string::npos) << message;
  EXPECT_NE(message.find("'cosmos1'"), std::string::npos) << message;
}

TEST(AddressTest, Bech32VariantIsRejected) {
  PublicKey key = address_of(5).key;
  std::string text = bech32_encode("tally", key_groups(key), Bech32Variant::bech32);
  std::string message = error_message(text);
  EXPECT_NE(message.find("bech32m"), std::string::npos) << message;
}

TEST(AddressTest, WrongDataLengthIsRejected) {
  Bytes groups = key_groups(address_of(6).key);
  Bytes shorter(groups.begin(), groups.end() - 1);
  Bytes longer = groups;
  longer.push_back(0);
  for (const Bytes& data : {shorter, longer, Bytes{}, Bytes(40, 0)}) {
    std::string message = error_message(bech32_encode("tally", data, Bech32Variant::bech32m));
    EXPECT_NE(message.find("wrong length"), std::string::npos) << message;
  }
}

TEST(AddressTest, NonZeroPaddingIsRejected) {
  Bytes groups = key_groups(address_of(7).key);
  ASSERT_EQ(groups.size(), 52u);
  groups.back() |= 1;  // the last group carries 1 key bit and 4 padding bits
  std::string message = error_message(bech32_encode("tally", groups, Bech32Variant::bech32m));
  EXPECT_NE(message.find("padding"), std::string::npos) << message;
}

TEST(AddressTest, UppercaseIsAcceptedMixedCaseIsNot) {
  std::string text = address_of(8).to_string();
  Result<Address> upper = Address::parse(uppercase(text));
  ASSERT_TRUE(upper.ok()) << upper.error().message;
  EXPECT_EQ(*upper, address_of(8));
  EXPECT_EQ(upper->to_string(), text);

  std::string mixed = text;
  mixed[0] = 'T';
  EXPECT_NE(error_message(mixed).find("mixed case"), std::string::npos);
}

TEST(AddressTest, MalformedInputsAreRejected) {
  for (std::string_view text :
       {std::string_view(""), std::string_view("tally1"), std::string_view("tally"),
        std::string_view("1"), std::string_view("tally1qqqqqq"),
        std::string_view(" tally1qqqqqq")}) {
    EXPECT_FALSE(Address::parse(text).ok()) << text;
  }
  std::string valid = address_of(10).to_string();
  EXPECT_FALSE(Address::parse(valid + " ").ok());
  EXPECT_FALSE(Address::parse(" " + valid).ok());
  EXPECT_FALSE(Address::parse(valid + "q").ok());
  EXPECT_FALSE(Address::parse(valid.substr(0, valid.size() - 1)).ok());
}

TEST(AddressTest, HashersAgreeWithEquality) {
  std::unordered_set<Address, AddressHasher> set;
  set.insert(address_of(1));
  set.insert(address_of(1));
  set.insert(address_of(2));
  EXPECT_EQ(set.size(), 2u);
}

RC_GTEST_PROP(AddressProperty, RoundTrip, ()) {
  const auto bytes = *rc::gen::container<std::vector<uint8_t>>(32, rc::gen::arbitrary<uint8_t>());
  Address address{PublicKey::from_span(bytes)};
  std::string text = address.to_string();
  RC_ASSERT(text.size() == 64u);
  RC_ASSERT(text.rfind("tally1", 0) == 0);
  Result<Address> parsed = Address::parse(text);
  RC_ASSERT(parsed.ok());
  RC_ASSERT(*parsed == address);
  Result<Address> parsed_upper = Address::parse(uppercase(text));
  RC_ASSERT(parsed_upper.ok());
  RC_ASSERT(*parsed_upper == address);
}

RC_GTEST_PROP(AddressProperty, ArbitraryStringsParseOnlyWhenCanonical, (const std::string& text)) {
  Result<Address> parsed = Address::parse(text);
  if (parsed.ok()) {
    RC_ASSERT(parsed->to_string() == lowercase(text));
  } else {
    RC_ASSERT(parsed.error().code == "invalid_address");
  }
}

// Strings close to valid addresses: a valid one with random edits (substitutions from the
// charset and elsewhere, deletions, insertions, case changes).
RC_GTEST_PROP(AddressProperty, EditedAddressesParseOnlyWhenCanonical, ()) {
  const auto bytes = *rc::gen::container<std::vector<uint8_t>>(32, rc::gen::arbitrary<uint8_t>());
  std::string text = Address{PublicKey::from_span(bytes)}.to_string();
  if (*rc::gen::arbitrary<bool>()) {
    text = uppercase(text);
  }
  const int edits = *rc::gen::inRange(0, 4);
  for (int edit = 0; edit < edits; ++edit) {
    const size_t position = *rc::gen::inRange<size_t>(0, text.size());
    const int kind = *rc::gen::inRange(0, 3);
    const char character = *rc::gen::oneOf(
        rc::gen::element('q', 'p', 'z', 'r', 'y', '9', 'x', '8', 'l', '1', 'Q', 'L'),
        rc::gen::arbitrary<char>());
    if (kind == 0) {
      text[position] = character;
    } else if (kind == 1) {
      text.erase(position, 1);
    } else {
      text.insert(position, 1, character);
    }
    if (text.empty()) {
      break;
    }
  }
  Result<Address> parsed = Address::parse(text);
  if (parsed.ok()) {
    RC_ASSERT(parsed->to_string() == lowercase(text));
  }
}

}  // namespace
}  // namespace tally
