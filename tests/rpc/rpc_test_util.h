#pragma once
// Bodies of POST /v1/transactions for the rpc tests.

#include <string>
#include <vector>

#include "../ledger/test_chain.h"
#include "rpc/submission.h"

namespace tally::testing {

inline std::vector<Transaction> some_transactions(size_t count) {
  std::vector<Transaction> transactions;
  for (size_t index = 0; index < count; ++index) {
    transactions.push_back(
        signed_transfer(1, address_for(static_cast<uint32_t>(2 + index)), 100 + index, 10, index));
  }
  return transactions;
}

inline std::string quoted_hex(const Transaction& transaction) {
  return '"' + to_hex(transaction.encode()) + '"';
}

// {"txs":[…]} with `space` between every token.
inline std::string batch_body(const std::vector<Transaction>& transactions,
                              const std::string& space = "") {
  std::string body = "{" + space + "\"txs\"" + space + ":" + space + "[" + space;
  for (size_t index = 0; index < transactions.size(); ++index) {
    if (index > 0)
      body += space + "," + space;
    body += quoted_hex(transactions[index]);
  }
  return body + space + "]" + space + "}" + space;
}

// The two parsers agree: both succeed with the same submission, or both fail the same way.
inline std::string describe(const Result<Submission>& result) {
  if (!result.ok())
    return "error " + result.error().code + ": " + result.error().message;
  std::string text = result->single ? "single" : "batch";
  for (const Transaction& transaction : result->transactions)
    text += " " + transaction.hash().hex();
  return text;
}

}  // namespace tally::testing
