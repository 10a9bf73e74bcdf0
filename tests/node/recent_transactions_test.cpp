// The node's memory of recent transactions: each hash's latest outcome, the oldest forgotten
// first beyond capacity, and a refusal's reason kept exactly as long as the refusal.

#include "node/recent_transactions.h"

#include <gtest/gtest.h>

namespace tally {
namespace {

Hash256 hash_number(uint32_t number) {
  Hash256 hash;
  hash.data[0] = static_cast<uint8_t>(number);
  hash.data[1] = static_cast<uint8_t>(number >> 8);
  hash.data[31] = 1;
  return hash;
}

TEST(RecentTransactionsTest, RemembersTheLatestOutcomeOfEachHash) {
  RecentTransactions recent(10);
  const Hash256 hash = hash_number(1);
  EXPECT_EQ(recent.find(hash).kind, TransactionStatus::Kind::unknown);
  EXPECT_FALSE(recent.is_committed(hash));

  recent.remember_refused(hash, make_error("bad_nonce", "too far ahead"));
  TransactionStatus status = recent.find(hash);
  EXPECT_EQ(status.kind, TransactionStatus::Kind::rejected);
  EXPECT_EQ(status.reason.code, "bad_nonce");
  EXPECT_EQ(status.reason.message, "too far ahead");

  EXPECT_EQ(recent.reason_count(), 1u);

  recent.remember_pending(hash);
  EXPECT_EQ(recent.find(hash).kind, TransactionStatus::Kind::pending);
  EXPECT_EQ(recent.reason_count(), 0u);
  EXPECT_FALSE(recent.is_committed(hash));

  recent.remember_committed(hash, 42);
  status = recent.find(hash);
  EXPECT_EQ(status.kind, TransactionStatus::Kind::committed);
  EXPECT_EQ(status.height, 42u);
  EXPECT_TRUE(recent.is_committed(hash));
  EXPECT_EQ(recent.size(), 1u);  // one hash, however many outcomes
}

TEST(RecentTransactionsTest, ForgetsTheOldestBeyondCapacity) {
  RecentTransactions recent(3);
  recent.remember_refused(hash_number(1), make_error("fee_too_low", "low"));
  recent.remember_pending(hash_number(2));
  recent.remember_committed(hash_number(3), 7);
  recent.remember_committed(hash_number(2), 8);  // an update keeps its place in the order
  recent.remember_pending(hash_number(4));
  EXPECT_EQ(recent.size(), 3u);
  EXPECT_EQ(recent.find(hash_number(1)).kind, TransactionStatus::Kind::unknown);
  EXPECT_EQ(recent.find(hash_number(2)).height, 8u);

  recent.remember_pending(hash_number(5));
  EXPECT_EQ(recent.find(hash_number(2)).kind, TransactionStatus::Kind::unknown);
  EXPECT_TRUE(recent.is_committed(hash_number(3)));
  EXPECT_EQ(recent.size(), 3u);
}

TEST(RecentTransactionsTest, AForgottenRefusalComesBackWithItsNewReason) {
  RecentTransactions recent(1);
  recent.remember_refused(hash_number(1), make_error("bad_nonce", "first"));
  recent.remember_pending(hash_number(2));  // forgets the refusal, reason and all
  EXPECT_EQ(recent.reason_count(), 0u);
  recent.remember_refused(hash_number(1), make_error("insufficient_funds", "second"));
  TransactionStatus status = recent.find(hash_number(1));
  EXPECT_EQ(status.kind, TransactionStatus::Kind::rejected);
  EXPECT_EQ(status.reason.code, "insufficient_funds");
  EXPECT_EQ(recent.find(hash_number(2)).kind, TransactionStatus::Kind::unknown);
  EXPECT_EQ(recent.reason_count(), 1u);
}

}  // namespace
}  // namespace tally
