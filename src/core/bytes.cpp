#include "core/bytes.h"

#include <array>

namespace tally {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

// -1 for a character that is not a hex digit. A table: clients send transactions as hex, and
// decoding them is on the API's path for every transaction.
constexpr std::array<int8_t, 256> kHexValues = [] {
  std::array<int8_t, 256> values{};
  values.fill(-1);
  for (int digit = 0; digit < 10; ++digit)
    values['0' + digit] = static_cast<int8_t>(digit);
  for (int digit = 0; digit < 6; ++digit) {
    values['a' + digit] = static_cast<int8_t>(10 + digit);
    values['A' + digit] = static_cast<int8_t>(10 + digit);
  }
  return values;
}();

int hex_value(char character) {
  return kHexValues[static_cast<uint8_t>(character)];
}

}  // namespace

void append_hex(std::string& out, ByteSpan bytes) {
  const size_t start = out.size();
  out.resize(start + bytes.size() * 2);
  char* text = out.data() + start;
  for (size_t index = 0; index < bytes.size(); ++index) {
    text[2 * index] = kHexDigits[bytes[index] >> 4];
    text[2 * index + 1] = kHexDigits[bytes[index] & 0x0f];
  }
}

std::string to_hex(ByteSpan bytes) {
  std::string text;
  append_hex(text, bytes);
  return text;
}

Status from_hex_into(std::string_view text, std::span<uint8_t> out) {
  if (text.size() != out.size() * 2) {
    return make_error("invalid_hex", "expected " + std::to_string(out.size() * 2) +
                                         " hex characters, got " + std::to_string(text.size()));
  }
  for (size_t index = 0; index < out.size(); ++index) {
    int high = hex_value(text[2 * index]);
    int low = hex_value(text[2 * index + 1]);
    if (high < 0 || low < 0) {
      return make_error("invalid_hex", "non-hex character at position " +
                                           std::to_string(high < 0 ? 2 * index : 2 * index + 1));
    }
    out[index] = static_cast<uint8_t>((high << 4) | low);
  }
  return Status::success();
}

Result<Bytes> from_hex(std::string_view text) {
  if (text.size() % 2 != 0) {
    return make_error("invalid_hex", "hex text has an odd number of characters");
  }
  Bytes bytes(text.size() / 2);
  Status status = from_hex_into(text, bytes);
  if (!status.ok())
    return status.error();
  return bytes;
}

}  // namespace tally
