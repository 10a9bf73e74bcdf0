#include "mempool/mempool.h"

#include <algorithm>
#include <queue>
#include <utility>

namespace tally {
namespace {

// Applies transactions in sequence on a StateOverlay without crediting fees to anyone.
//
// StateOverlay::apply needs an existing account to credit the fee to, and the proposer is not
// known here. Each transaction's fee is therefore credited to its own recipient (which exists
// once the transfer is applied) and recorded in `credited_`; the sender's balance check is then
// made against its overlay balance minus the fees credited to it. The result: a transaction is
// accepted only if it is valid when nobody receives the fees. In a real block the proposer
// receives them, which only raises one balance, so every accepted sequence stays valid whoever
// the proposer is (a higher recipient balance could only matter for balance_overflow, which a
// supply below 2^64 rules out).
class FeelessSequence {
 public:
  explicit FeelessSequence(const State& state) : overlay_(state), height_(state.height() + 1) {}

  Status apply(const Transaction& transaction) {
    TALLY_TRY(overlay_.check(transaction));
    const Transfer& transfer = transaction.transfer;
    auto credited = credited_.find(transfer.from);
    if (credited != credited_.end()) {
      Amount balance = overlay_.account(transfer.from)->balance;
      // The overlay balance includes the credited fees, so this cannot underflow.
      Amount own = *checked_sub(balance, credited->second);
      Amount debit = *checked_add(transfer.amount, transfer.fee);
      if (debit > own) {
        return make_error("insufficient_funds", "amount plus fee is " + format_amount(debit) +
                                                    " TALLY but the balance is " +
                                                    format_amount(own) + " TALLY");
      }
    }
    overlay_.apply_checked(transaction, transfer.to, height_);  // checked above
    Amount& total = credited_[transfer.to];
    total = *checked_add(total, transfer.fee);  // bounded by the supply
    return Status::success();
  }

 private:
  StateOverlay overlay_;
  uint64_t height_;
  absl::flat_hash_map<Address, Amount, AddressHasher> credited_;
};

}  // namespace

// The accounts a FeelessSequence over the chain (below `below_nonce`) will read, fetched
// together: with a million accounts each recipient misses the cache, and applied one by one
// the misses would not overlap. The sender's own entry is read first, so it needs none.
void Mempool::prefetch_recipients(const Chain& chain, const State& state, uint64_t below_nonce) {
  for (auto pending = chain.begin(); pending != chain.end() && pending->first < below_nonce;
       ++pending)
    state.prefetch_account(pending->second.transaction.transfer.to);
}

// ---------------------------------------------------------------------------------------------
// CachingVerifier

bool Mempool::CachingVerifier::known(const Hash256& hash) const {
  return pool_.index_.contains(hash) || recent_.contains(hash);
}

bool Mempool::CachingVerifier::verify(const Transaction& transaction, const Hash256& hash) const {
  verified_ += 1;
  if (check_)
    return check_(transaction, hash);
  return verify_transaction_signature(transaction, pool_.chain_id_);
}

void Mempool::CachingVerifier::remember(const Hash256& hash) const {
  if (recent_capacity_ == 0 || !recent_.insert(hash).second)
    return;
  recent_order_.push_back(hash);
  while (recent_order_.size() > recent_capacity_) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

bool Mempool::CachingVerifier::is_valid(const Transaction& transaction,
                                        std::string_view chain_id) const {
  return is_valid_hashed(transaction, transaction.hash(), chain_id);
}

bool Mempool::CachingVerifier::is_valid_hashed(const Transaction& transaction, const Hash256& hash,
                                               std::string_view chain_id) const {
  // Cached results hold for this chain's signing message only.
  if (chain_id != pool_.chain_id_) {
    misses_ += 1;
    verified_ += 1;
    return verify_transaction_signature(transaction, chain_id);
  }
  if (known(hash)) {
    hits_ += 1;
    return true;
  }
  misses_ += 1;
  if (!verify(transaction, hash))
    return false;
  remember(hash);
  return true;
}

// ---------------------------------------------------------------------------------------------
// Mempool

Mempool::Mempool(std::string chain_id, MempoolLimits limits)
    : chain_id_(std::move(chain_id)),
      limits_(limits),
      verifier_(*this, std::max<size_t>(limits.max_transactions, 1)) {}

Status Mempool::add(const Transaction& transaction, const Hash256& hash, const State& state) {
  return admit(transaction, hash, state).status();
}

bool Mempool::full() const {
  return count_ + 1 > limits_.max_transactions ||
         bytes_ + kTransactionEncodedSize > limits_.max_bytes;
}

Result<Admission> Mempool::admit(const Transaction& transaction, const Hash256& hash,
                                 const State& state) {
  TALLY_ASSERT_MSG(state.chain_id() == chain_id_, "the mempool and the state disagree on chain id");
  const Transfer& transfer = transaction.transfer;
  Admission admission;
  admission.hash = hash;
  if (index_.contains(admission.hash)) {
    return make_error("duplicate", "transaction " + admission.hash.hex() + " is already pending");
  }
  TALLY_TRY(check_transaction_format(transaction, state.params()));

  std::optional<Account> sender = state.account(transfer.from);
  if (!sender) {
    return make_error("unknown_sender", "sender " + transfer.from.to_string() + " has no account");
  }
  if (transfer.nonce < sender->nonce) {
    return make_error("bad_nonce", "nonce " + std::to_string(transfer.nonce) +
                                       " was already used; the sender's next nonce is " +
                                       std::to_string(sender->nonce));
  }
  if (transfer.nonce - sender->nonce > limits_.max_future_nonces) {
    return make_error("nonce_too_far_ahead",
                      "nonce " + std::to_string(transfer.nonce) + " is more than " +
                          std::to_string(limits_.max_future_nonces) +
                          " ahead of the sender's next nonce " + std::to_string(sender->nonce));
  }

  // Nonces below the account nonce can never be included again: forget them first (normally
  // remove_committed already has).
  drop_stale(transfer.from, sender->nonce);
  auto chain_found = senders_.find(transfer.from);
  const Chain* chain = chain_found == senders_.end() ? nullptr : &chain_found->second;

  // A pending transaction with the same nonce is replaced only by a strictly higher fee.
  std::optional<Hash256> previous;
  if (chain) {
    auto same_nonce = chain->find(transfer.nonce);
    if (same_nonce != chain->end()) {
      if (transfer.fee <= same_nonce->second.transaction.transfer.fee) {
        return make_error("nonce_taken",
                          "transaction " + same_nonce->second.hash.hex() + " with nonce " +
                              std::to_string(transfer.nonce) +
                              " is pending; a replacement must pay a strictly higher fee");
      }
      previous = same_nonce->second.hash;
    }
  }
  if (!previous && chain && chain->size() >= limits_.max_per_sender) {
    return make_error("too_many_pending", "the sender already has " +
                                              std::to_string(chain->size()) +
                                              " pending transactions, the limit");
  }

  // The ledger rules, after the sender's pending transactions with lower nonces. With a gap
  // below this nonce (or a pending transaction there that no longer applies) the transaction
  // is a future one and waits unchecked.
  {
    if (chain)
      prefetch_recipients(*chain, state, transfer.nonce);
    state.prefetch_account(transfer.to);
    FeelessSequence sequence(state);
    bool reachable = true;
    for (uint64_t nonce = sender->nonce; nonce < transfer.nonce; ++nonce) {
      auto pending = chain ? chain->find(nonce) : Chain::const_iterator();
      if (!chain || pending == chain->end() || !sequence.apply(pending->second.transaction).ok()) {
        reachable = false;
        break;
      }
    }
    if (reachable)
      TALLY_TRY(sequence.apply(transaction));
  }

  std::optional<Tail> evict;
  if (!previous && full()) {
    evict = eviction_candidate(transaction);
    if (!evict) {
      return make_error("mempool_full",
                        "the mempool is full and no pending transaction pays a lower fee than " +
                            format_amount(transfer.fee) + " TALLY");
    }
  }

  // The signature last. A transaction seen recently (evicted, replaced) was verified then.
  if (verifier_.recent_.contains(admission.hash)) {
    verifier_.hits_ += 1;
  } else if (!verifier_.verify(transaction, admission.hash)) {
    return make_error("invalid_signature", "the signature does not match the sender's key");
  }

  if (evict) {
    admission.evicted = evict->hash;
    Chain& victim_chain = senders_.find(evict->sender)->second;
    erase_pending(victim_chain, victim_chain.find(evict->nonce));
    if (victim_chain.empty())
      senders_.erase(evict->sender);
  }
  Chain& target = senders_[transfer.from];
  if (previous) {
    admission.replaced = previous;
    erase_pending(target, target.find(transfer.nonce));
  }
  insert_pending(target, transaction, admission.hash);
  return admission;
}

std::optional<Mempool::Tail> Mempool::eviction_candidate(const Transaction& transaction) const {
  const Transfer& transfer = transaction.transfer;
  for (const Tail& tail : tails_) {
    if (tail.fee >= transfer.fee)
      return std::nullopt;
    // Evicting the sender's own last nonce below this one would leave this one behind a gap.
    if (tail.sender == transfer.from && tail.nonce < transfer.nonce)
      continue;
    return tail;
  }
  return std::nullopt;
}

void Mempool::insert_pending(Chain& chain, const Transaction& transaction, const Hash256& hash) {
  const Transfer& transfer = transaction.transfer;
  // The tail set changes only when the sender's last nonce does.
  const bool new_tail = chain.empty() || chain.rbegin()->first < transfer.nonce;
  if (new_tail)
    untrack_tail(chain);
  chain.emplace(transfer.nonce, Pending{transaction, hash});
  if (new_tail)
    track_tail(transfer.from, chain);
  index_.emplace(hash, Location{transfer.from, transfer.nonce});
  if (transfer.create)
    pending_creates_.emplace(transfer.to, transfer.from, transfer.nonce);
  count_ += 1;
  bytes_ += kTransactionEncodedSize;
}

Mempool::Chain::iterator Mempool::erase_pending(Chain& chain, Chain::iterator position,
                                                Removal removal) {
  const Transfer& transfer = position->second.transaction.transfer;
  const Address sender = transfer.from;
  const bool was_tail = std::next(position) == chain.end();
  if (was_tail)
    untrack_tail(chain);
  if (transfer.create)
    pending_creates_.erase({transfer.to, transfer.from, transfer.nonce});
  index_.erase(position->second.hash);
  // Its signature was verified at admission; keep that answer for a while (the transaction may
  // come back inside a block or be submitted again).
  if (removal == Removal::dropped)
    verifier_.remember(position->second.hash);
  count_ -= 1;
  bytes_ -= kTransactionEncodedSize;
  auto next = chain.erase(position);
  if (was_tail)
    track_tail(sender, chain);
  return next;
}

void Mempool::untrack_tail(const Chain& chain) {
  if (chain.empty())
    return;
  const Pending& last = chain.rbegin()->second;
  tails_.erase(Tail{last.transaction.transfer.fee, last.transaction.transfer.nonce, last.hash,
                    last.transaction.transfer.from});
}

void Mempool::track_tail(const Address& sender, const Chain& chain) {
  if (chain.empty())
    return;
  const Pending& last = chain.rbegin()->second;
  tails_.insert(
      Tail{last.transaction.transfer.fee, last.transaction.transfer.nonce, last.hash, sender});
}

void Mempool::drop_stale(const Address& sender, uint64_t next_nonce) {
  auto found = senders_.find(sender);
  if (found == senders_.end() || found->second.begin()->first >= next_nonce)
    return;
  Chain& chain = found->second;
  auto position = chain.begin();
  while (position != chain.end() && position->first < next_nonce)
    position = erase_pending(chain, position);
  if (chain.empty())
    senders_.erase(found);
}

void Mempool::revalidate_sender(const Address& sender, const State& state) {
  auto found = senders_.find(sender);
  if (found == senders_.end())
    return;
  Chain& chain = found->second;
  std::optional<Account> account = state.account(sender);
  // Accounts are never deleted, so a sender with pending transactions has an account.
  uint64_t next = account ? account->nonce : UINT64_MAX;
  auto position = chain.begin();
  while (position != chain.end() && position->first < next)
    position = erase_pending(chain, position);
  if (account) {
    FeelessSequence sequence(state);
    for (uint64_t nonce = next; position != chain.end() && position->first == nonce; ++nonce) {
      if (!sequence.apply(position->second.transaction).ok()) {
        // Later nonces stay, as future transactions, until this one is replaced.
        erase_pending(chain, position);
        break;
      }
      ++position;
    }
  }
  if (chain.empty())
    senders_.erase(found);
}

void Mempool::remove_committed(const Block& block, std::span<const Hash256> transaction_hashes,
                               const State& state_after) {
  TALLY_ASSERT(transaction_hashes.size() == block.transactions.size());
  std::vector<Address> affected;
  affected.reserve(block.transactions.size());
  for (size_t index = 0; index < block.transactions.size(); ++index) {
    const Transfer& transfer = block.transactions[index].transfer;
    auto location = index_.find(transaction_hashes[index]);
    if (location != index_.end()) {
      Chain& chain = senders_.find(location->second.sender)->second;
      erase_pending(chain, chain.find(location->second.nonce), Removal::committed);
      if (chain.empty())
        senders_.erase(transfer.from);
    }
    affected.push_back(transfer.from);
    if (transfer.create) {
      // Pending transactions that would create the same account can no longer apply.
      for (auto creator = pending_creates_.lower_bound({transfer.to, Address{}, 0});
           creator != pending_creates_.end() && std::get<0>(*creator) == transfer.to; ++creator) {
        affected.push_back(std::get<1>(*creator));
      }
    }
  }
  // Each sender once, in address order.
  std::sort(affected.begin(), affected.end());
  affected.erase(std::unique(affected.begin(), affected.end()), affected.end());
  // Revalidation re-applies each chain; its accounts are fetched a few senders ahead.
  constexpr size_t kPrefetchSenders = 4;
  auto prefetch_for = [&](size_t index) {
    if (index >= affected.size())
      return;
    state_after.prefetch_account(affected[index]);
    if (auto found = senders_.find(affected[index]); found != senders_.end())
      prefetch_recipients(found->second, state_after, UINT64_MAX);
  };
  for (size_t index = 0; index < kPrefetchSenders; ++index)
    prefetch_for(index);
  for (size_t index = 0; index < affected.size(); ++index) {
    prefetch_for(index + kPrefetchSenders);
    revalidate_sender(affected[index], state_after);
  }
}

std::vector<Transaction> Mempool::select_for_block(const State& state, size_t max_transactions,
                                                   size_t max_bytes) {
  TALLY_ASSERT_MSG(state.chain_id() == chain_id_, "the mempool and the state disagree on chain id");
  max_transactions = std::min<size_t>(max_transactions, state.params().max_block_txs);
  max_bytes = std::min<size_t>(max_bytes, state.params().max_block_bytes);

  struct Candidate {
    const Pending* pending;
    const Chain* chain;
  };
  // Highest fee first, then lowest hash: a total order, so the hash-table order in which the
  // candidates are found never shows.
  auto lower_priority = [](const Candidate& left, const Candidate& right) {
    Amount left_fee = left.pending->transaction.transfer.fee;
    Amount right_fee = right.pending->transaction.transfer.fee;
    if (left_fee != right_fee)
      return left_fee < right_fee;
    return left.pending->hash > right.pending->hash;
  };
  std::vector<Candidate> heads;
  heads.reserve(senders_.size());
  for (const auto& [sender, chain] : senders_) {
    std::optional<Account> account = state.account(sender);
    if (!account)
      continue;
    auto next = chain.find(account->nonce);
    if (next != chain.end())
      heads.push_back(Candidate{&next->second, &chain});
  }
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(lower_priority)> queue(
      lower_priority, std::move(heads));

  std::vector<Transaction> selected;
  size_t bytes = 0;
  FeelessSequence sequence(state);
  while (!queue.empty() && selected.size() < max_transactions &&
         bytes + kTransactionEncodedSize <= max_bytes) {
    Candidate best = queue.top();
    queue.pop();
    const Transaction& transaction = best.pending->transaction;
    // A transaction that does not apply is skipped, and so is the rest of its sender's chain.
    if (!sequence.apply(transaction).ok())
      continue;
    selected.push_back(transaction);
    bytes += kTransactionEncodedSize;
    auto next = best.chain->find(transaction.transfer.nonce + 1);
    if (next != best.chain->end())
      queue.push(Candidate{&next->second, best.chain});
  }
  return selected;
}

std::optional<Transaction> Mempool::get(const Hash256& hash) const {
  auto location = index_.find(hash);
  if (location == index_.end())
    return std::nullopt;
  return senders_.at(location->second.sender).at(location->second.nonce).transaction;
}

std::vector<Transaction> Mempool::pending_of(const Address& sender) const {
  std::vector<Transaction> pending;
  auto found = senders_.find(sender);
  if (found == senders_.end())
    return pending;
  pending.reserve(found->second.size());
  for (const auto& [nonce, entry] : found->second)
    pending.push_back(entry.transaction);
  return pending;
}

}  // namespace tally
