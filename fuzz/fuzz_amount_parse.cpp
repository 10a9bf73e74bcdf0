#include <string>

#include "core/amount.h"
#include "core/assert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto parsed = tally::parse_amount(text);
  if (parsed.ok()) {
    TALLY_ASSERT(tally::parse_amount(tally::format_amount(*parsed))->units == parsed->units);
  }
  auto units = tally::parse_units(text);
  if (units.ok())
    TALLY_ASSERT(tally::parse_units(tally::format_units(*units))->units == units->units);
  return 0;
}
