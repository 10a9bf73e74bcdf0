#pragma once
// The body and the answer of POST /v1/transactions (docs/api.md).
//
// A batch of a thousand transfers is ~310 KB of hex. Read into a JSON document and answered
// from one, it cost ~3.5 µs and ~1.8 µs per transaction: more than everything else the API
// does per transaction. So the usual body is read by a scanner that builds no document, and the
// answer is written as text. Both give exactly what the general JSON path gives.

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
#include "ledger/transaction.h"

namespace tally {

struct Submission {
  std::vector<Transaction> transactions;
  bool single = false;  // sent as "tx", not "txs"
};

// {"tx": "<hex>"} or {"txs": ["<hex>", …]}. Error codes "invalid_json", "invalid_request",
// "invalid_hex", "batch_too_large", "invalid_transaction". A body of that shape whose strings
// are plain hex is read without a JSON document; every other body (malformed ones included)
// goes through parse_submission_document, so the result never depends on which path read it.
Result<Submission> parse_submission(std::string_view body, size_t max_batch,
                                    size_t max_transaction_bytes);
// The general path: parses the body into a JSON document first.
Result<Submission> parse_submission_document(std::string_view body, size_t max_batch,
                                             size_t max_transaction_bytes);

struct HttpAnswer {
  int status = 200;
  std::string body;  // JSON
};

// The answer to a submission, given each transaction's hash and its outcome from admission:
// 202 with {"accepted", "hashes", "results"}; 400 "all_rejected" when a batch had no success;
// for a single transaction refused (other than as a duplicate), its error with 400 or 503.
// Written as the text a JSON library would give (keys sorted, no spaces).
HttpAnswer submission_answer(bool single, std::span<const Hash256> hashes,
                             std::span<const Status> outcomes);

}  // namespace tally
