#include "core/assert.h"
#include "ledger/transaction.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  tally::ByteSpan input(data, size);
  auto decoded = tally::Transaction::decode(input);
  if (decoded.ok()) {
    tally::Bytes encoded = decoded->encode();
    TALLY_ASSERT(encoded.size() == size && std::equal(encoded.begin(), encoded.end(), data));
  }
  return 0;
}
