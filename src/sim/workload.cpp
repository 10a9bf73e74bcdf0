#include "sim/workload.h"

namespace tally::sim {
namespace {

constexpr uint64_t kOutstandingTimeoutMs = 3000;
constexpr uint64_t kMinFee = 1000;  // the simulator's genesis min_fee

SecretKey key_from(Random& random) {
  Seed seed;
  seed.data = random.hash().data;
  return SecretKey::from_seed(seed);
}

}  // namespace

std::string_view transaction_kind_name(TransactionKind kind) {
  switch (kind) {
    case TransactionKind::transfer:
      return "transfer";
    case TransactionKind::create_account:
      return "create_account";
    case TransactionKind::double_spend:
      return "double_spend";
    case TransactionKind::unknown_recipient:
      return "unknown_recipient";
    case TransactionKind::insufficient_funds:
      return "insufficient_funds";
    case TransactionKind::bad_signature:
      return "bad_signature";
    case TransactionKind::create_existing:
      return "create_existing";
  }
  return "unknown";
}

Workload::Workload(Random random, std::string chain_id, size_t funded_accounts,
                   size_t max_transactions)
    : random_(random), chain_id_(std::move(chain_id)), max_transactions_(max_transactions) {
  for (size_t index = 0; index < funded_accounts; ++index) {
    SecretKey key = key_from(random_);
    Address address{key.public_key()};
    accounts_.push_back(Account{std::move(key), address});
  }
}

std::vector<Address> Workload::funded_addresses() const {
  std::vector<Address> addresses;
  for (const Account& account : accounts_)
    addresses.push_back(account.address);
  return addresses;
}

Transaction Workload::sign(const Account& from, const Address& to, uint64_t amount, uint64_t fee,
                           uint64_t nonce, bool create) const {
  Transfer transfer{from.address, to, Amount{amount}, Amount{fee}, nonce, create};
  return sign_transfer(transfer, from.key, chain_id_);
}

uint64_t Workload::fee() {
  return kMinFee + random_.range(0, 4) * 250;
}

std::optional<size_t> Workload::pick_idle_sender(uint64_t now_ms, const State& view,
                                                 const State& committed) {
  std::vector<size_t> idle;
  for (size_t index = 0; index < accounts_.size(); ++index) {
    Account& account = accounts_[index];
    std::optional<tally::Account> settled = committed.account(account.address);
    if (account.busy_until_ms > now_ms && settled && settled->nonce > account.outstanding_nonce) {
      account.busy_until_ms = 0;  // committed: free again
    }
    std::optional<tally::Account> seen = view.account(account.address);
    if (account.busy_until_ms <= now_ms && seen && seen->balance.units > 10 * kMinFee) {
      idle.push_back(index);
    }
  }
  if (idle.empty())
    return std::nullopt;
  return random_.pick(idle);
}

Address Workload::random_existing_recipient(const State& view, const Address& not_this) {
  std::vector<Address> candidates;
  for (const Account& account : accounts_) {
    if (account.address != not_this && view.account(account.address)) {
      candidates.push_back(account.address);
    }
  }
  if (candidates.empty())
    return not_this;  // never happens with two or more funded accounts
  return random_.pick(candidates);
}

std::vector<Submission> Workload::next(uint64_t now_ms,
                                       const std::vector<const State*>& node_states,
                                       const State& committed) {
  std::vector<Submission> submissions;
  if (exhausted())
    return submissions;

  // Endorsed accounts join the senders once the chain has them.
  for (auto created = being_created_.begin(); created != being_created_.end();) {
    if (committed.account(created->address)) {
      accounts_.push_back(std::move(*created));
      created = being_created_.erase(created);
    } else {
      ++created;
    }
  }

  std::vector<size_t> open_nodes;
  for (size_t index = 0; index < node_states.size(); ++index) {
    if (node_states[index] != nullptr)
      open_nodes.push_back(index);
  }
  if (open_nodes.empty())
    return submissions;
  size_t node = random_.pick(open_nodes);
  const State& view = *node_states[node];

  std::optional<size_t> sender_index = pick_idle_sender(now_ms, view, committed);
  if (!sender_index)
    return submissions;
  Account& sender = accounts_[*sender_index];
  tally::Account sender_state = *view.account(sender.address);
  uint64_t nonce = sender_state.nonce;
  uint64_t balance = sender_state.balance.units;
  uint64_t spendable = balance - 2 * kMinFee * 4;  // leaves room for the fee

  // Weights out of 100.
  uint64_t roll = random_.below(100);
  TransactionKind kind = roll < 50   ? TransactionKind::transfer
                         : roll < 62 ? TransactionKind::create_account
                         : roll < 72 ? TransactionKind::double_spend
                         : roll < 79 ? TransactionKind::unknown_recipient
                         : roll < 86 ? TransactionKind::insufficient_funds
                         : roll < 93 ? TransactionKind::bad_signature
                                     : TransactionKind::create_existing;
  auto mark_busy = [&] {
    sender.busy_until_ms = now_ms + kOutstandingTimeoutMs;
    sender.outstanding_nonce = nonce;
  };
  auto small_amount = [&] {
    return random_.range(0, std::min<uint64_t>(spendable / 50, 1'000'000));
  };

  switch (kind) {
    case TransactionKind::transfer: {
      Address to = random_existing_recipient(view, sender.address);
      submissions.push_back(
          {node, sign(sender, to, small_amount(), fee(), nonce, false), kind, false});
      mark_busy();
      break;
    }
    case TransactionKind::create_account: {
      SecretKey key = key_from(random_);
      Address address{key.public_key()};
      submissions.push_back(
          {node, sign(sender, address, small_amount(), fee(), nonce, true), kind, false});
      being_created_.push_back(Account{std::move(key), address});
      mark_busy();
      break;
    }
    case TransactionKind::double_spend: {
      Address first_to = random_existing_recipient(view, sender.address);
      Address second_to = random_existing_recipient(view, sender.address);
      uint64_t amount = small_amount();
      size_t other_node = random_.pick(open_nodes);
      submissions.push_back(
          {node, sign(sender, first_to, amount, fee(), nonce, false), kind, false});
      submissions.push_back(
          {other_node, sign(sender, second_to, amount + 1, fee(), nonce, false), kind, false});
      mark_busy();
      break;
    }
    case TransactionKind::unknown_recipient: {
      Address nowhere{random_.hash()};
      submissions.push_back(
          {node, sign(sender, nowhere, small_amount(), fee(), nonce, false), kind, true});
      break;
    }
    case TransactionKind::insufficient_funds: {
      Address to = random_existing_recipient(view, sender.address);
      uint64_t fee_units = fee();
      uint64_t amount = balance - fee_units + 1 + random_.range(0, 1000);
      submissions.push_back({node, sign(sender, to, amount, fee_units, nonce, false), kind, true});
      break;
    }
    case TransactionKind::bad_signature: {
      Address to = random_existing_recipient(view, sender.address);
      Transaction transaction = sign(sender, to, small_amount(), fee(), nonce, false);
      transaction.signature.data[random_.below(64)] ^= uint8_t(1u << random_.below(8));
      submissions.push_back({node, transaction, kind, true});
      break;
    }
    case TransactionKind::create_existing: {
      Address to = random_existing_recipient(view, sender.address);
      submissions.push_back(
          {node, sign(sender, to, small_amount(), fee(), nonce, true), kind, true});
      break;
    }
  }
  generated_ += submissions.size();
  return submissions;
}

}  // namespace tally::sim
