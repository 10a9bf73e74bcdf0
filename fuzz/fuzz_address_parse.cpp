#include <cctype>
#include <string>

#include "core/assert.h"
#include "crypto/address.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = tally::Address::parse(text);
  if (parsed.ok()) {
    std::string lowered = text;
    for (char& character : lowered)
      character = static_cast<char>(std::tolower(character));
    TALLY_ASSERT(parsed->to_string() == lowered);
  }
  return 0;
}
