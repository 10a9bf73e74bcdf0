// Random sequences of valid and invalid transactions, checked against a reference model.

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>
#include <optional>
#include <utility>

#include "ledger/state.h"
#include "test_chain.h"

namespace tally {
namespace {

using testing::address_for;
using testing::kValidatorKeyBase;
using testing::make_genesis;
using testing::signed_transfer;

constexpr uint64_t kMinFee = 10;
constexpr uint32_t kKeyPool = 10;
constexpr uint32_t kProposerIndex = kValidatorKeyBase;

// The model: balances as wide integers so it can never overflow, keyed by key index.
struct ModelAccount {
  unsigned __int128 balance = 0;
  uint64_t nonce = 0;
};
using Model = std::map<uint32_t, ModelAccount>;

struct PlannedTransfer {
  uint32_t from = 0;
  uint32_t to = 0;
  uint64_t amount = 0;
  uint64_t fee = 0;
  uint64_t nonce = 0;
  bool create = false;
  bool wrong_chain = false;
};

// Applies one transfer to the model; returns the reason it is refused, if it is.
std::optional<std::string> model_apply(Model& model, const PlannedTransfer& transfer) {
  if (transfer.from == transfer.to)
    return "self_transfer";
  if (transfer.fee < kMinFee)
    return "fee_too_low";
  unsigned __int128 debit = static_cast<unsigned __int128>(transfer.amount) + transfer.fee;
  if (debit > UINT64_MAX)
    return "amount_overflow";
  auto sender = model.find(transfer.from);
  if (sender == model.end())
    return "unknown_sender";
  if (sender->second.nonce != transfer.nonce)
    return "bad_nonce";
  if (debit > sender->second.balance)
    return "insufficient_funds";
  bool recipient_exists = model.count(transfer.to) != 0;
  if (transfer.create && recipient_exists)
    return "recipient_exists";
  if (!transfer.create && !recipient_exists)
    return "unknown_recipient";
  // The signature is checked last, after every cheaper rule.
  if (transfer.wrong_chain)
    return "invalid_signature";
  sender->second.balance -= debit;
  sender->second.nonce += 1;
  model[transfer.to].balance += transfer.amount;
  model[kProposerIndex].balance += transfer.fee;
  return std::nullopt;
}

// Mostly valid transfers (so blocks commit and the model is exercised), with every kind of
// invalid one mixed in at a few percent each.
rc::Gen<PlannedTransfer> planned_transfer(const Model& model) {
  return rc::gen::exec([model]() {
    std::vector<uint32_t> existing;
    for (const auto& entry : model)
      existing.push_back(entry.first);
    PlannedTransfer transfer;
    transfer.from = *rc::gen::weightedOneOf<uint32_t>(
        {{18, rc::gen::elementOf(existing)}, {1, rc::gen::inRange<uint32_t>(0, kKeyPool)}});
    std::vector<uint32_t> others;
    for (uint32_t index : existing) {
      if (index != transfer.from)
        others.push_back(index);
    }
    if (others.empty())
      others.push_back(kProposerIndex);
    transfer.to = *rc::gen::weightedOneOf<uint32_t>({{12, rc::gen::elementOf(others)},
                                                     {6, rc::gen::inRange<uint32_t>(100, 130)},
                                                     {1, rc::gen::inRange<uint32_t>(0, kKeyPool)},
                                                     {1, rc::gen::just(transfer.from)}});

    auto sender = model.find(transfer.from);
    uint64_t balance = sender == model.end() ? 0 : static_cast<uint64_t>(sender->second.balance);
    transfer.fee =
        *rc::gen::weightedOneOf<uint64_t>({{16, rc::gen::just(kMinFee)},
                                           {1, rc::gen::just(kMinFee - 1)},
                                           {3, rc::gen::inRange<uint64_t>(kMinFee, 1000)}});
    uint64_t spendable = balance > transfer.fee ? balance - transfer.fee : 0;
    transfer.amount =
        *rc::gen::weightedOneOf<uint64_t>({{16, rc::gen::inRange<uint64_t>(0, spendable / 2 + 1)},
                                           {2, rc::gen::just(spendable)},
                                           {1, rc::gen::just(spendable + 1)},
                                           {1, rc::gen::just(UINT64_MAX - transfer.fee + 1)},
                                           {1, rc::gen::arbitrary<uint64_t>()}});
    uint64_t next_nonce = sender == model.end() ? 0 : sender->second.nonce;
    transfer.nonce = *rc::gen::weightedOneOf<uint64_t>(
        {{25, rc::gen::just(next_nonce)}, {1, rc::gen::inRange<uint64_t>(0, next_nonce + 3)}});
    bool exists = model.count(transfer.to) != 0;
    transfer.create =
        *rc::gen::weightedOneOf<bool>({{30, rc::gen::just(!exists)}, {1, rc::gen::just(exists)}});
    transfer.wrong_chain =
        *rc::gen::weightedOneOf<bool>({{40, rc::gen::just(false)}, {1, rc::gen::just(true)}});
    return transfer;
  });
}

Transaction to_transaction(const PlannedTransfer& planned) {
  return signed_transfer(planned.from, address_for(planned.to), planned.amount, planned.fee,
                         planned.nonce, planned.create,
                         planned.wrong_chain ? "tally-elsewhere" : "tally-test");
}

void check_state_matches_model(const State& state, const Model& model) {
  for (uint32_t index = 0; index < 130; ++index) {
    if (index == kKeyPool)
      index = 100;  // the indices transfers can name
    std::optional<Account> account = state.account(address_for(index));
    auto expected = model.find(index);
    RC_ASSERT(account.has_value() == (expected != model.end()));
    if (account) {
      RC_ASSERT(static_cast<unsigned __int128>(account->balance.units) == expected->second.balance);
      RC_ASSERT(account->nonce == expected->second.nonce);
    }
  }
  auto proposer = state.account(address_for(kProposerIndex));
  RC_ASSERT(static_cast<unsigned __int128>(proposer->balance.units) ==
            model.at(kProposerIndex).balance);
}

Hash256 root_rebuilt_from_scratch(const State& state) {
  StateTree tree;
  for (const auto& [address, account] : state.sorted_accounts()) {
    tree.set(account_tree_key(address), account_value_hash(account));
  }
  return tree.root();
}

RC_GTEST_PROP(StateProperty, RandomBlocksMatchReferenceModelAndConserveSupply, ()) {
  // Up to four genesis balances below 2^62 each, so the supply fits in 64 bits but individual
  // amounts can still be pushed towards overflow.
  auto balances = *rc::gen::container<std::vector<uint64_t>>(
      *rc::gen::inRange<size_t>(1, 5),
      rc::gen::weightedOneOf<uint64_t>({{4, rc::gen::inRange<uint64_t>(0, 100'000)},
                                        {1, rc::gen::inRange<uint64_t>(0, uint64_t{1} << 62)}}));
  balances[0] += 1;  // a supply of zero is not a valid genesis
  State state = State::from_genesis(make_genesis(balances, {1}, kMinFee)).value();
  // The same chain through the two-phase path: execute_block, then commit_block.
  State twin = State::from_genesis(make_genesis(balances, {1}, kMinFee)).value();
  Model model;
  for (uint32_t index = 0; index < balances.size(); ++index)
    model[index].balance = balances[index];
  model[kProposerIndex];
  const uint64_t supply = state.total_supply().units;
  DirectSignatureVerifier verifier;

  int block_count = *rc::gen::inRange(1, 16);
  for (int block = 0; block < block_count; ++block) {
    int transfer_count = *rc::gen::weightedOneOf<int>(
        {{1, rc::gen::just(0)}, {3, rc::gen::inRange(1, 4)}, {2, rc::gen::inRange(4, 9)}});
    std::vector<Transaction> transactions;
    Model next = model;
    std::optional<std::string> refusal;
    for (int count = 0; count < transfer_count; ++count) {
      PlannedTransfer planned = *planned_transfer(next);
      // Single transactions are checked on their own too: validate() must agree with the model.
      if (transactions.empty()) {
        Model scratch = model;
        std::optional<std::string> expected = model_apply(scratch, planned);
        Status validation = state.validate(to_transaction(planned));
        RC_ASSERT(validation.ok() == !expected.has_value());
        if (expected)
          RC_ASSERT(validation.error().code == *expected);
      }
      if (!refusal)
        refusal = model_apply(next, planned);
      transactions.push_back(to_transaction(planned));
    }

    Hash256 root_before = state.state_root();
    // Executing changes nothing, and predicts what applying gives.
    Result<PendingBlock> pending =
        twin.execute_block(twin.height() + 1, address_for(kProposerIndex), transactions, verifier);
    RC_ASSERT(twin.state_root() == root_before);
    RC_ASSERT(twin.height() == state.height());
    check_state_matches_model(twin, model);

    Result<BlockOutcome> outcome =
        state.apply_block(state.height() + 1, address_for(kProposerIndex), transactions, verifier);
    RC_ASSERT(outcome.ok() == !refusal.has_value());
    RC_ASSERT(pending.ok() == outcome.ok());
    if (outcome.ok()) {
      model = next;
      RC_ASSERT(outcome->state_root == state.state_root());
      RC_ASSERT(pending->outcome().state_root == outcome->state_root);
      RC_ASSERT(pending->outcome().touched == outcome->touched);
      RC_ASSERT(pending->outcome().fees_collected == outcome->fees_collected);
      RC_ASSERT(pending->outcome().accounts_created == outcome->accounts_created);
      twin.commit_block(std::move(*pending));
      RC_ASSERT(twin.state_root() == outcome->state_root);
    } else {
      RC_ASSERT(outcome.error().code == *refusal);
      RC_ASSERT(pending.error().code == outcome.error().code);
      RC_ASSERT(pending.error().message == outcome.error().message);
      RC_ASSERT(state.state_root() == root_before);  // all or nothing
    }
    RC_ASSERT(twin.height() == state.height());
    check_state_matches_model(state, model);
    check_state_matches_model(twin, model);
    RC_ASSERT(state.sum_of_balances() == supply);
    RC_ASSERT(root_rebuilt_from_scratch(state) == state.state_root());
  }
}

}  // namespace
}  // namespace tally
