// The API's submission body: whatever the bytes, the reader that builds no JSON document and the
// general JSON parser give the same result (the same transactions, or the same error).

#include <string_view>

#include "core/assert.h"
#include "rpc/submission.h"

namespace {

std::string describe(const tally::Result<tally::Submission>& result) {
  if (!result.ok())
    return "error " + result.error().code + ": " + result.error().message;
  std::string text = result->single ? "single" : "batch";
  for (const tally::Transaction& transaction : result->transactions)
    text += " " + transaction.hash().hex();
  return text;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  constexpr size_t kMaxBatch = 4;
  constexpr size_t kMaxTransactionBytes = 1024;
  TALLY_ASSERT(describe(tally::parse_submission(body, kMaxBatch, kMaxTransactionBytes)) ==
               describe(tally::parse_submission_document(body, kMaxBatch, kMaxTransactionBytes)));
  return 0;
}
