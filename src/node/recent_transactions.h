#pragma once
// What a node remembers of the transactions it saw lately: pending here, committed at a height, or
// refused with a reason. It answers GET /v1/transactions/{hash} and lets the node drop gossiped
// copies of what it already committed.
//
// It holds the last 200,000 by default and is written for each transaction at least twice, so an
// entry is small: 8 bytes besides the hash. The reasons for refusals, rare, are kept apart.

#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <deque>

#include "core/status.h"
#include "crypto/sha256.h"

namespace tally {

struct TransactionStatus {
  enum class Kind { unknown, pending, committed, rejected };
  Kind kind = Kind::unknown;
  uint64_t height = 0;  // committed
  Error reason;         // rejected
};

class RecentTransactions {
 public:
  explicit RecentTransactions(size_t capacity);

  // Each replaces what was remembered of the hash; a new hash forgets the oldest beyond capacity.
  void remember_pending(const Hash256& hash);
  void remember_committed(const Hash256& hash, uint64_t height);
  void remember_refused(const Hash256& hash, Error reason);

  // Kind::unknown when not remembered.
  TransactionStatus find(const Hash256& hash) const;
  bool is_committed(const Hash256& hash) const;
  size_t size() const { return outcomes_.size(); }
  // Reasons held: one per remembered refusal, never more.
  size_t reason_count() const { return reasons_.size(); }

 private:
  // The outcome of an entry: pending, refused, or else the height it was committed at (>= 1).
  static constexpr uint64_t kPending = 0;
  static constexpr uint64_t kRefused = UINT64_MAX;

  void remember(const Hash256& hash, uint64_t outcome);

  size_t capacity_;
  absl::flat_hash_map<Hash256, uint64_t, FixedBytesHasher<32>> outcomes_;
  absl::flat_hash_map<Hash256, Error, FixedBytesHasher<32>> reasons_;  // of the refused ones
  std::deque<Hash256> order_;                                          // oldest first
};

}  // namespace tally
