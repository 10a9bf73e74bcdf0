// Random damage to submission bodies: the reader that builds no JSON document and the general
// parser always give the same result, success or the same error.

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "rpc_test_util.h"

namespace tally {
namespace {

using testing::batch_body;
using testing::describe;
using testing::quoted_hex;
using testing::some_transactions;

constexpr size_t kMaxBatch = 4;

// Characters that matter to JSON or to hex, so damage often yields another valid body.
const std::string kInteresting = "{}[],:\" \n\\u0aAfFgx1";

// Uniform over the whole range at every size (rapidcheck scales most generators with the test's
// size, which would keep early cases near the start of the body and the batch small).
template <typename T>
T uniform(T low, T high) {
  return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange<T>(low, high));
}

RC_GTEST_PROP(SubmissionPropertyTest, ReaderAndGeneralParserAgree, ()) {
  static const std::vector<Transaction> transactions = some_transactions(kMaxBatch + 1);
  const size_t count = uniform<size_t>(1, kMaxBatch + 2);
  const std::vector<Transaction> sent(transactions.begin(),
                                      transactions.begin() + static_cast<std::ptrdiff_t>(count));
  const std::string original = uniform(0, 2) == 0
                                   ? batch_body(sent, *rc::gen::element<std::string>("", " ", "\n"))
                                   : "{\"tx\":" + quoted_hex(sent[0]) + "}";
  const size_t max_transaction_bytes = *rc::gen::element<size_t>(185, 186, 1024);
  // Several damaged copies per case, each with a few edits anywhere.
  for (int copy = 0; copy < 20; ++copy) {
    std::string body = original;
    const int edits = uniform(0, 4);
    for (int edit = 0; edit < edits && !body.empty(); ++edit) {
      const size_t position = uniform<size_t>(0, body.size());
      const char character = kInteresting[uniform<size_t>(0, kInteresting.size())];
      switch (uniform(0, 3)) {
        case 0:
          body[position] = character;
          break;
        case 1:
          body.insert(body.begin() + static_cast<std::ptrdiff_t>(position), character);
          break;
        default:
          body.erase(position, 1);
          break;
      }
    }
    RC_ASSERT(describe(parse_submission(body, kMaxBatch, max_transaction_bytes)) ==
              describe(parse_submission_document(body, kMaxBatch, max_transaction_bytes)));
  }
}

}  // namespace
}  // namespace tally
