// The API's submission body: whatever the bytes, the reader that builds no JSON document and the
// general JSON parser give the same result (the same transactions, or the same error).

#include <string_view>

#include "../tests/rpc/rpc_test_util.h"  // describe(), shared with the property test
#include "core/assert.h"
#include "rpc/submission.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMaxBatch = 4;
  constexpr size_t kMaxTransactionBytes = 1024;
  TALLY_ASSERT(
      tally::testing::describe(tally::parse_submission(body, kMaxBatch, kMaxTransactionBytes)) ==
      tally::testing::describe(
          tally::parse_submission_document(body, kMaxBatch, kMaxTransactionBytes)));
  return 0;
}
