#include "node/recent_transactions.h"

#include "core/assert.h"

namespace tally {

RecentTransactions::RecentTransactions(size_t capacity) : capacity_(capacity) {
  TALLY_ASSERT(capacity > 0);
}

void RecentTransactions::remember(const Hash256& hash, uint64_t outcome) {
  auto [entry, inserted] = outcomes_.insert_or_assign(hash, outcome);
  if (!inserted)
    return;
  order_.push_back(hash);
  while (order_.size() > capacity_) {
    const Hash256& oldest = order_.front();
    auto forgotten = outcomes_.find(oldest);
    TALLY_ASSERT(forgotten != outcomes_.end());
    if (forgotten->second == kRefused)
      reasons_.erase(oldest);
    outcomes_.erase(forgotten);
    order_.pop_front();
  }
}

void RecentTransactions::remember_pending(const Hash256& hash) {
  reasons_.erase(hash);
  remember(hash, kPending);
}

void RecentTransactions::remember_committed(const Hash256& hash, uint64_t height) {
  TALLY_ASSERT(height >= 1 && height != kRefused);
  reasons_.erase(hash);
  remember(hash, height);
}

void RecentTransactions::remember_refused(const Hash256& hash, Error reason) {
  reasons_.insert_or_assign(hash, std::move(reason));
  remember(hash, kRefused);
}

TransactionStatus RecentTransactions::find(const Hash256& hash) const {
  auto found = outcomes_.find(hash);
  if (found == outcomes_.end())
    return {};
  if (found->second == kPending)
    return {TransactionStatus::Kind::pending, 0, {}};
  if (found->second == kRefused) {
    auto reason = reasons_.find(hash);
    TALLY_ASSERT(reason != reasons_.end());
    return {TransactionStatus::Kind::rejected, 0, reason->second};
  }
  return {TransactionStatus::Kind::committed, found->second, {}};
}

bool RecentTransactions::is_committed(const Hash256& hash) const {
  auto found = outcomes_.find(hash);
  return found != outcomes_.end() && found->second != kPending && found->second != kRefused;
}

}  // namespace tally
