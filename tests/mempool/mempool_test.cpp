#include "mempool/mempool.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "../ledger/test_chain.h"

namespace tally {
namespace {

using testing::address_for;
using testing::kValidatorKeyBase;
using testing::make_genesis;
using testing::signed_transfer;

constexpr uint64_t kFee = 10;
constexpr char kChain[] = "tally-test";

Address proposer() {
  return address_for(kValidatorKeyBase);
}

std::vector<Hash256> hashes(const std::vector<Transaction>& transactions) {
  std::vector<Hash256> out;
  for (const Transaction& transaction : transactions)
    out.push_back(transaction.hash());
  return out;
}

class MempoolTest : public ::testing::Test {
 protected:
  explicit MempoolTest(MempoolLimits limits = {},
                       Genesis genesis = make_genesis({1000, 1000, 1000, 1000}))
      : state_(State::from_genesis(genesis).value()), pool_(kChain, limits) {}

  std::string refusal(const Transaction& transaction) {
    Status status = pool_.add(transaction, state_);
    EXPECT_FALSE(status.ok());
    return status.ok() ? "" : status.error().code;
  }

  void admit(const Transaction& transaction) {
    Status status = pool_.add(transaction, state_);
    ASSERT_TRUE(status.ok()) << status.error().code << ": " << status.error().message;
  }

  // Applies the transactions as a block (checked with the pool's verifier), then tells the pool.
  void commit(const std::vector<Transaction>& transactions, const Address& fee_to = proposer()) {
    Result<BlockOutcome> outcome =
        state_.apply_block(state_.height() + 1, fee_to, transactions, pool_.verifier());
    ASSERT_TRUE(outcome.ok()) << outcome.error().message;
    Block block;
    block.transactions = transactions;
    pool_.remove_committed(block, transaction_hashes(block.transactions), state_);
  }

  std::vector<Transaction> select(size_t max_transactions = 1000, size_t max_bytes = 1 << 20) {
    return pool_.select_for_block(state_, max_transactions, max_bytes);
  }

  State state_;
  Mempool pool_;
};

TEST_F(MempoolTest, AdmitsAndLooksUp) {
  Transaction transfer = signed_transfer(0, address_for(1), 100, kFee, 0);
  Result<Admission> admission = pool_.admit(transfer, state_);
  ASSERT_TRUE(admission.ok());
  EXPECT_EQ(admission->hash, transfer.hash());
  EXPECT_FALSE(admission->replaced.has_value());
  EXPECT_FALSE(admission->evicted.has_value());
  EXPECT_EQ(pool_.size(), 1u);
  EXPECT_EQ(pool_.bytes(), kTransactionEncodedSize);
  EXPECT_TRUE(pool_.contains(transfer.hash()));
  EXPECT_EQ(pool_.get(transfer.hash()), transfer);
  EXPECT_EQ(pool_.pending_of(address_for(0)), std::vector<Transaction>{transfer});
  EXPECT_FALSE(pool_.get(Hash256{}).has_value());
  EXPECT_TRUE(pool_.pending_of(address_for(1)).empty());
}

TEST_F(MempoolTest, RefusesDuplicate) {
  Transaction transfer = signed_transfer(0, address_for(1), 100, kFee, 0);
  admit(transfer);
  EXPECT_EQ(refusal(transfer), "duplicate");
  EXPECT_EQ(pool_.size(), 1u);
}

TEST_F(MempoolTest, RefusesFormatErrors) {
  EXPECT_EQ(refusal(signed_transfer(0, address_for(0), 1, kFee, 0)), "self_transfer");
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 1, kFee - 1, 0)), "fee_too_low");
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), UINT64_MAX, kFee, 0)), "amount_overflow");
  EXPECT_EQ(pool_.size(), 0u);
  EXPECT_EQ(pool_.signatures_verified(), 0u);
}

TEST_F(MempoolTest, RefusesUnknownSender) {
  EXPECT_EQ(refusal(signed_transfer(77, address_for(1), 1, kFee, 0)), "unknown_sender");
}

TEST_F(MempoolTest, RefusesStaleNonce) {
  commit({signed_transfer(0, address_for(1), 1, kFee, 0)});
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 2, kFee, 0)), "bad_nonce");
  admit(signed_transfer(0, address_for(1), 2, kFee, 1));
}

TEST_F(MempoolTest, RefusesNonceTooFarAhead) {
  admit(signed_transfer(0, address_for(1), 1, kFee, 16));
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 1, kFee, 17)), "nonce_too_far_ahead");
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 1, kFee, UINT64_MAX)),
            "nonce_too_far_ahead");
}

TEST_F(MempoolTest, SameNonceNeedsStrictlyHigherFeeToReplace) {
  Transaction first = signed_transfer(0, address_for(1), 100, 20, 0);
  admit(first);
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 200, 20, 0)), "nonce_taken");
  EXPECT_EQ(refusal(signed_transfer(0, address_for(2), 100, 19, 0)), "nonce_taken");

  Transaction better = signed_transfer(0, address_for(2), 100, 21, 0);
  Result<Admission> admission = pool_.admit(better, state_);
  ASSERT_TRUE(admission.ok());
  EXPECT_EQ(admission->replaced, first.hash());
  EXPECT_EQ(pool_.size(), 1u);
  EXPECT_FALSE(pool_.contains(first.hash()));
  EXPECT_TRUE(pool_.contains(better.hash()));
  EXPECT_EQ(select(), std::vector<Transaction>{better});
}

TEST_F(MempoolTest, LedgerRulesSeeTheSendersPendingTransactions) {
  admit(signed_transfer(0, address_for(1), 600, kFee, 0));
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 400, kFee, 1)), "insufficient_funds");
  admit(signed_transfer(0, address_for(1), 380, kFee, 1));  // exactly the remaining 390
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 0, kFee, 2)), "insufficient_funds");
  EXPECT_EQ(refusal(signed_transfer(1, address_for(0), 991, kFee, 0)), "insufficient_funds");
}

TEST_F(MempoolTest, PendingCreateIsSeenByLaterNonces) {
  Address newcomer = address_for(100);
  admit(signed_transfer(0, newcomer, 50, kFee, 0, /*create=*/true));
  admit(signed_transfer(0, newcomer, 5, kFee, 1));
  EXPECT_EQ(refusal(signed_transfer(0, newcomer, 5, kFee, 2, true)), "recipient_exists");
  EXPECT_EQ(refusal(signed_transfer(0, address_for(101), 5, kFee, 2)), "unknown_recipient");
  EXPECT_EQ(refusal(signed_transfer(1, address_for(2), 5, kFee, 0, true)), "recipient_exists");
  // Another sender does not see sender 0's pending create.
  EXPECT_EQ(refusal(signed_transfer(1, newcomer, 5, kFee, 0)), "unknown_recipient");
}

TEST_F(MempoolTest, RefusesInvalidSignatureLast) {
  Transaction forged = signed_transfer(0, address_for(1), 100, kFee, 0);
  forged.signature.data[5] ^= 0x01;
  EXPECT_EQ(refusal(forged), "invalid_signature");
  EXPECT_EQ(pool_.signatures_verified(), 1u);

  Transaction other_chain = signed_transfer(0, address_for(1), 100, kFee, 0, false, "other-chain");
  EXPECT_EQ(refusal(other_chain), "invalid_signature");

  // Every cheaper rule is checked first.
  Transaction broke = signed_transfer(0, address_for(1), 5000, kFee, 0);
  broke.signature.data[0] ^= 0x01;
  EXPECT_EQ(refusal(broke), "insufficient_funds");
  Transaction far = signed_transfer(0, address_for(1), 1, kFee, 40);
  far.signature.data[0] ^= 0x01;
  EXPECT_EQ(refusal(far), "nonce_too_far_ahead");
  EXPECT_EQ(pool_.signatures_verified(), 2u);
  EXPECT_EQ(pool_.size(), 0u);
}

class SmallMempoolTest : public MempoolTest {
 protected:
  static MempoolLimits limits() {
    MempoolLimits limits;
    limits.max_transactions = 3;
    limits.max_per_sender = 2;
    return limits;
  }
  SmallMempoolTest() : MempoolTest(limits()) {}
};

TEST_F(SmallMempoolTest, RefusesTooManyPendingPerSender) {
  admit(signed_transfer(0, address_for(1), 1, kFee, 0));
  admit(signed_transfer(0, address_for(1), 1, kFee, 1));
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 1, kFee, 2)), "too_many_pending");
  // A replacement does not add to the count.
  admit(signed_transfer(0, address_for(1), 1, kFee + 1, 1));
  EXPECT_EQ(pool_.size(), 2u);
}

TEST_F(SmallMempoolTest, FullPoolEvictsTheCheapestLastNonceForAHigherFee) {
  Transaction cheap_head = signed_transfer(0, address_for(1), 1, 10, 0);
  Transaction rich_tail = signed_transfer(0, address_for(1), 1, 50, 1);
  Transaction middle = signed_transfer(1, address_for(0), 1, 30, 0);
  admit(cheap_head);
  admit(rich_tail);
  admit(middle);
  ASSERT_EQ(pool_.size(), 3u);

  EXPECT_EQ(refusal(signed_transfer(2, address_for(0), 1, 30, 0)), "mempool_full");
  EXPECT_EQ(pool_.size(), 3u);

  Transaction richer = signed_transfer(2, address_for(0), 1, 31, 0);
  Result<Admission> admission = pool_.admit(richer, state_);
  ASSERT_TRUE(admission.ok());
  // sender 0's nonce 0 pays least but is not its last nonce: evicting it would leave a gap.
  EXPECT_EQ(admission->evicted, middle.hash());
  EXPECT_EQ(pool_.size(), 3u);
  EXPECT_EQ(pool_.bytes(), 3 * kTransactionEncodedSize);
  EXPECT_TRUE(pool_.contains(cheap_head.hash()));
  EXPECT_TRUE(pool_.contains(richer.hash()));
  EXPECT_FALSE(pool_.contains(middle.hash()));
}

TEST_F(SmallMempoolTest, EvictionTiesGoToTheHighestNonce) {
  admit(signed_transfer(0, address_for(1), 1, 40, 0));
  Transaction tail_at_one = signed_transfer(0, address_for(1), 1, 20, 1);
  admit(tail_at_one);
  admit(signed_transfer(1, address_for(0), 1, 20, 0));
  Result<Admission> admission = pool_.admit(signed_transfer(2, address_for(0), 1, 25, 0), state_);
  ASSERT_TRUE(admission.ok());
  EXPECT_EQ(admission->evicted, tail_at_one.hash());
}

TEST_F(SmallMempoolTest, NeverEvictsTheSendersOwnLowerNonce) {
  admit(signed_transfer(0, address_for(1), 1, 10, 0));
  admit(signed_transfer(1, address_for(0), 1, 50, 0));
  admit(signed_transfer(2, address_for(0), 1, 50, 0));
  EXPECT_EQ(refusal(signed_transfer(0, address_for(1), 1, 20, 1)), "mempool_full");
}

TEST_F(SmallMempoolTest, EvictedTransactionIsNotVerifiedAgain) {
  Transaction cheap = signed_transfer(0, address_for(1), 1, 10, 0);
  admit(cheap);
  admit(signed_transfer(1, address_for(0), 1, 50, 0));
  admit(signed_transfer(2, address_for(0), 1, 50, 0));
  Transaction rich = signed_transfer(3, address_for(0), 1, 60, 0);
  ASSERT_EQ(pool_.admit(rich, state_)->evicted, cheap.hash());
  EXPECT_EQ(pool_.signatures_verified(), 4u);
  commit({rich});
  admit(cheap);
  EXPECT_EQ(pool_.signatures_verified(), 4u);
  EXPECT_EQ(pool_.cache_hits(), 2u);  // rich in the block, cheap at re-admission
}

class BytesLimitedMempoolTest : public MempoolTest {
 protected:
  static MempoolLimits limits() {
    MempoolLimits limits;
    limits.max_bytes = 3 * kTransactionEncodedSize - 1;
    return limits;
  }
  BytesLimitedMempoolTest() : MempoolTest(limits()) {}
};

TEST_F(BytesLimitedMempoolTest, ByteLimitCounts155PerTransaction) {
  admit(signed_transfer(0, address_for(1), 1, kFee, 0));
  admit(signed_transfer(1, address_for(0), 1, kFee, 0));
  EXPECT_EQ(refusal(signed_transfer(2, address_for(0), 1, kFee, 0)), "mempool_full");
  Result<Admission> admission =
      pool_.admit(signed_transfer(2, address_for(0), 1, kFee + 1, 0), state_);
  ASSERT_TRUE(admission.ok());
  EXPECT_TRUE(admission->evicted.has_value());
  EXPECT_EQ(pool_.bytes(), 2 * kTransactionEncodedSize);
}

TEST(MempoolLimitsTest, ZeroCapacityRefusesEverything) {
  State state = State::from_genesis(make_genesis({1000, 1000})).value();
  MempoolLimits limits;
  limits.max_transactions = 0;
  Mempool pool(kChain, limits);
  Status status = pool.add(signed_transfer(0, address_for(1), 1, kFee, 0), state);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, "mempool_full");
}

TEST_F(MempoolTest, FutureNoncesWaitForTheGap) {
  Transaction n0 = signed_transfer(0, address_for(1), 1, kFee, 0);
  Transaction n1 = signed_transfer(0, address_for(1), 2, kFee, 1);
  Transaction n2 = signed_transfer(0, address_for(1), 3, kFee, 2);
  admit(n2);
  admit(n1);
  EXPECT_TRUE(select().empty());
  admit(n0);
  std::vector<Transaction> block = select();
  EXPECT_EQ(block, (std::vector<Transaction>{n0, n1, n2}));
  commit(block);
  EXPECT_EQ(pool_.size(), 0u);
  EXPECT_EQ(state_.account(address_for(0))->nonce, 3u);
}

TEST_F(MempoolTest, AfterACommitAChainCheckedBehindAReplacedTransactionIsCheckedAgain) {
  // Balance 1000. Nonce 1 (500) fits after nonce 0 (100); the replacement of nonce 0 (600,
  // higher fee) leaves too little for it, so nonce 1 may not stay once nonce 0 commits.
  Transaction n0 = signed_transfer(0, address_for(1), 100, kFee, 0);
  Transaction n1 = signed_transfer(0, address_for(1), 500, kFee, 1);
  admit(n0);
  admit(n1);
  Transaction replacement = signed_transfer(0, address_for(2), 600, kFee + 1, 0);
  admit(replacement);
  commit({replacement});
  EXPECT_FALSE(pool_.contains(n1.hash()));
  EXPECT_EQ(pool_.size(), 0u);
}

TEST_F(MempoolTest, AfterACommitOfWhatItHeldTheRestOfAChainStaysAndStillApplies) {
  Transaction n0 = signed_transfer(0, address_for(1), 100, kFee, 0);
  Transaction n1 = signed_transfer(0, address_for(1), 200, kFee, 1);
  Transaction n2 = signed_transfer(0, address_for(2), 300, kFee, 2);
  admit(n0);
  admit(n1);
  admit(n2);
  commit({n0});
  EXPECT_EQ(pool_.pending_of(address_for(0)), (std::vector<Transaction>{n1, n2}));
  EXPECT_EQ(select(), (std::vector<Transaction>{n1, n2}));
}

TEST_F(MempoolTest, FutureNonceIsHeldUncheckedAndSkippedIfItFails) {
  Transaction too_big = signed_transfer(0, address_for(1), 5000, kFee, 1);
  admit(too_big);  // a gap at nonce 0: no balance check yet
  Transaction n0 = signed_transfer(0, address_for(1), 100, kFee, 0);
  admit(n0);
  std::vector<Transaction> block = select();
  EXPECT_EQ(block, std::vector<Transaction>{n0});
  commit(block);
  // Revalidated after the block: now the next nonce, and unaffordable.
  EXPECT_FALSE(pool_.contains(too_big.hash()));
  EXPECT_EQ(pool_.size(), 0u);
}

TEST_F(MempoolTest, SelectTakesHighestFeeFirstInNonceOrder) {
  Transaction a0 = signed_transfer(0, address_for(1), 1, 10, 0);
  Transaction a1 = signed_transfer(0, address_for(1), 1, 100, 1);
  Transaction b0 = signed_transfer(1, address_for(0), 1, 50, 0);
  Transaction c0 = signed_transfer(2, address_for(0), 1, 50, 0);
  Transaction d0 = signed_transfer(3, address_for(0), 1, 70, 0);
  for (const Transaction& transaction : {a0, a1, b0, c0, d0})
    admit(transaction);
  std::vector<Transaction> expected = {d0, b0, c0, a0, a1};
  if (c0.hash() < b0.hash())
    std::swap(expected[1], expected[2]);
  std::vector<Transaction> block = select();
  EXPECT_EQ(block, expected);
  commit(block);
  EXPECT_EQ(pool_.size(), 0u);
}

TEST_F(MempoolTest, SelectRespectsLimits) {
  for (uint32_t sender = 0; sender < 4; ++sender) {
    admit(signed_transfer(sender, address_for((sender + 1) % 4), 1, kFee, 0));
    admit(signed_transfer(sender, address_for((sender + 1) % 4), 1, kFee, 1));
  }
  EXPECT_EQ(select(3).size(), 3u);
  EXPECT_EQ(select(1000, 2 * kTransactionEncodedSize).size(), 2u);
  EXPECT_EQ(select(1000, 2 * kTransactionEncodedSize + kTransactionEncodedSize - 1).size(), 2u);
  EXPECT_TRUE(select(1000, kTransactionEncodedSize - 1).empty());
  EXPECT_TRUE(select(0).empty());
  EXPECT_EQ(select().size(), 8u);
  EXPECT_EQ(pool_.size(), 8u);  // selecting removes nothing
}

TEST(MempoolSelectTest, RespectsTheChainsBlockLimits) {
  Genesis genesis = make_genesis({1000, 1000, 1000});
  genesis.params.max_block_txs = 2;
  State state = State::from_genesis(genesis).value();
  Mempool pool(kChain, {});
  for (uint32_t sender = 0; sender < 3; ++sender)
    ASSERT_TRUE(
        pool.add(signed_transfer(sender, address_for((sender + 1) % 3), 1, kFee, 0), state).ok());
  EXPECT_EQ(pool.select_for_block(state, 1000, 1 << 20).size(), 2u);
}

TEST_F(MempoolTest, SelectCreditsNoFeesWhileBuilding) {
  state_ = State::from_genesis(make_genesis({1000, 100})).value();
  // Sender 1 has 100: nonce 0 costs 60, leaving 40; nonce 1 costs 45 and was admitted as a
  // future transaction, before the gap was filled.
  Transaction b1 = signed_transfer(1, address_for(0), 35, kFee, 1);
  Transaction b0 = signed_transfer(1, address_for(0), 50, kFee, 0);
  admit(b1);
  admit(b0);
  // Sender 0 pays sender 1 nothing but a large fee: a builder that credited fees to the
  // recipient would think sender 1 could afford nonce 1.
  Transaction a0 = signed_transfer(0, address_for(1), 0, 100, 0);
  admit(a0);
  std::vector<Transaction> block = select();
  EXPECT_EQ(block, (std::vector<Transaction>{a0, b0}));
  commit(block);
}

TEST_F(MempoolTest, SelectSkipsTransactionsThatNoLongerApply) {
  Address newcomer = address_for(100);
  Transaction first = signed_transfer(0, newcomer, 1, 20, 0, true);
  Transaction second = signed_transfer(1, newcomer, 1, 10, 0, true);
  Transaction after_second = signed_transfer(1, address_for(2), 1, 10, 1);
  Transaction bystander = signed_transfer(2, address_for(3), 1, 10, 0);
  for (const Transaction& transaction : {first, second, after_second, bystander})
    admit(transaction);
  std::vector<Transaction> block = select();
  ASSERT_EQ(block.size(), 2u);
  EXPECT_EQ(block[0], first);
  EXPECT_EQ(block[1], bystander);
  commit(block);
  // Sender 1's create can never apply now: dropped. Its next nonce waits for a replacement.
  EXPECT_FALSE(pool_.contains(second.hash()));
  EXPECT_TRUE(pool_.contains(after_second.hash()));
  EXPECT_TRUE(select().empty());
  admit(signed_transfer(1, address_for(2), 1, 10, 0));
  EXPECT_EQ(select().size(), 2u);
}

TEST_F(MempoolTest, RemoveCommittedDropsIncludedStaleAndUnaffordable) {
  Transaction a0 = signed_transfer(0, address_for(1), 500, kFee, 0);
  Transaction a1 = signed_transfer(0, address_for(1), 400, kFee, 1);
  Transaction a3 = signed_transfer(0, address_for(1), 10, kFee, 3);
  Transaction b0 = signed_transfer(1, address_for(0), 10, kFee, 0);
  Transaction b1 = signed_transfer(1, address_for(0), 10, kFee, 1);
  for (const Transaction& transaction : {a0, a1, a3, b0, b1})
    admit(transaction);
  // Sender 0 spent most of its balance with a nonce-0 transaction the pool never saw.
  Transaction elsewhere = signed_transfer(0, address_for(2), 900, kFee, 0);
  commit({elsewhere, b0});
  EXPECT_FALSE(pool_.contains(a0.hash()));  // stale nonce
  EXPECT_FALSE(pool_.contains(a1.hash()));  // 410 > 90
  EXPECT_TRUE(pool_.contains(a3.hash()));   // future, kept
  EXPECT_FALSE(pool_.contains(b0.hash()));  // included
  EXPECT_TRUE(pool_.contains(b1.hash()));
  EXPECT_EQ(pool_.size(), 2u);
  EXPECT_EQ(pool_.bytes(), 2 * kTransactionEncodedSize);
  EXPECT_EQ(select(), std::vector<Transaction>{b1});
}

TEST_F(MempoolTest, VerifierAnswersFromAdmission) {
  std::vector<Transaction> transactions = {signed_transfer(0, address_for(1), 1, kFee, 0),
                                           signed_transfer(1, address_for(2), 1, kFee, 0),
                                           signed_transfer(2, address_for(3), 1, kFee, 0)};
  for (const Transaction& transaction : transactions)
    admit(transaction);
  EXPECT_EQ(pool_.signatures_verified(), 3u);
  std::vector<Transaction> block = select();
  ASSERT_EQ(block.size(), 3u);
  commit(block);
  EXPECT_EQ(pool_.cache_hits(), 3u);
  EXPECT_EQ(pool_.cache_misses(), 0u);
  EXPECT_EQ(pool_.signatures_verified(), 3u);
  // Committed transactions are not remembered: a node never asks again (it turns them away by
  // hash, and their nonces are used), so they would only crowd out evicted ones.
  EXPECT_FALSE(pool_.signature_known(transactions[0].hash()));
  EXPECT_TRUE(pool_.verifier().is_valid(transactions[0], kChain));
  EXPECT_EQ(pool_.cache_hits(), 3u);
  EXPECT_EQ(pool_.signatures_verified(), 4u);
}

TEST_F(MempoolTest, VerifierVerifiesUnknownTransactionsOnce) {
  const SignatureVerifier& verifier = pool_.verifier();
  Transaction unknown = signed_transfer(3, address_for(1), 1, kFee, 0);
  EXPECT_TRUE(verifier.is_valid(unknown, kChain));
  EXPECT_TRUE(verifier.is_valid(unknown, kChain));
  EXPECT_EQ(pool_.cache_misses(), 1u);
  EXPECT_EQ(pool_.cache_hits(), 1u);
  EXPECT_EQ(pool_.signatures_verified(), 1u);
  // Admission reuses the answer.
  admit(unknown);
  EXPECT_EQ(pool_.signatures_verified(), 1u);

  Transaction forged = signed_transfer(3, address_for(2), 1, kFee, 0);
  forged.signature.data[9] ^= 0x01;
  EXPECT_FALSE(verifier.is_valid(forged, kChain));
  EXPECT_FALSE(verifier.is_valid(forged, kChain));  // failures are not cached
  EXPECT_EQ(pool_.signatures_verified(), 3u);

  // A cached answer holds for this chain only.
  EXPECT_FALSE(verifier.is_valid(unknown, "other-chain"));
  Transaction elsewhere = signed_transfer(3, address_for(1), 1, kFee, 0, false, "other-chain");
  EXPECT_TRUE(verifier.is_valid(elsewhere, "other-chain"));
  EXPECT_TRUE(verifier.is_valid(elsewhere, "other-chain"));
  EXPECT_EQ(pool_.signatures_verified(), 6u);
}

TEST_F(MempoolTest, VerifierLooksUpByTheGivenHash) {
  const SignatureVerifier& verifier = pool_.verifier();
  Transaction transaction = signed_transfer(0, address_for(1), 1, kFee, 0);
  pool_.note_signature_verified(transaction.hash());
  EXPECT_TRUE(verifier.is_valid_hashed(transaction, transaction.hash(), kChain));
  EXPECT_EQ(pool_.cache_hits(), 1u);
  EXPECT_EQ(pool_.signatures_verified(), 0u);
  // Admission with the caller's hash answers from the same cache and indexes by that hash.
  ASSERT_TRUE(pool_.admit(transaction, transaction.hash(), state_).ok());
  EXPECT_EQ(pool_.signatures_verified(), 0u);
  EXPECT_TRUE(pool_.contains(transaction.hash()));
  EXPECT_EQ(pool_.add(transaction, transaction.hash(), state_).error().code, "duplicate");
}

TEST(MempoolVerifierTest, RecentSignaturesAreBounded) {
  MempoolLimits limits;
  limits.max_transactions = 2;
  Mempool pool(kChain, limits);
  const SignatureVerifier& verifier = pool.verifier();
  std::vector<Transaction> seen;
  for (uint32_t index = 0; index < 3; ++index) {
    seen.push_back(signed_transfer(index, address_for(9), 1, kFee, 0));
    EXPECT_TRUE(verifier.is_valid(seen.back(), kChain));
  }
  EXPECT_EQ(pool.cache_misses(), 3u);
  EXPECT_TRUE(verifier.is_valid(seen[2], kChain));
  EXPECT_TRUE(verifier.is_valid(seen[1], kChain));
  EXPECT_EQ(pool.cache_hits(), 2u);
  EXPECT_TRUE(verifier.is_valid(seen[0], kChain));  // forgotten: verified again
  EXPECT_EQ(pool.cache_misses(), 4u);
}

TEST(MempoolDeterminismTest, SelectionDoesNotDependOnArrivalOrder) {
  State state = State::from_genesis(make_genesis({1000, 1000, 1000, 1000, 1000, 1000})).value();
  std::vector<Transaction> transactions;
  for (uint32_t sender = 0; sender < 6; ++sender) {
    for (uint64_t nonce = 0; nonce < 3; ++nonce) {
      transactions.push_back(signed_transfer(sender, address_for((sender + 1) % 6), nonce + 1,
                                             kFee + (sender * 7 + nonce * 13) % 5, nonce));
    }
  }
  Mempool forward(kChain, {});
  Mempool backward(kChain, {});
  for (const Transaction& transaction : transactions)
    ASSERT_TRUE(forward.add(transaction, state).ok());
  for (auto it = transactions.rbegin(); it != transactions.rend(); ++it)
    ASSERT_TRUE(backward.add(*it, state).ok());
  std::vector<Transaction> one = forward.select_for_block(state, 1000, 1 << 20);
  std::vector<Transaction> two = backward.select_for_block(state, 1000, 1 << 20);
  EXPECT_EQ(hashes(one), hashes(two));
  EXPECT_EQ(one.size(), transactions.size());
}

}  // namespace
}  // namespace tally

namespace tally {
namespace {

TEST_F(MempoolTest, SignaturesVerifiedOffTheLoopAreNotVerifiedAgain) {
  Transaction transaction = signed_transfer(0, address_for(1), 5, 10, 0, false, kChain);
  pool_.note_signature_verified(transaction.hash());
  admit(transaction);
  commit({transaction});
  EXPECT_EQ(pool_.signatures_verified(), 0u) << "neither admission nor the block verified it";

  // A transaction nobody noted is verified once, at admission, and not again in the block.
  Transaction other = signed_transfer(1, address_for(2), 5, 10, 0, false, kChain);
  admit(other);
  commit({other});
  EXPECT_EQ(pool_.signatures_verified(), 1u);
}

}  // namespace
}  // namespace tally
