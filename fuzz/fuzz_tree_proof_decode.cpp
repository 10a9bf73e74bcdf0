#include "core/assert.h"
#include "ledger/state_tree.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto decoded = tally::TreeProof::decode(tally::ByteSpan(data, size));
  if (decoded.ok()) {
    tally::Bytes encoded = decoded->encode();
    TALLY_ASSERT(encoded.size() == size && std::equal(encoded.begin(), encoded.end(), data));
    // Verifying an arbitrary proof must fail cleanly or succeed, never crash.
    (void)tally::verify_tree_proof(tally::Hash256{}, tally::Hash256{}, std::nullopt, *decoded);
  }
  return 0;
}
