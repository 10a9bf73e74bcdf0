// The API's per-transaction work outside the node: parsing a batch submission, formatting its
// answer, and formatting a committed block as the bench's observer reads it. Per item figures:
// each transfer of a `tally bench` run goes through each of these once.

#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "rpc/json.h"
#include "rpc/submission.h"

namespace tally {
namespace {

constexpr std::string_view kChainId = "tally-bench";

std::vector<Transaction> signed_transfers(size_t count) {
  SecretKey key = SecretKey::from_seed(Seed{});
  Address from{key.public_key()};
  std::vector<Transaction> transactions;
  transactions.reserve(count);
  for (size_t index = 0; index < count; ++index) {
    Transfer transfer;
    transfer.from = from;
    transfer.to.key.data[0] = static_cast<uint8_t>(index);
    transfer.to.key.data[1] = static_cast<uint8_t>(index >> 8);
    transfer.amount = Amount{1000 + index};
    transfer.fee = Amount{10};
    transfer.nonce = index;
    transactions.push_back(sign_transfer(transfer, key, kChainId));
  }
  return transactions;
}

std::string batch_body(const std::vector<Transaction>& transactions) {
  std::string body = R"({"txs":[)";
  for (size_t index = 0; index < transactions.size(); ++index) {
    if (index > 0)
      body += ',';
    body += '"' + to_hex(transactions[index].encode()) + '"';
  }
  body += "]}";
  return body;
}

void BM_ParseSubmitBatch(benchmark::State& state) {
  const size_t count = static_cast<size_t>(state.range(0));
  const std::string body = batch_body(signed_transfers(count));
  for (auto _ : state) {
    Result<Submission> parsed = parse_submission(body, count, 1024);
    benchmark::DoNotOptimize(parsed);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(count));
}
BENCHMARK(BM_ParseSubmitBatch)->Arg(1000);

void BM_SubmitAnswer(benchmark::State& state) {
  const size_t count = static_cast<size_t>(state.range(0));
  std::vector<Transaction> transactions = signed_transfers(count);
  std::vector<Hash256> hashes = transaction_hashes(transactions);
  std::vector<Status> outcomes(count, Status::success());
  outcomes[count / 2] = make_error("bad_nonce", "nonce 7 does not match the sender's next nonce 6");
  for (auto _ : state) {
    HttpAnswer answer = submission_answer(false, hashes, outcomes);
    benchmark::DoNotOptimize(answer);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(count));
}
BENCHMARK(BM_SubmitAnswer)->Arg(1000);

void BM_BlockTransactionHashes(benchmark::State& state) {
  const size_t count = static_cast<size_t>(state.range(0));
  DecidedBlock decided;
  decided.block.header.chain_id = std::string(kChainId);
  decided.block.header.height = 7;
  decided.block.transactions = signed_transfers(count);
  decided.commit.height = 7;
  decided.commit.signatures.resize(4);
  for (auto _ : state) {
    std::string text = block_text(decided, true);
    benchmark::DoNotOptimize(text);
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(count));
}
BENCHMARK(BM_BlockTransactionHashes)->Arg(2000);

}  // namespace
}  // namespace tally
