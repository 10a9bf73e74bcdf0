#include "crypto/bech32.h"

#include <array>
#include <cstdio>

#include "core/assert.h"

namespace tally {
namespace {

// BIP-173 section "Bech32".
constexpr std::string_view kCharset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
constexpr uint32_t kBech32Constant = 1;
constexpr uint32_t kBech32mConstant = 0x2bc830a3;  // BIP-350
constexpr size_t kMaxLength = 90;
constexpr size_t kChecksumLength = 6;

uint32_t checksum_constant(Bech32Variant variant) {
  return variant == Bech32Variant::bech32 ? kBech32Constant : kBech32mConstant;
}

// The BCH checksum: the remainder of the values as a polynomial over GF(32).
uint32_t polymod(const Bytes& values) {
  static constexpr std::array<uint32_t, 5> kGenerator = {0x3b6a57b2, 0x26508e6d, 0x1ea119fa,
                                                         0x3d4233dd, 0x2a1462b3};
  uint32_t checksum = 1;
  for (uint8_t value : values) {
    uint32_t top = checksum >> 25;
    checksum = ((checksum & 0x1ffffff) << 5) ^ value;
    for (size_t bit = 0; bit < kGenerator.size(); ++bit) {
      if ((top >> bit) & 1) {
        checksum ^= kGenerator[bit];
      }
    }
  }
  return checksum;
}

// The human-readable part as checksum input: high bits of each character, a zero, low bits.
Bytes expand_human_readable_part(std::string_view human_readable_part) {
  Bytes expanded;
  expanded.reserve(human_readable_part.size() * 2 + 1);
  for (char character : human_readable_part) {
    expanded.push_back(static_cast<uint8_t>(static_cast<uint8_t>(character) >> 5));
  }
  expanded.push_back(0);
  for (char character : human_readable_part) {
    expanded.push_back(static_cast<uint8_t>(static_cast<uint8_t>(character) & 31));
  }
  return expanded;
}

char to_lower(char character) {
  return (character >= 'A' && character <= 'Z') ? static_cast<char>(character - 'A' + 'a')
                                                : character;
}

int charset_index(char character) {
  size_t index = kCharset.find(character);
  return index == std::string_view::npos ? -1 : static_cast<int>(index);
}

// 'b' for printable characters, 0x20 for the rest (so messages never carry control bytes).
std::string describe_character(char character) {
  auto byte = static_cast<uint8_t>(character);
  if (byte >= 33 && byte <= 126) {
    return std::string("'") + character + "'";
  }
  char text[8];
  std::snprintf(text, sizeof(text), "0x%02x", static_cast<unsigned>(byte));
  return text;
}

Error bech32_error(std::string message) {
  return make_error("invalid_bech32", std::move(message));
}

}  // namespace

std::string bech32_encode(std::string_view human_readable_part, ByteSpan data,
                          Bech32Variant variant) {
  TALLY_ASSERT_MSG(!human_readable_part.empty(), "bech32: empty human-readable part");
  std::string text;
  text.reserve(human_readable_part.size() + 1 + data.size() + kChecksumLength);
  for (char character : human_readable_part) {
    auto byte = static_cast<uint8_t>(character);
    TALLY_ASSERT_MSG(byte >= 33 && byte <= 126, "bech32: human-readable part out of range");
    text.push_back(to_lower(character));
  }

  Bytes values = expand_human_readable_part(text);
  for (uint8_t value : data) {
    TALLY_ASSERT_MSG(value < 32, "bech32: data value is not a 5-bit group");
    values.push_back(value);
  }
  values.insert(values.end(), kChecksumLength, 0);
  uint32_t checksum = polymod(values) ^ checksum_constant(variant);

  text.push_back('1');
  for (uint8_t value : data) {
    text.push_back(kCharset[value]);
  }
  for (size_t index = 0; index < kChecksumLength; ++index) {
    text.push_back(kCharset[(checksum >> (5 * (kChecksumLength - 1 - index))) & 31]);
  }
  return text;
}

Result<Bech32Decoded> bech32_decode(std::string_view text) {
  if (text.size() > kMaxLength) {
    return bech32_error("too long: " + std::to_string(text.size()) +
                        " characters (the maximum is " + std::to_string(kMaxLength) + ")");
  }
  bool has_lower = false;
  bool has_upper = false;
  for (size_t position = 0; position < text.size(); ++position) {
    char character = text[position];
    auto byte = static_cast<uint8_t>(character);
    if (byte < 33 || byte > 126) {
      return bech32_error("invalid character " + describe_character(character) + " at position " +
                          std::to_string(position));
    }
    has_lower = has_lower || (character >= 'a' && character <= 'z');
    has_upper = has_upper || (character >= 'A' && character <= 'Z');
  }
  if (has_lower && has_upper) {
    return bech32_error("mixed case (use all lowercase or all uppercase)");
  }

  size_t separator = text.rfind('1');
  if (separator == std::string_view::npos) {
    return bech32_error("missing separator '1'");
  }
  if (separator == 0) {
    return bech32_error("empty human-readable part (nothing before the separator '1')");
  }
  size_t data_length = text.size() - separator - 1;
  if (data_length < kChecksumLength) {
    return bech32_error("data part too short: " + std::to_string(data_length) +
                        " characters after the separator (the checksum alone is " +
                        std::to_string(kChecksumLength) + ")");
  }

  Bech32Decoded decoded;
  decoded.human_readable_part.reserve(separator);
  for (size_t position = 0; position < separator; ++position) {
    decoded.human_readable_part.push_back(to_lower(text[position]));
  }
  Bytes values = expand_human_readable_part(decoded.human_readable_part);
  for (size_t position = separator + 1; position < text.size(); ++position) {
    int value = charset_index(to_lower(text[position]));
    if (value < 0) {
      return bech32_error("invalid character " + describe_character(text[position]) +
                          " at position " + std::to_string(position));
    }
    values.push_back(static_cast<uint8_t>(value));
  }

  uint32_t residue = polymod(values);
  if (residue == kBech32Constant) {
    decoded.variant = Bech32Variant::bech32;
  } else if (residue == kBech32mConstant) {
    decoded.variant = Bech32Variant::bech32m;
  } else {
    return bech32_error(std::string(kBech32ChecksumMismatch));
  }
  size_t hrp_values = decoded.human_readable_part.size() * 2 + 1;
  decoded.data.assign(values.begin() + static_cast<std::ptrdiff_t>(hrp_values),
                      values.end() - static_cast<std::ptrdiff_t>(kChecksumLength));
  return decoded;
}

Result<Bytes> convert_bits(ByteSpan input, int from_bits, int to_bits, bool pad) {
  TALLY_ASSERT_MSG(from_bits >= 1 && from_bits <= 8 && to_bits >= 1 && to_bits <= 8,
                   "convert_bits: group sizes must be 1 to 8 bits");
  const uint32_t max_value = (1u << to_bits) - 1;
  uint32_t accumulator = 0;
  int bits = 0;
  Bytes output;
  output.reserve(
      (input.size() * static_cast<size_t>(from_bits) + static_cast<size_t>(to_bits) - 1) /
      static_cast<size_t>(to_bits));
  for (size_t index = 0; index < input.size(); ++index) {
    uint8_t value = input[index];
    if ((value >> from_bits) != 0) {
      return bech32_error("value " + std::to_string(value) + " at index " + std::to_string(index) +
                          " does not fit in " + std::to_string(from_bits) + " bits");
    }
    accumulator = ((accumulator << from_bits) | value) & 0xffff;  // at most 15 bits are needed
    bits += from_bits;
    while (bits >= to_bits) {
      bits -= to_bits;
      output.push_back(static_cast<uint8_t>((accumulator >> bits) & max_value));
    }
  }
  if (pad) {
    if (bits > 0) {
      output.push_back(static_cast<uint8_t>((accumulator << (to_bits - bits)) & max_value));
    }
  } else if (bits >= from_bits) {
    return bech32_error("incomplete group: " + std::to_string(bits) + " bits left over");
  } else if (((accumulator << (to_bits - bits)) & max_value) != 0) {
    return bech32_error("non-zero padding");
  }
  return output;
}

}  // namespace tally
