#pragma once
// The smallest honest TransactionPool, for engine tests: keeps transactions in arrival order and
// offers those valid in sequence.

#include <vector>

#include "consensus/engine.h"

namespace tally::testing {

class SimplePool final : public TransactionPool {
 public:
  using TransactionPool::add;
  Status add(const Transaction& transaction, const Hash256& hash, const State& state) override {
    TALLY_ASSERT(hash == transaction.hash());
    for (const Transaction& known : pending_) {
      if (known == transaction)
        return make_error("duplicate", "already pending");
    }
    TALLY_TRY(state.validate(transaction));
    pending_.push_back(transaction);
    return Status::success();
  }
  std::vector<Transaction> select_for_block(const State& state, size_t max_transactions,
                                            size_t) override {
    std::vector<Transaction> selected;
    StateOverlay overlay(state);
    for (const Transaction& transaction : pending_) {
      if (selected.size() == max_transactions)
        break;
      // The fee recipient does not matter for validity in sequence; use the sender.
      if (overlay.apply(transaction, transaction.transfer.from, state.height() + 1).ok()) {
        selected.push_back(transaction);
      }
    }
    return selected;
  }
  void remove_committed(const Block& block, std::span<const Hash256> transaction_hashes,
                        const State& state_after) override {
    TALLY_ASSERT(transaction_hashes.size() == block.transactions.size());
    std::erase_if(pending_, [&](const Transaction& transaction) {
      for (const Transaction& included : block.transactions) {
        if (included == transaction)
          return true;
      }
      return !state_after.validate(transaction).ok();
    });
  }
  size_t size() const override { return pending_.size(); }
  bool contains(const Hash256& hash) const override { return get(hash).has_value(); }
  std::optional<Transaction> get(const Hash256& hash) const override {
    for (const Transaction& known : pending_) {
      if (known.hash() == hash)
        return known;
    }
    return std::nullopt;
  }
  const SignatureVerifier& verifier() const override { return verifier_; }

 private:
  std::vector<Transaction> pending_;
  DirectSignatureVerifier verifier_;
};

}  // namespace tally::testing
