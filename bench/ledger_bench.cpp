// Ledger throughput: validate + apply of transfers (signature checks excluded and measured
// separately), at 10,000 and 1,000,000 accounts, and the two-phase execute/commit path.

#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>
#include <utility>
#include <vector>

#include "ledger/state.h"
#include "mempool/mempool.h"

namespace tally {
namespace {

// Blocks arrive with signatures already checked at admission; this stands in for that cache.
class AlreadyVerified final : public SignatureVerifier {
 public:
  bool is_valid(const Transaction&, std::string_view) const override { return true; }
};

Address synthetic_address(uint64_t index) {
  Address address;
  std::mt19937_64 generator(index * 0x9e3779b97f4a7c15ULL + 1);
  for (size_t byte = 0; byte < 32; byte += 8) {
    uint64_t word = generator();
    for (size_t offset = 0; offset < 8; ++offset)
      address.key.data[byte + offset] = uint8_t(word >> (8 * offset));
  }
  return address;
}

struct Ledger {
  State state;
  std::vector<Address> accounts;
  std::vector<uint64_t> nonces;
  std::mt19937_64 generator{42};
  Address proposer;
};

std::unique_ptr<Ledger> make_ledger(size_t account_count) {
  Genesis genesis;
  genesis.chain_id = "tally-bench";
  genesis.params.max_block_txs = 100'000;
  genesis.params.max_block_bytes = 64 * 1024 * 1024;
  genesis.params.min_fee = Amount{1};
  std::vector<Address> accounts;
  accounts.reserve(account_count);
  uint64_t each = kDefaultTotalSupplyUnits / account_count;
  for (size_t index = 0; index < account_count; ++index) {
    accounts.push_back(synthetic_address(index));
    genesis.accounts.push_back({accounts.back(), Amount{each}});
  }
  genesis.total_supply = Amount{each * account_count};
  Address proposer = synthetic_address(account_count + 1);
  genesis.validators.push_back({proposer, 1, "bench"});
  auto ledger = std::make_unique<Ledger>(Ledger{State::from_genesis(genesis).value(),
                                                accounts,
                                                std::vector<uint64_t>(account_count, 0),
                                                {},
                                                proposer});
  return ledger;
}

std::vector<Transaction> next_block(Ledger& ledger, size_t size) {
  std::vector<Transaction> block;
  block.reserve(size);
  std::uniform_int_distribution<size_t> pick(0, ledger.accounts.size() - 1);
  for (size_t index = 0; index < size; ++index) {
    size_t from = pick(ledger.generator);
    size_t to = pick(ledger.generator);
    if (to == from)
      to = (to + 1) % ledger.accounts.size();
    Transaction transaction;
    transaction.transfer = {ledger.accounts[from],
                            ledger.accounts[to],
                            Amount{1},
                            Amount{1},
                            ledger.nonces[from]++,
                            false};
    block.push_back(transaction);
  }
  return block;
}

Ledger& ledger_for(size_t account_count) {
  static std::map<size_t, std::unique_ptr<Ledger>> ledgers;  // built once per size
  auto& ledger = ledgers[account_count];
  if (!ledger)
    ledger = make_ledger(account_count);
  return *ledger;
}

constexpr size_t kBlockSize = 1000;

void apply_transfers(benchmark::State& bench, size_t account_count) {
  Ledger& ledger = ledger_for(account_count);
  AlreadyVerified verifier;
  for (auto _ : bench) {
    bench.PauseTiming();
    std::vector<Transaction> block = next_block(ledger, kBlockSize);
    bench.ResumeTiming();
    Result<BlockOutcome> outcome =
        ledger.state.apply_block(ledger.state.height() + 1, ledger.proposer, block, verifier);
    if (!outcome.ok())
      bench.SkipWithError(outcome.error().message.c_str());
    benchmark::DoNotOptimize(outcome);
  }
  bench.SetItemsProcessed(bench.iterations() * kBlockSize);
  bench.counters["accounts"] = static_cast<double>(ledger.state.account_count());
}

// Validate + apply + state-root update, per transfer, signatures excluded.
void BM_ApplyTransfers_10kAccounts(benchmark::State& bench) {
  apply_transfers(bench, 10'000);
}
void BM_ApplyTransfers_1MAccounts(benchmark::State& bench) {
  apply_transfers(bench, 1'000'000);
}
BENCHMARK(BM_ApplyTransfers_10kAccounts)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ApplyTransfers_1MAccounts)->Unit(benchmark::kMillisecond)->UseRealTime();

// The consensus path: execute_block (validate + predict the state root, what a proposer and
// every validator do before prevoting), then commit_block once decided. `timed_commit` says
// whether the commit is measured too; without it the figure is execute_block alone.
void execute_transfers(benchmark::State& bench, size_t account_count, bool timed_commit) {
  Ledger& ledger = ledger_for(account_count);
  AlreadyVerified verifier;
  for (auto _ : bench) {
    bench.PauseTiming();
    std::vector<Transaction> block = next_block(ledger, kBlockSize);
    bench.ResumeTiming();
    Result<PendingBlock> pending =
        ledger.state.execute_block(ledger.state.height() + 1, ledger.proposer, block, verifier);
    if (!pending.ok()) {
      bench.SkipWithError(pending.error().message.c_str());
      break;
    }
    if (!timed_commit)
      bench.PauseTiming();
    ledger.state.commit_block(std::move(*pending));
    if (!timed_commit)
      bench.ResumeTiming();
  }
  bench.SetItemsProcessed(bench.iterations() * kBlockSize);
  bench.counters["accounts"] = static_cast<double>(ledger.state.account_count());
}

void BM_ExecuteBlock_1MAccounts(benchmark::State& bench) {
  execute_transfers(bench, 1'000'000, false);
}
void BM_ExecuteAndCommitBlock_1MAccounts(benchmark::State& bench) {
  execute_transfers(bench, 1'000'000, true);
}
BENCHMARK(BM_ExecuteBlock_1MAccounts)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_ExecuteAndCommitBlock_1MAccounts)->Unit(benchmark::kMillisecond)->UseRealTime();

// Mempool admission (what a node does per gossiped or submitted transaction), signatures
// excluded: the next transfer of each of kBlockSize senders, each with kEarlierPending transfers
// already pending (as under `tally bench --max`, with 8,192 transfers in flight from 2,048
// senders), to recipients anywhere in the state. Admission re-applies the earlier ones, so at a
// million accounts their recipients, too, miss the cache.
void BM_MempoolAdmit(benchmark::State& bench, size_t account_count) {
  constexpr uint64_t kEarlierPending = 3;
  Ledger& ledger = ledger_for(account_count);
  std::uniform_int_distribution<size_t> pick(kBlockSize, ledger.accounts.size() - 1);
  auto transfer_from = [&](size_t sender, uint64_t nonce_offset) {
    Transaction transaction;
    transaction.transfer = {ledger.accounts[sender],
                            ledger.accounts[pick(ledger.generator)],
                            Amount{1},
                            Amount{1},
                            ledger.nonces[sender] + nonce_offset,
                            false};
    return transaction;
  };
  MempoolLimits limits;
  limits.max_transactions = (kEarlierPending + 1) * kBlockSize;
  for (auto _ : bench) {
    bench.PauseTiming();
    auto pool = std::make_unique<Mempool>("tally-bench", limits);
    pool->set_signature_check([](const Transaction&, const Hash256&) { return true; });
    for (uint64_t nonce_offset = 0; nonce_offset < kEarlierPending; ++nonce_offset) {
      for (size_t sender = 0; sender < kBlockSize; ++sender)
        TALLY_ASSERT(pool->add(transfer_from(sender, nonce_offset), ledger.state).ok());
    }
    std::vector<Transaction> batch;
    std::vector<Hash256> hashes;
    for (size_t sender = 0; sender < kBlockSize; ++sender) {
      batch.push_back(transfer_from(sender, kEarlierPending));
      hashes.push_back(batch.back().hash());
    }
    bench.ResumeTiming();
    for (size_t index = 0; index < batch.size(); ++index) {
      Status status = pool->add(batch[index], hashes[index], ledger.state);
      if (!status.ok()) {
        bench.SkipWithError(status.error().message.c_str());
        break;
      }
    }
    bench.PauseTiming();
    pool.reset();
    bench.ResumeTiming();
  }
  bench.SetItemsProcessed(bench.iterations() * kBlockSize);
  bench.counters["accounts"] = static_cast<double>(ledger.state.account_count());
}

BENCHMARK_CAPTURE(BM_MempoolAdmit, 10kAccounts, 10'000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(BM_MempoolAdmit, 1MAccounts, 1'000'000)
    ->Unit(benchmark::kMicrosecond)
    ->UseRealTime();

void BM_VerifyTransactionSignature(benchmark::State& bench) {
  SecretKey key = SecretKey::from_seed(Seed{});
  Transfer transfer{
      Address{key.public_key()}, synthetic_address(1), Amount{5}, Amount{1}, 0, false};
  Transaction transaction = sign_transfer(transfer, key, "tally-bench");
  for (auto _ : bench) {
    benchmark::DoNotOptimize(verify_transaction_signature(transaction, "tally-bench"));
  }
  bench.SetItemsProcessed(bench.iterations());
}
BENCHMARK(BM_VerifyTransactionSignature);

// A transaction's id: hashed at admission, in blocks and on commit.
void BM_TransactionHash(benchmark::State& bench) {
  SecretKey key = SecretKey::from_seed(Seed{});
  Transfer transfer{
      Address{key.public_key()}, synthetic_address(1), Amount{5}, Amount{1}, 0, false};
  Transaction transaction = sign_transfer(transfer, key, "tally-bench");
  for (auto _ : bench) {
    benchmark::DoNotOptimize(transaction.hash());
  }
  bench.SetItemsProcessed(bench.iterations());
}
BENCHMARK(BM_TransactionHash);

// One internal node of the state tree: SHA-256 over 65 bytes in three parts.
void BM_Sha256Parts65Bytes(benchmark::State& bench) {
  const uint8_t domain = 1;
  Hash256 left = sha256(as_bytes("left"));
  Hash256 right = sha256(as_bytes("right"));
  for (auto _ : bench) {
    benchmark::DoNotOptimize(sha256_parts({ByteSpan(&domain, 1), left.span(), right.span()}));
  }
  bench.SetItemsProcessed(bench.iterations());
}
BENCHMARK(BM_Sha256Parts65Bytes);

void BM_SignTransfer(benchmark::State& bench) {
  SecretKey key = SecretKey::from_seed(Seed{});
  Transfer transfer{
      Address{key.public_key()}, synthetic_address(1), Amount{5}, Amount{1}, 0, false};
  for (auto _ : bench) {
    transfer.nonce++;
    benchmark::DoNotOptimize(sign_transfer(transfer, key, "tally-bench"));
  }
  bench.SetItemsProcessed(bench.iterations());
}
BENCHMARK(BM_SignTransfer);

}  // namespace
}  // namespace tally
