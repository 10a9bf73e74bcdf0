#include <string>

#include "core/assert.h"
#include "ledger/genesis.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  auto genesis = tally::Genesis::from_json(text);
  if (genesis.ok()) {
    auto again = tally::Genesis::from_json(genesis->to_json());
    TALLY_ASSERT(again.ok() && *again == *genesis);
  }
  return 0;
}
