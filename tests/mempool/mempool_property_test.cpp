// Random pools and random chains of blocks: whatever is admitted, the blocks the pool builds
// apply, the pool's bookkeeping stays consistent, and every signature is verified once.

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <algorithm>
#include <set>
#include <vector>

#include "../ledger/test_chain.h"
#include "mempool/mempool.h"

namespace tally {
namespace {

using testing::address_for;
using testing::kValidatorKeyBase;
using testing::make_genesis;
using testing::signed_transfer;

constexpr uint64_t kMinFee = 10;
constexpr uint32_t kExtraAddresses = 3;  // beyond the genesis accounts: created by endorsement

struct World {
  uint32_t accounts = 0;
  Genesis genesis;
};

World random_world() {
  World world;
  world.accounts = *rc::gen::inRange<uint32_t>(2, 9);
  std::vector<uint64_t> balances;
  for (uint32_t index = 0; index < world.accounts; ++index)
    balances.push_back(*rc::gen::inRange<uint64_t>(0, 2000));
  balances[0] += 1;  // a genesis needs a positive supply
  world.genesis = make_genesis(balances, {10}, kMinFee);
  return world;
}

MempoolLimits random_limits() {
  MempoolLimits limits;
  limits.max_transactions = *rc::gen::weightedOneOf<size_t>(
      {{3, rc::gen::inRange<size_t>(20, 60)}, {1, rc::gen::inRange<size_t>(0, 20)}});
  limits.max_bytes = *rc::gen::weightedOneOf<size_t>(
      {{3, rc::gen::just<size_t>(64 * 1024 * 1024)},
       {1, rc::gen::inRange<size_t>(0, 40 * kTransactionEncodedSize)}});
  limits.max_future_nonces = *rc::gen::weightedOneOf<uint64_t>(
      {{3, rc::gen::just<uint64_t>(16)}, {1, rc::gen::inRange<uint64_t>(0, 5)}});
  limits.max_per_sender = *rc::gen::weightedOneOf<size_t>(
      {{3, rc::gen::just<size_t>(64)}, {1, rc::gen::inRange<size_t>(1, 8)}});
  return limits;
}

// A transaction from any known key, often valid, sometimes not in every possible way.
Transaction random_transaction(const World& world, const State& state, const Mempool& pool) {
  uint32_t addresses = world.accounts + kExtraAddresses;
  uint32_t from =
      *rc::gen::weightedOneOf<uint32_t>({{8, rc::gen::inRange<uint32_t>(0, world.accounts)},
                                         {1, rc::gen::inRange<uint32_t>(0, addresses)}});
  uint32_t to = *rc::gen::weightedOneOf<uint32_t>(
      {{20, rc::gen::map(rc::gen::inRange<uint32_t>(1, addresses),
                         [from, addresses](uint32_t step) { return (from + step) % addresses; })},
       {1, rc::gen::just(from)}});
  std::optional<Account> sender = state.account(address_for(from));
  uint64_t next = sender ? sender->nonce : 0;
  std::vector<Transaction> pending = pool.pending_of(address_for(from));
  if (!pending.empty() && *rc::gen::inRange(0, 4) != 0)
    next = std::max(next, pending.back().transfer.nonce + 1);
  uint64_t nonce = *rc::gen::weightedOneOf<uint64_t>(
      {{8, rc::gen::just(next)},
       {3, rc::gen::inRange<uint64_t>(next, next + 4)},
       {1, rc::gen::inRange<uint64_t>(next > 2 ? next - 2 : 0, next + 8)}});
  uint64_t fee = *rc::gen::weightedOneOf<uint64_t>(
      {{10, rc::gen::inRange<uint64_t>(kMinFee, kMinFee + 40)}, {1, rc::gen::just(kMinFee - 1)}});
  uint64_t balance = sender ? sender->balance.units : 0;
  // What the sender has left after its pending transactions: spending exactly that (or a little
  // more) probes the balance checks, and the fees others pay it while a block is built.
  uint64_t left = balance;
  for (const Transaction& earlier : pending) {
    uint64_t cost = earlier.transfer.amount.units + earlier.transfer.fee.units;
    left = cost <= left ? left - cost : 0;
  }
  uint64_t exact = left > fee ? left - fee : 0;
  uint64_t amount = *rc::gen::weightedOneOf<uint64_t>(
      {{8, rc::gen::inRange<uint64_t>(0, balance / 8 + 1)},
       {2, rc::gen::inRange<uint64_t>(0, balance + 100)},
       {3, rc::gen::inRange<uint64_t>(exact, exact + 3 * kMinFee)},
       {1, rc::gen::just(UINT64_MAX)}});
  bool exists = state.account(address_for(to)).has_value();
  bool create =
      *rc::gen::weightedOneOf<bool>({{10, rc::gen::just(!exists)}, {1, rc::gen::just(exists)}});
  Transaction transaction = signed_transfer(from, address_for(to), amount, fee, nonce, create);
  if (*rc::gen::weightedOneOf<bool>({{30, rc::gen::just(false)}, {1, rc::gen::just(true)}}))
    transaction.signature.data[3] ^= 0x40;
  return transaction;
}

Address random_proposer(const World& world) {
  uint32_t pick = *rc::gen::inRange<uint32_t>(0, world.accounts + 1);
  return pick == world.accounts ? address_for(kValidatorKeyBase) : address_for(pick);
}

// The pool's bookkeeping, checked from the outside.
void check_pool(const Mempool& pool, const World& world, const State& state) {
  size_t total = 0;
  std::set<Hash256> seen;
  for (uint32_t index = 0; index < world.accounts + kExtraAddresses; ++index) {
    Address sender = address_for(index);
    std::vector<Transaction> pending = pool.pending_of(sender);
    total += pending.size();
    RC_ASSERT(pending.size() <= pool.limits().max_per_sender);
    std::optional<Account> account = state.account(sender);
    if (!pending.empty())
      RC_ASSERT(account.has_value());
    for (size_t position = 0; position < pending.size(); ++position) {
      const Transaction& transaction = pending[position];
      RC_ASSERT(transaction.transfer.from == sender);
      RC_ASSERT(pool.contains(transaction.hash()));
      RC_ASSERT(seen.insert(transaction.hash()).second);
      RC_ASSERT(transaction.transfer.nonce >= account->nonce);
      RC_ASSERT(transaction.transfer.nonce - account->nonce <= pool.limits().max_future_nonces);
      if (position > 0)
        RC_ASSERT(transaction.transfer.nonce > pending[position - 1].transfer.nonce);
      // The transaction at the sender's next nonce always applies.
      if (transaction.transfer.nonce == account->nonce)
        RC_ASSERT(state.validate(transaction).ok());
    }
  }
  RC_ASSERT(total == pool.size());
  RC_ASSERT(pool.size() <= pool.limits().max_transactions);
  RC_ASSERT(pool.bytes() == pool.size() * kTransactionEncodedSize);
  RC_ASSERT(pool.bytes() <= pool.limits().max_bytes);
}

// After a block: for each of its senders, the pending transactions at consecutive nonces from
// the account nonce apply in sequence (fees paid away, as the pool assumes), whether the pool
// re-checked that chain or knew it still held.
void check_runs_of_block_senders(const Mempool& pool, const std::vector<Transaction>& block,
                                 const State& state) {
  std::set<Address> senders;
  for (const Transaction& transaction : block)
    senders.insert(transaction.transfer.from);
  for (const Address& sender : senders) {
    std::optional<Account> account = state.account(sender);
    RC_ASSERT(account.has_value());
    StateOverlay overlay(state);
    uint64_t nonce = account->nonce;
    for (const Transaction& transaction : pool.pending_of(sender)) {
      if (transaction.transfer.nonce != nonce)
        break;
      RC_ASSERT(
          overlay.apply(transaction, address_for(kValidatorKeyBase), state.height() + 1).ok());
      ++nonce;
    }
  }
}

// Adds, and checks that the pool holds the transaction exactly when it was accepted (or was
// already there) and that the size moved accordingly.
// The transaction a full pool must evict for `incoming`, from the documented rule: the cheapest
// among the senders' last pending transactions (ties: highest nonce, then lowest hash), never
// the incoming sender's own last one below its nonce.
std::optional<Hash256> expected_victim(const Mempool& pool, const World& world,
                                       const Transaction& incoming) {
  std::optional<std::tuple<uint64_t, int64_t, Hash256>> best;
  for (uint32_t index = 0; index < world.accounts + kExtraAddresses; ++index) {
    std::vector<Transaction> pending = pool.pending_of(address_for(index));
    if (pending.empty())
      continue;
    const Transfer& tail = pending.back().transfer;
    if (tail.from == incoming.transfer.from && tail.nonce < incoming.transfer.nonce)
      continue;
    auto key =
        std::make_tuple(tail.fee.units, -static_cast<int64_t>(tail.nonce), pending.back().hash());
    if (!best || key < *best)
      best = key;
  }
  if (!best)
    return std::nullopt;
  return std::get<2>(*best);
}

void add_and_check(Mempool& pool, const World& world, const Transaction& transaction,
                   const State& state) {
  size_t before = pool.size();
  std::optional<Hash256> victim = expected_victim(pool, world, transaction);
  Result<Admission> admission = pool.admit(transaction, state);
  if (admission.ok()) {
    RC_ASSERT(pool.contains(transaction.hash()));
    bool replaced_or_evicted = admission->replaced.has_value() || admission->evicted.has_value();
    RC_ASSERT(pool.size() == (replaced_or_evicted ? before : before + 1));
    if (admission->replaced)
      RC_ASSERT(!pool.contains(*admission->replaced));
    RC_CLASSIFY(admission->evicted.has_value(), "evicts");
    if (admission->evicted) {
      RC_ASSERT(!pool.contains(*admission->evicted));
      RC_ASSERT(admission->evicted == victim);
    }
  } else {
    RC_ASSERT(pool.contains(transaction.hash()) == (admission.error().code == "duplicate"));
    RC_ASSERT(pool.size() <= before);
  }
}

RC_GTEST_PROP(MempoolProperty, SelectedTransactionsApplyWithAnyProposer, ()) {
  World world = random_world();
  State state = State::from_genesis(world.genesis).value();
  Mempool pool(world.genesis.chain_id, random_limits());
  size_t count = *rc::gen::inRange<size_t>(0, 120);
  for (size_t index = 0; index < count; ++index) {
    Transaction transaction = random_transaction(world, state, pool);
    add_and_check(pool, world, transaction, state);
  }
  check_pool(pool, world, state);

  size_t max_transactions = *rc::gen::weightedOneOf<size_t>(
      {{2, rc::gen::just<size_t>(1000)}, {1, rc::gen::inRange<size_t>(0, 50)}});
  size_t max_bytes = *rc::gen::weightedOneOf<size_t>(
      {{2, rc::gen::just<size_t>(1 << 20)},
       {1, rc::gen::inRange<size_t>(0, 50 * kTransactionEncodedSize)}});
  std::vector<Transaction> block = pool.select_for_block(state, max_transactions, max_bytes);
  RC_ASSERT(block.size() <= max_transactions);
  RC_ASSERT(block.size() * kTransactionEncodedSize <= max_bytes);
  // Selecting twice gives the same block.
  RC_ASSERT(pool.select_for_block(state, max_transactions, max_bytes) == block);

  uint64_t verified = pool.signatures_verified();
  Result<BlockOutcome> outcome =
      state.apply_block(1, random_proposer(world), block, pool.verifier());
  RC_ASSERT(outcome.ok());
  RC_ASSERT(pool.cache_misses() == 0u);
  RC_ASSERT(pool.signatures_verified() == verified);
}

RC_GTEST_PROP(MempoolProperty, ChainsOfBlocksKeepThePoolConsistent, ()) {
  World world = random_world();
  State state = State::from_genesis(world.genesis).value();
  Mempool pool(world.genesis.chain_id, random_limits());
  size_t blocks = *rc::gen::inRange<size_t>(1, 6);
  uint64_t outsiders = 0;
  for (size_t height = 1; height <= blocks; ++height) {
    size_t count = *rc::gen::inRange<size_t>(0, 40);
    for (size_t index = 0; index < count; ++index) {
      Transaction transaction = random_transaction(world, state, pool);
      add_and_check(pool, world, transaction, state);
    }
    check_pool(pool, world, state);

    std::vector<Transaction> block = pool.select_for_block(state, 20, 1 << 20);
    // Sometimes another proposer's block, with a transaction the pool never saw.
    bool with_outsider = false;
    if (*rc::gen::weightedOneOf<bool>({{4, rc::gen::just(false)}, {1, rc::gen::just(true)}})) {
      Transaction outsider = random_transaction(world, state, pool);
      if (!pool.contains(outsider.hash()) && state.validate(outsider).ok()) {
        block.insert(block.begin(), outsider);
        with_outsider = true;
        outsiders += 1;
      }
    }
    Result<BlockOutcome> outcome =
        state.apply_block(height, random_proposer(world), block, pool.verifier());
    if (!outcome.ok()) {
      // Only the outsider can make the block fail (it may conflict with the pool's choice).
      RC_ASSERT(with_outsider);
      block.erase(block.begin());
      outcome = state.apply_block(height, random_proposer(world), block, pool.verifier());
      RC_ASSERT(outcome.ok());
    }
    Block committed;
    committed.transactions = block;
    pool.remove_committed(committed, transaction_hashes(committed.transactions), state);
    for (const Transaction& transaction : block)
      RC_ASSERT(!pool.contains(transaction.hash()));
    check_pool(pool, world, state);
    check_runs_of_block_senders(pool, block, state);
    // Only transactions the pool never admitted are verified by the block's execution.
    RC_ASSERT(pool.cache_misses() <= outsiders);
  }
}

}  // namespace
}  // namespace tally
