#pragma once
// The mempool: transactions a node has admitted but not yet seen committed, kept per sender in
// nonce order, from which proposers build blocks.
//
// Admission (add/admit) checks, in this order, each refusal with a stable code:
//
//   duplicate            the same transaction (by hash) is already pending
//   self_transfer, fee_too_low, amount_overflow
//                        the stateless format rules (check_transaction_format)
//   unknown_sender       the sender has no account
//   bad_nonce            the nonce is below the sender's account nonce (already used)
//   nonce_too_far_ahead  the nonce is more than limits.max_future_nonces past the account nonce
//   nonce_taken          another transaction with this (sender, nonce) is pending and the new
//                        one's fee is not strictly higher (a strictly higher fee replaces it)
//   too_many_pending     the sender already has limits.max_per_sender pending transactions
//   insufficient_funds, recipient_exists, unknown_recipient, balance_overflow
//                        the ledger rules, checked against the state plus the sender's pending
//                        transactions with lower nonces; only when every nonce between the
//                        account nonce and this one is pending (otherwise the transaction is a
//                        future one, held without these checks until the gap is filled)
//   mempool_full         the pool is at a limit and no evictable transaction pays less
//   invalid_signature    checked last, being the most expensive
//
// When the pool is full, a transaction that pays a strictly higher fee evicts the cheapest
// transaction among those that are the last pending nonce of their sender (ties: highest nonce,
// then lowest hash), so eviction never opens a gap in a sender's chain.
//
// Deterministic: no clock, no randomness, and no hash-table order reaches anything returned
// (block building orders by (fee, hash), eviction by (fee, nonce, hash)). Memory is bounded by
// the limits: at most max_transactions pending, plus a FIFO of at most max_transactions hashes of
// transactions recently evicted, replaced or dropped (not committed) whose signatures are known
// to be valid.
//
// Not thread-safe: one event loop owns the pool, including the verifier it hands out (whose
// const is_valid updates the cache). Use it from that loop only.

#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "consensus/engine.h"
#include "ledger/state.h"
#include "ledger/transaction.h"

namespace tally {

struct MempoolLimits {
  size_t max_transactions = 50'000;
  // Counted as kTransactionEncodedSize per transaction.
  size_t max_bytes = 64 * 1024 * 1024;
  // Per sender: how many nonces beyond the next expected one are kept.
  uint64_t max_future_nonces = 16;
  size_t max_per_sender = 64;
};

// What an accepted transaction did to the pool.
struct Admission {
  Hash256 hash;
  // The pending transaction with the same (sender, nonce) and a lower fee that it replaced.
  std::optional<Hash256> replaced;
  // The transaction evicted to make room.
  std::optional<Hash256> evicted;
};

class Mempool final : public TransactionPool {
 public:
  Mempool(std::string chain_id, MempoolLimits limits);

  // The verifier refers to the pool: neither may move.
  Mempool(const Mempool&) = delete;
  Mempool& operator=(const Mempool&) = delete;

  // TransactionPool
  using TransactionPool::add;
  Status add(const Transaction& transaction, const Hash256& hash, const State& state) override;
  // Greedy by fee: repeatedly takes, among senders whose next transaction is valid after the
  // ones already taken, the highest fee (ties: lowest hash). Fees are not credited to anyone
  // while building, so the block is valid whoever the proposer is. Also bounded by the chain's
  // max_block_txs and max_block_bytes. O(n log n) for n pending.
  std::vector<Transaction> select_for_block(const State& state, size_t max_transactions,
                                            size_t max_bytes) override;
  // Removes the block's transactions, then revalidates the pending chains of the block's senders
  // and of senders whose pending transactions create an account the block created: drops nonces
  // below the account nonce and the first transaction of the chain that fails the ledger rules
  // (later ones stay as future transactions). Cost: O(block + pending of affected senders).
  void remove_committed(const Block& block, std::span<const Hash256> transaction_hashes,
                        const State& state_after) override;
  size_t size() const override { return count_; }
  const SignatureVerifier& verifier() const override { return verifier_; }

  // add(), telling what the transaction replaced or evicted. REQUIRES: hash ==
  // transaction.hash().
  Result<Admission> admit(const Transaction& transaction, const Hash256& hash, const State& state);
  Result<Admission> admit(const Transaction& transaction, const State& state) {
    return admit(transaction, transaction.hash(), state);
  }

  bool contains(const Hash256& hash) const override { return index_.contains(hash); }
  std::optional<Transaction> get(const Hash256& hash) const override;
  size_t bytes() const { return bytes_; }
  size_t sender_count() const { return senders_.size(); }
  // The sender's pending transactions in nonce order.
  std::vector<Transaction> pending_of(const Address& sender) const;
  const MempoolLimits& limits() const { return limits_; }
  const std::string& chain_id() const { return chain_id_; }

  // Signature accounting. A hit is an answer given without running Ed25519 (the transaction is
  // pending or was recently); a miss is a verifier() call that had to verify. Every Ed25519
  // run, at admission or on a miss, counts in signatures_verified().
  uint64_t cache_hits() const { return verifier_.hits_; }
  uint64_t cache_misses() const { return verifier_.misses_; }
  uint64_t signatures_verified() const { return verifier_.verified_; }
  // Records that the signature of the transaction with this hash was verified for this chain
  // elsewhere (a worker thread), so admission and block validation do not verify it again.
  void note_signature_verified(const Hash256& hash) { verifier_.remember(hash); }
  // Whether the signature of the transaction with this hash is known to be valid here.
  bool signature_known(const Hash256& hash) const { return verifier_.known(hash); }

  // How the pool runs Ed25519 for its own chain (at admission, and in blocks for transactions it
  // has not seen): by default verify_transaction_signature. A node substitutes a check that also
  // times it and tells its worker pool, which may hold the same transaction, the outcome.
  using SignatureCheck = std::function<bool(const Transaction& transaction, const Hash256& hash)>;
  void set_signature_check(SignatureCheck check) { verifier_.check_ = std::move(check); }

 private:
  struct Pending {
    Transaction transaction;
    Hash256 hash;
  };
  using Chain = std::map<uint64_t, Pending>;  // by nonce

  // The last pending nonce of a sender: the candidates for eviction.
  struct Tail {
    Amount fee;
    uint64_t nonce = 0;
    Hash256 hash;
    Address sender;
  };
  struct TailOrder {
    bool operator()(const Tail& left, const Tail& right) const {
      if (left.fee != right.fee)
        return left.fee < right.fee;
      if (left.nonce != right.nonce)
        return left.nonce > right.nonce;
      return left.hash < right.hash;
    }
  };

  struct Location {
    Address sender;
    uint64_t nonce = 0;
  };

  class CachingVerifier final : public SignatureVerifier {
   public:
    CachingVerifier(const Mempool& pool, size_t recent_capacity)
        : pool_(pool), recent_capacity_(recent_capacity) {}
    bool is_valid(const Transaction& transaction, std::string_view chain_id) const override;
    bool is_valid_hashed(const Transaction& transaction, const Hash256& hash,
                         std::string_view chain_id) const override;

    // Whether the signature of the transaction with this hash is known to be valid.
    bool known(const Hash256& hash) const;
    // Runs Ed25519 for this pool's chain and counts it.
    bool verify(const Transaction& transaction, const Hash256& hash) const;
    // Remembers a hash whose signature is valid, forgetting the oldest beyond capacity.
    void remember(const Hash256& hash) const;

   private:
    friend class Mempool;
    const Mempool& pool_;
    size_t recent_capacity_;
    mutable absl::flat_hash_set<Hash256, FixedBytesHasher<32>> recent_;
    mutable std::deque<Hash256> recent_order_;
    mutable uint64_t hits_ = 0;
    mutable uint64_t misses_ = 0;
    mutable uint64_t verified_ = 0;
    SignatureCheck check_;
  };

  // Why a transaction leaves the pool. A committed one's signature is not remembered: the node
  // turns committed transactions away before asking, and a block cannot hold one again.
  enum class Removal { committed, dropped };
  // Remove / add one pending transaction, keeping the index, the byte count and the tail set
  // (touched only when the chain's last nonce changes) current.
  Chain::iterator erase_pending(Chain& chain, Chain::iterator position,
                                Removal removal = Removal::dropped);
  void insert_pending(Chain& chain, const Transaction& transaction, const Hash256& hash);
  void untrack_tail(const Chain& chain);
  void track_tail(const Address& sender, const Chain& chain);
  // Starts loading the state entries of the recipients of the chain's transactions with nonces
  // below `below_nonce`.
  static void prefetch_recipients(const Chain& chain, const State& state, uint64_t below_nonce);
  // Drops the sender's pending transactions with nonces below `next_nonce`.
  void drop_stale(const Address& sender, uint64_t next_nonce);
  // Drops the sender's stale nonces and re-checks its chain against `state`.
  void revalidate_sender(const Address& sender, const State& state);
  // The transaction to evict to make room for `transaction`, if any may be.
  std::optional<Tail> eviction_candidate(const Transaction& transaction) const;
  bool full() const;

  std::string chain_id_;
  MempoolLimits limits_;
  absl::flat_hash_map<Address, Chain, AddressHasher> senders_;
  absl::flat_hash_map<Hash256, Location, FixedBytesHasher<32>> index_;
  std::set<Tail, TailOrder> tails_;
  // Pending transactions with `create` set, as (to, from, nonce): found again when a block
  // creates `to` some other way.
  std::set<std::tuple<Address, Address, uint64_t>> pending_creates_;
  size_t count_ = 0;
  size_t bytes_ = 0;
  CachingVerifier verifier_;
};

}  // namespace tally
