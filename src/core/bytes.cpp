#include "core/bytes.h"

namespace tally {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int hex_value(char character) {
  if (character >= '0' && character <= '9')
    return character - '0';
  if (character >= 'a' && character <= 'f')
    return character - 'a' + 10;
  if (character >= 'A' && character <= 'F')
    return character - 'A' + 10;
  return -1;
}

}  // namespace

std::string to_hex(ByteSpan bytes) {
  std::string text(bytes.size() * 2, '0');
  for (size_t index = 0; index < bytes.size(); ++index) {
    text[2 * index] = kHexDigits[bytes[index] >> 4];
    text[2 * index + 1] = kHexDigits[bytes[index] & 0x0f];
  }
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
