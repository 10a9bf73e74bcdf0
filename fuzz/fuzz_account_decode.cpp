#include "core/assert.h"
#include "ledger/account.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = tally::decode_account(tally::ByteSpan(data, size));
  if (decoded.ok()) {
    tally::Bytes encoded = tally::encode_account(*decoded);
    TALLY_ASSERT(encoded.size() == size && std::equal(encoded.begin(), encoded.end(), data));
  }
  return 0;
}
