#include "consensus/messages.h"
#include "core/assert.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = tally::decode_message(tally::ByteSpan(data, size), 64);
  if (decoded.ok()) {
    tally::Bytes encoded = tally::encode_message(*decoded);
    TALLY_ASSERT(encoded.size() == size && std::equal(encoded.begin(), encoded.end(), data));
  }
  return 0;
}
