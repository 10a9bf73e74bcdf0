#include "ledger/state.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <utility>
#include <vector>

#include "test_chain.h"

namespace tally {
namespace {

using testing::address_for;
using testing::kValidatorKeyBase;
using testing::make_genesis;
using testing::signed_transfer;

constexpr uint64_t kFee = 10;

class StateTest : public ::testing::Test {
 protected:
  StateTest() : state_(State::from_genesis(make_genesis({1000, 500, 0})).value()) {}

  Address proposer() const { return address_for(kValidatorKeyBase); }

  Result<BlockOutcome> apply(std::vector<Transaction> transactions) {
    return state_.apply_block(state_.height() + 1, proposer(), transactions, verifier_);
  }

  std::string refusal(const Transaction& transaction) {
    Status status = state_.validate(transaction);
    EXPECT_FALSE(status.ok());
    return status.ok() ? "" : status.error().code;
  }

  uint64_t balance(uint32_t index) { return state_.account(address_for(index))->balance.units; }

  State state_;
  DirectSignatureVerifier verifier_;
};

TEST_F(StateTest, TransferMovesAmountPaysFeeToProposerAndAdvancesNonce) {
  Transaction transfer = signed_transfer(0, address_for(1), 300, kFee, 0);
  EXPECT_TRUE(state_.validate(transfer).ok());
  Result<BlockOutcome> outcome = apply({transfer});
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(balance(0), 1000u - 300 - kFee);
  EXPECT_EQ(balance(1), 500u + 300);
  EXPECT_EQ(state_.account(proposer())->balance.units, kFee);
  EXPECT_EQ(state_.account(address_for(0))->nonce, 1u);
  EXPECT_EQ(state_.account(address_for(1))->nonce, 0u);
  EXPECT_EQ(outcome->fees_collected.units, kFee);
  EXPECT_EQ(outcome->touched.size(), 3u);
  EXPECT_TRUE(std::is_sorted(outcome->touched.begin(), outcome->touched.end()));
  EXPECT_EQ(outcome->state_root, state_.state_root());
  EXPECT_EQ(state_.height(), 1u);
  EXPECT_EQ(state_.sum_of_balances(), state_.total_supply().units);
}

TEST_F(StateTest, WholeBalanceCanBeSpentExactly) {
  EXPECT_TRUE(apply({signed_transfer(0, address_for(1), 1000 - kFee, kFee, 0)}).ok());
  EXPECT_EQ(balance(0), 0u);
}

TEST_F(StateTest, CreateEndorsesANewAccount) {
  Address newcomer = address_for(42);
  Transaction create = signed_transfer(1, newcomer, 25, kFee, 0, /*create=*/true);
  ASSERT_TRUE(apply({create}).ok());
  std::optional<Account> created = state_.account(newcomer);
  ASSERT_TRUE(created.has_value());
  EXPECT_EQ(created->balance.units, 25u);
  EXPECT_EQ(created->nonce, 0u);
  EXPECT_EQ(created->endorser, address_for(1));
  EXPECT_EQ(created->created_height, 1u);
}

TEST_F(StateTest, CreateWithZeroAmountIsAllowed) {
  ASSERT_TRUE(apply({signed_transfer(1, address_for(43), 0, kFee, 0, true)}).ok());
  EXPECT_EQ(state_.account(address_for(43))->balance.units, 0u);
}

TEST_F(StateTest, RefusesTransferToUnknownAddressWithoutCreate) {
  Transaction transfer = signed_transfer(0, address_for(99), 5, kFee, 0);
  Status status = state_.validate(transfer);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, "unknown_recipient");
  EXPECT_NE(status.error().message.find("set create"), std::string::npos);
}

TEST_F(StateTest, RefusesCreateOfExistingAccount) {
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 5, kFee, 0, true)), "recipient_exists");
}

TEST_F(StateTest, RefusesEachBrokenRuleWithItsReason) {
  EXPECT_EQ(refusal(signed_transfer(0, address_for(0), 5, kFee, 0)), "self_transfer");
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 5, kFee - 1, 0)), "fee_too_low");
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), UINT64_MAX, kFee, 0)), "amount_overflow");
  EXPECT_EQ(refusal(signed_transfer(77, address_for(1), 5, kFee, 0)), "unknown_sender");
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 5, kFee, 1)), "bad_nonce");
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 1000 - kFee + 1, kFee, 0)),
            "insufficient_funds");
  EXPECT_EQ(refusal(signed_transfer(2, address_for(1), 0, kFee, 0)), "insufficient_funds");
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 5, kFee, 0, false, "tally-other")),
            "invalid_signature");
  Transaction tampered = signed_transfer(0, address_for(1), 5, kFee, 0);
  tampered.transfer.amount = Amount{6};
  EXPECT_EQ(refusal(tampered), "invalid_signature");
}

TEST_F(StateTest, ReplayIsRefusedByNonce) {
  Transaction transfer = signed_transfer(0, address_for(1), 5, kFee, 0);
  ASSERT_TRUE(apply({transfer}).ok());
  EXPECT_EQ(refusal(transfer), "bad_nonce");
  Result<BlockOutcome> replay = apply({transfer});
  ASSERT_FALSE(replay.ok());
  EXPECT_EQ(replay.error().code, "bad_nonce");
}

TEST_F(StateTest, SameTransactionTwiceInABlockAppliesAtMostOnce) {
  Transaction transfer = signed_transfer(0, address_for(1), 5, kFee, 0);
  Result<BlockOutcome> outcome = apply({transfer, transfer});
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, "bad_nonce");
  EXPECT_EQ(balance(0), 1000u);
}

TEST_F(StateTest, BlockIsAllOrNothing) {
  Hash256 root_before = state_.state_root();
  Transaction good = signed_transfer(0, address_for(1), 5, kFee, 0);
  Transaction bad = signed_transfer(1, address_for(0), 9999, kFee, 0);
  Result<BlockOutcome> outcome = apply({good, bad});
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error().code, "insufficient_funds");
  EXPECT_NE(outcome.error().message.find("transaction 1"), std::string::npos);
  EXPECT_EQ(state_.height(), 0u);
  EXPECT_EQ(balance(0), 1000u);
  EXPECT_EQ(balance(1), 500u);
  EXPECT_EQ(state_.state_root(), root_before);
}

TEST_F(StateTest, TransactionsInABlockSeeEarlierOnes) {
  // The second spends what the first delivered; the third uses the next nonce.
  Result<BlockOutcome> outcome = apply({signed_transfer(0, address_for(2), 100, kFee, 0),
                                        signed_transfer(2, address_for(50), 90, kFee, 0, true),
                                        signed_transfer(0, address_for(50), 1, kFee, 1)});
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(balance(2), 0u);
  EXPECT_EQ(balance(50), 91u);
  EXPECT_EQ(state_.account(proposer())->balance.units, 3 * kFee);
}

TEST_F(StateTest, ProposerCanSpendFeesItCollectsInTheSameBlock) {
  uint32_t proposer_index = kValidatorKeyBase;
  Result<BlockOutcome> outcome =
      apply({signed_transfer(0, address_for(1), 5, 2 * kFee, 0),
             signed_transfer(proposer_index, address_for(1), 5, kFee, 0)});
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;
  EXPECT_EQ(state_.account(proposer())->balance.units, 2 * kFee - 5);
}

TEST_F(StateTest, RejectsWrongHeightUnknownProposerAndOversizedBlocks) {
  Transaction transfer = signed_transfer(0, address_for(1), 5, kFee, 0);
  EXPECT_EQ(state_.apply_block(2, proposer(), {&transfer, 1}, verifier_).error().code,
            "wrong_height");
  EXPECT_EQ(state_.apply_block(1, address_for(99), {&transfer, 1}, verifier_).error().code,
            "unknown_proposer");

  Genesis genesis = make_genesis({1000});
  genesis.params.max_block_txs = 1;
  State small = State::from_genesis(genesis).value();
  std::vector<Transaction> two = {transfer, signed_transfer(0, address_for(1), 5, kFee, 1)};
  EXPECT_EQ(small.apply_block(1, proposer(), two, verifier_).error().code, "block_too_large");
}

TEST_F(StateTest, EmptyBlockAdvancesHeightAndKeepsRoot) {
  Hash256 root = state_.state_root();
  ASSERT_TRUE(apply({}).ok());
  EXPECT_EQ(state_.height(), 1u);
  EXPECT_EQ(state_.state_root(), root);
}

// Stands in for the node's cache: reports what admission decided, counts questions.
class RecordingVerifier final : public SignatureVerifier {
 public:
  explicit RecordingVerifier(bool answer) : answer_(answer) {}
  bool is_valid(const Transaction&, std::string_view) const override {
    calls_.fetch_add(1);
    return answer_;
  }
  int calls() const { return calls_.load(); }

 private:
  bool answer_;
  mutable std::atomic<int> calls_{0};
};

TEST_F(StateTest, BlockSignatureChecksGoThroughTheVerifier) {
  RecordingVerifier rejecting(false);
  Transaction transfer = signed_transfer(0, address_for(1), 5, kFee, 0);
  Result<BlockOutcome> refused = state_.apply_block(1, proposer(), {&transfer, 1}, rejecting);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, "invalid_signature");
  EXPECT_EQ(rejecting.calls(), 1);

  RecordingVerifier accepting(true);
  ASSERT_TRUE(state_.apply_block(1, proposer(), {&transfer, 1}, accepting).ok());
  EXPECT_EQ(accepting.calls(), 1);
}

TEST_F(StateTest, AccountProofsVerifyAgainstTheRoot) {
  ASSERT_TRUE(apply({signed_transfer(0, address_for(1), 5, kFee, 0)}).ok());
  Hash256 root = state_.state_root();
  std::optional<Account> account = state_.account(address_for(1));
  TreeProof proof = state_.prove(address_for(1));
  EXPECT_TRUE(verify_account_proof(root, address_for(1), account, proof).ok());

  Account forged = *account;
  forged.balance = Amount{forged.balance.units + 1};
  EXPECT_FALSE(verify_account_proof(root, address_for(1), forged, proof).ok());
  EXPECT_FALSE(verify_account_proof(root, address_for(1), std::nullopt, proof).ok());

  TreeProof absence = state_.prove(address_for(12345));
  EXPECT_TRUE(verify_account_proof(root, address_for(12345), std::nullopt, absence).ok());
  EXPECT_FALSE(verify_account_proof(root, address_for(12345), Account{}, absence).ok());
}

TEST_F(StateTest, RootDependsOnContentNotHistory) {
  // Two different paths to the same balances and nonces give the same root.
  State other = State::from_genesis(make_genesis({1000, 500, 0})).value();
  ASSERT_TRUE(apply({signed_transfer(0, address_for(1), 5, kFee, 0),
                     signed_transfer(1, address_for(0), 3, kFee, 0)})
                  .ok());
  ASSERT_TRUE(other.apply_block(1, proposer(), {}, verifier_).ok());
  std::vector<Transaction> reversed = {signed_transfer(1, address_for(0), 3, kFee, 0),
                                       signed_transfer(0, address_for(1), 5, kFee, 0)};
  ASSERT_TRUE(other.apply_block(2, proposer(), reversed, verifier_).ok());
  EXPECT_EQ(other.state_root(), state_.state_root());
}

// ---------------------------------------------------------------------------------------------
// Two-phase application: execute_block, then commit_block

// The block used below: a transfer, a creation and a transfer from the new account's endorser.
std::vector<Transaction> sample_block() {
  return {signed_transfer(0, address_for(1), 300, kFee, 0),
          signed_transfer(1, address_for(42), 25, kFee, 0, /*create=*/true),
          signed_transfer(0, address_for(42), 7, kFee, 1)};
}

// Records how it was asked: a node hashes each transaction of a block once, and the verifier
// receives those hashes instead of computing them again.
class HashRecordingVerifier final : public SignatureVerifier {
 public:
  bool is_valid(const Transaction&, std::string_view) const override {
    unhashed_calls++;
    return true;
  }
  bool is_valid_hashed(const Transaction& transaction, const Hash256& hash,
                       std::string_view) const override {
    EXPECT_EQ(hash, transaction.hash());
    hashes.push_back(hash);
    return true;
  }
  mutable size_t unhashed_calls = 0;
  mutable std::vector<Hash256> hashes;
};

TEST_F(StateTest, ExecuteBlockPassesTheGivenHashesToTheVerifierInOrder) {
  const std::vector<Transaction> block = sample_block();
  std::vector<Hash256> hashes;
  for (const Transaction& transaction : block)
    hashes.push_back(transaction.hash());
  const State& view = state_;
  HashRecordingVerifier with_hashes;
  ASSERT_TRUE(view.execute_block(1, proposer(), block, with_hashes, hashes).ok());
  EXPECT_EQ(with_hashes.hashes, hashes);
  EXPECT_EQ(with_hashes.unhashed_calls, 0u);
  HashRecordingVerifier without_hashes;
  ASSERT_TRUE(view.execute_block(1, proposer(), block, without_hashes).ok());
  EXPECT_TRUE(without_hashes.hashes.empty());
  EXPECT_EQ(without_hashes.unhashed_calls, block.size());
}

TEST_F(StateTest, ExecuteBlockLeavesTheStateUnchanged) {
  const Hash256 root = state_.state_root();
  const std::vector<Transaction> block = sample_block();
  const State& view = state_;  // execute_block is const
  Result<PendingBlock> pending = view.execute_block(1, proposer(), block, verifier_);
  ASSERT_TRUE(pending.ok()) << pending.error().message;

  EXPECT_EQ(state_.state_root(), root);
  EXPECT_EQ(state_.height(), 0u);
  EXPECT_EQ(balance(0), 1000u);
  EXPECT_EQ(balance(1), 500u);
  EXPECT_EQ(state_.account(proposer())->balance.units, 0u);
  EXPECT_FALSE(state_.account(address_for(42)).has_value());
  EXPECT_EQ(state_.account_count(), 4u);
  EXPECT_TRUE(state_.validate(block[0]).ok());  // Its nonce is still free.

  EXPECT_EQ(pending->height(), 1u);
  EXPECT_NE(pending->outcome().state_root, root);
  EXPECT_EQ(pending->outcome().fees_collected.units, 3 * kFee);
  EXPECT_EQ(pending->outcome().accounts_created, 1u);
  // Sender 0, recipient 1, the new account 42 and the proposer, in address order.
  ASSERT_EQ(pending->changes().size(), 4u);
  ASSERT_EQ(pending->outcome().touched.size(), 4u);
  for (size_t index = 0; index < pending->changes().size(); ++index) {
    EXPECT_EQ(pending->changes()[index].first, pending->outcome().touched[index]);
    if (index > 0) {
      EXPECT_LT(pending->changes()[index - 1].first, pending->changes()[index].first);
    }
  }
}

TEST_F(StateTest, CommitBlockReachesThePredictedRoot) {
  Result<PendingBlock> pending = state_.execute_block(1, proposer(), sample_block(), verifier_);
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  const Hash256 predicted = pending->outcome().state_root;
  const std::vector<std::pair<Address, Account>> changes = pending->changes();
  state_.commit_block(std::move(*pending));

  EXPECT_EQ(state_.state_root(), predicted);
  EXPECT_EQ(state_.height(), 1u);
  EXPECT_EQ(balance(0), 1000u - 300 - 7 - 2 * kFee);
  EXPECT_EQ(balance(1), 500u + 300 - 25 - kFee);
  EXPECT_EQ(balance(42), 25u + 7);
  EXPECT_EQ(state_.account(address_for(42))->endorser, address_for(1));
  EXPECT_EQ(state_.account(proposer())->balance.units, 3 * kFee);
  for (const auto& [address, account] : changes)
    EXPECT_EQ(state_.account(address), account);
  EXPECT_EQ(state_.sum_of_balances(), state_.total_supply().units);

  // And the next block builds on it.
  Result<PendingBlock> next = state_.execute_block(
      2, proposer(), std::vector{signed_transfer(0, address_for(1), 1, kFee, 2)}, verifier_);
  ASSERT_TRUE(next.ok()) << next.error().message;
  const Hash256 next_root = next->outcome().state_root;
  state_.commit_block(std::move(*next));
  EXPECT_EQ(state_.state_root(), next_root);
  EXPECT_EQ(state_.height(), 2u);
}

TEST_F(StateTest, ExecuteThenCommitMatchesApplyBlock) {
  State applied = State::from_genesis(make_genesis({1000, 500, 0})).value();
  const std::vector<Transaction> block = sample_block();
  Result<BlockOutcome> outcome = applied.apply_block(1, proposer(), block, verifier_);
  ASSERT_TRUE(outcome.ok()) << outcome.error().message;

  Result<PendingBlock> pending = state_.execute_block(1, proposer(), block, verifier_);
  ASSERT_TRUE(pending.ok()) << pending.error().message;
  EXPECT_EQ(pending->outcome().state_root, outcome->state_root);
  EXPECT_EQ(pending->outcome().fees_collected, outcome->fees_collected);
  EXPECT_EQ(pending->outcome().accounts_created, outcome->accounts_created);
  EXPECT_EQ(pending->outcome().touched, outcome->touched);
  state_.commit_block(std::move(*pending));
  EXPECT_EQ(state_.state_root(), applied.state_root());
  EXPECT_EQ(state_.sorted_accounts(), applied.sorted_accounts());
}

TEST_F(StateTest, EmptyBlockExecutesToTheCurrentRoot) {
  const Hash256 root = state_.state_root();
  Result<PendingBlock> pending = state_.execute_block(1, proposer(), {}, verifier_);
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->outcome().state_root, root);
  EXPECT_TRUE(pending->changes().empty());
  state_.commit_block(std::move(*pending));
  EXPECT_EQ(state_.height(), 1u);
  EXPECT_EQ(state_.state_root(), root);
}

TEST_F(StateTest, ExecuteBlockRefusesExactlyAsApplyBlockDoes) {
  Genesis small_genesis = make_genesis({1000, 500, 0});
  small_genesis.params.max_block_txs = 2;
  struct Case {
    uint64_t height;
    Address proposer;
    std::vector<Transaction> transactions;
    std::string code;
  };
  const Transaction good = signed_transfer(0, address_for(1), 5, kFee, 0);
  const std::vector<Case> cases = {
      {2, proposer(), {good}, "wrong_height"},
      {0, proposer(), {good}, "wrong_height"},
      {1, address_for(99), {good}, "unknown_proposer"},
      {1, proposer(), {good, good, good}, "block_too_large"},
      {1, proposer(), {good, good}, "bad_nonce"},
      {1,
       proposer(),
       {good, signed_transfer(1, address_for(0), 9999, kFee, 0)},
       "insufficient_funds"},
      {1, proposer(), {signed_transfer(0, address_for(99), 5, kFee, 0)}, "unknown_recipient"},
      {1,
       proposer(),
       {good, signed_transfer(1, address_for(0), 5, kFee, 0, false, "x")},
       "invalid_signature"},
  };
  for (const Case& test : cases) {
    SCOPED_TRACE(test.code);
    State executed = State::from_genesis(small_genesis).value();
    State applied = State::from_genesis(small_genesis).value();
    const Hash256 root = executed.state_root();
    Result<PendingBlock> pending =
        executed.execute_block(test.height, test.proposer, test.transactions, verifier_);
    Result<BlockOutcome> outcome =
        applied.apply_block(test.height, test.proposer, test.transactions, verifier_);
    ASSERT_FALSE(pending.ok());
    ASSERT_FALSE(outcome.ok());
    EXPECT_EQ(pending.error().code, test.code);
    EXPECT_EQ(pending.error().code, outcome.error().code);
    EXPECT_EQ(pending.error().message, outcome.error().message);
    EXPECT_EQ(executed.state_root(), root);
    EXPECT_EQ(applied.state_root(), root);
    EXPECT_EQ(executed.height(), 0u);
    EXPECT_EQ(executed.sorted_accounts(), applied.sorted_accounts());
  }
}

TEST_F(StateTest, OverlayAppliesACheckedTransferAndRefusesAnUncheckedOne) {
  StateOverlay overlay(state_);
  const Transaction transfer = signed_transfer(0, address_for(1), 100, kFee, 0);
  ASSERT_TRUE(overlay.check(transfer).ok());
  overlay.apply_checked(transfer, proposer(), 1);
  EXPECT_EQ(overlay.account(address_for(0))->balance.units, 1000 - 100 - kFee);
  EXPECT_EQ(overlay.account(address_for(0))->nonce, 1u);
  EXPECT_EQ(overlay.account(address_for(1))->balance.units, 500u + 100);
  EXPECT_EQ(overlay.account(proposer())->balance.units, kFee);

  // A sender without an account never passes check(); applying it anyway is a broken caller.
  const Transaction unknown_sender = signed_transfer(7, address_for(1), 1, kFee, 0);
  EXPECT_FALSE(overlay.check(unknown_sender).ok());
  EXPECT_DEATH(overlay.apply_checked(unknown_sender, proposer(), 1),
               "apply_checked on an unchecked transaction");
}

TEST_F(StateTest, CommittingAStalePendingBlockAborts) {
  Result<PendingBlock> first = state_.execute_block(1, proposer(), sample_block(), verifier_);
  Result<PendingBlock> rival = state_.execute_block(
      1, proposer(), std::vector{signed_transfer(1, address_for(0), 5, kFee, 0)}, verifier_);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(rival.ok());
  state_.commit_block(std::move(*rival));
  EXPECT_DEATH(state_.commit_block(*first), "must extend the current height");
}

}  // namespace
}  // namespace tally

namespace tally {
namespace {

TEST(StateFromAccounts, RebuildsTheSameStateAndRoot) {
  State original = State::from_genesis(testing::make_genesis({1000, 500, 0})).value();
  DirectSignatureVerifier verifier;
  std::vector<Transaction> block = {
      testing::signed_transfer(0, testing::address_for(9), 7, 10, 0, true)};
  ASSERT_TRUE(
      original.apply_block(1, testing::address_for(testing::kValidatorKeyBase), block, verifier)
          .ok());
  Result<State> rebuilt =
      State::from_accounts(testing::make_genesis({1000, 500, 0}), 1, original.sorted_accounts());
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.error().message;
  EXPECT_EQ(rebuilt->state_root(), original.state_root());
  EXPECT_EQ(rebuilt->height(), 1u);
  EXPECT_EQ(rebuilt->account(testing::address_for(9))->endorser, testing::address_for(0));
}

TEST(StateFromAccounts, RefusesInconsistentAccountLists) {
  Genesis genesis = testing::make_genesis({1000, 500});
  auto accounts = State::from_genesis(genesis).value().sorted_accounts();
  auto duplicated = accounts;
  duplicated.push_back(accounts.front());
  EXPECT_EQ(State::from_accounts(genesis, 3, duplicated).error().code, "invalid_state");
  auto minted = accounts;
  minted.front().second.balance = Amount{minted.front().second.balance.units + 1};
  EXPECT_EQ(State::from_accounts(genesis, 3, minted).error().code, "invalid_state");
  auto no_validator = accounts;
  std::erase_if(no_validator, [](const auto& entry) {
    return entry.first == testing::address_for(testing::kValidatorKeyBase);
  });
  EXPECT_EQ(State::from_accounts(genesis, 3, no_validator).error().code, "invalid_state");
}

}  // namespace
}  // namespace tally
