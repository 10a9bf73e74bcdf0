#include "ledger/state.h"

#include <algorithm>

namespace tally {
namespace {

std::string describe(const Address& address) {
  return address.to_string();
}

Error invalid_signature() {
  return make_error("invalid_signature", "the signature does not match the sender's key");
}

// The state tree entries of changed accounts: (tree key, value hash) each.
std::vector<std::pair<Hash256, Hash256>> tree_updates(
    const std::vector<std::pair<Address, Account>>& changes) {
  std::vector<std::pair<Hash256, Hash256>> updates;
  updates.reserve(changes.size());
  for (const auto& [address, changed] : changes)
    updates.emplace_back(account_tree_key(address), account_value_hash(changed));
  return updates;
}

}  // namespace

bool DirectSignatureVerifier::is_valid(const Transaction& transaction,
                                       std::string_view chain_id) const {
  return verify_transaction_signature(transaction, chain_id);
}

Status check_transaction_format(const Transaction& transaction, const ChainParams& params) {
  const Transfer& transfer = transaction.transfer;
  if (transfer.from == transfer.to) {
    return make_error("self_transfer", "sender and recipient are the same account");
  }
  if (transfer.fee < params.min_fee) {
    return make_error("fee_too_low", "fee " + format_amount(transfer.fee) +
                                         " TALLY is below the minimum of " +
                                         format_amount(params.min_fee) + " TALLY");
  }
  if (!checked_add(transfer.amount, transfer.fee)) {
    return make_error("amount_overflow", "amount plus fee overflows 64 bits");
  }
  return Status::success();
}

// ---------------------------------------------------------------------------------------------
// StateOverlay

StateOverlay::StateOverlay(const State& base) : base_(base) {}

std::optional<Account> StateOverlay::account(const Address& address) const {
  auto changed = changes_.find(address);
  if (changed != changes_.end())
    return changed->second;
  return base_.account(address);
}

Status StateOverlay::check(const Transaction& transaction) const {
  TALLY_TRY(check_transaction_format(transaction, base_.params_));
  const Transfer& transfer = transaction.transfer;

  std::optional<Account> sender = account(transfer.from);
  if (!sender) {
    return make_error("unknown_sender", "sender " + describe(transfer.from) + " has no account");
  }
  if (transfer.nonce != sender->nonce) {
    return make_error("bad_nonce", "nonce " + std::to_string(transfer.nonce) +
                                       " does not match the sender's next nonce " +
                                       std::to_string(sender->nonce));
  }
  Amount debit = *checked_add(transfer.amount, transfer.fee);  // checked by the format rules
  if (debit > sender->balance) {
    return make_error("insufficient_funds", "amount plus fee is " + format_amount(debit) +
                                                " TALLY but the balance is " +
                                                format_amount(sender->balance) + " TALLY");
  }

  std::optional<Account> recipient = account(transfer.to);
  if (transfer.create && recipient) {
    return make_error("recipient_exists",
                      "cannot create " + describe(transfer.to) + ": the account already exists");
  }
  if (!transfer.create && !recipient) {
    return make_error("unknown_recipient",
                      "recipient " + describe(transfer.to) +
                          " has no account; set create to endorse it as a new account");
  }
  if (recipient && !checked_add(recipient->balance, transfer.amount)) {
    return make_error("balance_overflow", "the recipient's balance would overflow");
  }
  return Status::success();
}

Status StateOverlay::apply(const Transaction& transaction, const Address& fee_recipient,
                           uint64_t height) {
  TALLY_TRY(check(transaction));
  apply_checked(transaction, fee_recipient, height);
  return Status::success();
}

void StateOverlay::apply_checked(const Transaction& transaction, const Address& fee_recipient,
                                 uint64_t height) {
  const Transfer& transfer = transaction.transfer;

  // Read-modify-write each account in turn, so that any of sender, recipient and fee recipient
  // may coincide (a proposer may send to or receive from anyone).
  std::optional<Account> existing_sender = account(transfer.from);
  TALLY_ASSERT_MSG(existing_sender.has_value(), "apply_checked on an unchecked transaction");
  Account sender = *existing_sender;
  sender.balance = *checked_sub(sender.balance, *checked_add(transfer.amount, transfer.fee));
  sender.nonce += 1;
  changes_[transfer.from] = sender;

  Account recipient;
  if (transfer.create) {
    recipient.endorser = transfer.from;
    recipient.created_height = height;
  } else {
    std::optional<Account> existing_recipient = account(transfer.to);
    TALLY_ASSERT_MSG(existing_recipient.has_value(), "apply_checked on an unchecked transaction");
    recipient = *existing_recipient;
  }
  recipient.balance = *checked_add(recipient.balance, transfer.amount);
  changes_[transfer.to] = recipient;

  std::optional<Account> collector = account(fee_recipient);
  TALLY_ASSERT_MSG(collector.has_value(), "the fee recipient must have an account");
  std::optional<Amount> collected = checked_add(collector->balance, transfer.fee);
  // Every balance is part of a supply that fits in 64 bits, so this cannot overflow.
  TALLY_ASSERT(collected.has_value());
  collector->balance = *collected;
  changes_[fee_recipient] = *collector;
}

// ---------------------------------------------------------------------------------------------
// State

Result<State> State::from_genesis(const Genesis& genesis) {
  TALLY_TRY(genesis.validate());
  State state;
  state.chain_id_ = genesis.chain_id;
  state.params_ = genesis.params;
  state.total_supply_ = genesis.total_supply;
  state.accounts_.reserve(genesis.accounts.size() + genesis.validators.size());
  for (const GenesisAllocation& allocation : genesis.accounts) {
    Account account;
    account.balance = allocation.balance;
    state.accounts_.emplace(allocation.address, account);
  }
  // Fees are credited to validators, so every validator needs an account from the start.
  for (const GenesisValidator& validator : genesis.validators) {
    state.accounts_.try_emplace(validator.address, Account{});
  }
  for (const auto& [address, account] : state.accounts_) {
    state.tree_.set(account_tree_key(address), account_value_hash(account));
  }
  state.tree_.root();  // Keeps the tree clean (see tree_).
  TALLY_ASSERT(state.sum_of_balances() == state.total_supply_.units);
  return state;
}

Result<State> State::from_accounts(const Genesis& genesis, uint64_t height,
                                   std::vector<std::pair<Address, Account>> accounts) {
  TALLY_TRY(genesis.validate());
  auto invalid = [](std::string message) {
    return make_error("invalid_state", std::move(message));
  };
  State state;
  state.chain_id_ = genesis.chain_id;
  state.params_ = genesis.params;
  state.total_supply_ = genesis.total_supply;
  state.height_ = height;
  state.accounts_.reserve(accounts.size());
  unsigned __int128 sum = 0;
  for (auto& [address, account] : accounts) {
    sum += account.balance.units;
    if (!state.accounts_.emplace(address, account).second) {
      return invalid("duplicate account " + address.to_string());
    }
    state.tree_.set(account_tree_key(address), account_value_hash(account));
  }
  if (sum != genesis.total_supply.units) {
    return invalid("balances do not sum to the total supply");
  }
  for (const GenesisValidator& validator : genesis.validators) {
    if (state.accounts_.count(validator.address) == 0) {
      return invalid("validator " + validator.address.to_string() + " has no account");
    }
  }
  state.tree_.root();  // Keeps the tree clean (see tree_).
  return state;
}

std::optional<Account> State::account(const Address& address) const {
  auto found = accounts_.find(address);
  if (found == accounts_.end())
    return std::nullopt;
  return found->second;
}

Status State::validate(const Transaction& transaction, const SignatureVerifier& verifier) const {
  StateOverlay overlay(*this);
  TALLY_TRY(overlay.check(transaction));
  // The signature last: it is the most expensive check.
  if (!verifier.is_valid(transaction, chain_id_))
    return invalid_signature();
  return Status::success();
}

Status State::validate(const Transaction& transaction) const {
  return validate(transaction, DirectSignatureVerifier());
}

Result<PendingBlock> State::execute_changes(uint64_t height, const Address& proposer,
                                            std::span<const Transaction> transactions,
                                            const SignatureVerifier& verifier,
                                            std::span<const Hash256> transaction_hashes) const {
  TALLY_ASSERT_MSG(transaction_hashes.empty() || transaction_hashes.size() == transactions.size(),
                   "a block's transaction hashes do not match its transactions");
  if (height != height_ + 1) {
    return make_error("wrong_height", "expected a block at height " + std::to_string(height_ + 1) +
                                          ", got " + std::to_string(height));
  }
  if (!account(proposer)) {
    return make_error("unknown_proposer",
                      "the proposer " + describe(proposer) + " has no account to receive fees");
  }
  if (transactions.size() > params_.max_block_txs) {
    return make_error("block_too_large", std::to_string(transactions.size()) +
                                             " transactions exceed the limit of " +
                                             std::to_string(params_.max_block_txs));
  }
  if (transactions.size() * kTransactionEncodedSize > params_.max_block_bytes) {
    return make_error("block_too_large", "the block's transactions exceed " +
                                             std::to_string(params_.max_block_bytes) + " bytes");
  }

  StateOverlay overlay(*this);
  PendingBlock pending;
  pending.height_ = height;
  BlockOutcome& outcome = pending.outcome_;
  // With a million accounts each account read misses the cache; fetching the accounts of the
  // transactions a few places ahead lets those misses overlap instead of following one another.
  constexpr size_t kPrefetchTransactions = 8;
  for (size_t index = 0; index < std::min(transactions.size(), kPrefetchTransactions); ++index)
    prefetch_accounts_of(transactions[index]);
  for (size_t index = 0; index < transactions.size(); ++index) {
    if (index + kPrefetchTransactions < transactions.size())
      prefetch_accounts_of(transactions[index + kPrefetchTransactions]);
    const Transaction& transaction = transactions[index];
    // Same order as validate(): the rules first, the signature last.
    Status status = overlay.check(transaction);
    if (status.ok()) {
      bool signature_valid =
          transaction_hashes.empty()
              ? verifier.is_valid(transaction, chain_id_)
              : verifier.is_valid_hashed(transaction, transaction_hashes[index], chain_id_);
      if (!signature_valid)
        status = invalid_signature();
    }
    if (status.ok())
      overlay.apply_checked(transaction, proposer, height);  // checked just above
    if (!status.ok()) {
      return make_error(status.error().code, "transaction " + std::to_string(index) + " (" +
                                                 transaction.hash().hex() +
                                                 "): " + status.error().message);
    }
    outcome.fees_collected = *checked_add(outcome.fees_collected, transaction.transfer.fee);
    if (transaction.transfer.create)
      outcome.accounts_created += 1;
  }

  pending.changes_.assign(overlay.changes().begin(), overlay.changes().end());
  std::sort(pending.changes_.begin(), pending.changes_.end(),
            [](const auto& left, const auto& right) { return left.first < right.first; });

  // Conservation of supply, checked on the accounts the block touched: nothing is minted or
  // burned, value only moves. 128-bit sums cannot overflow.
  unsigned __int128 before = 0;
  unsigned __int128 after = 0;
  outcome.touched.reserve(pending.changes_.size());
  for (const auto& [address, changed] : pending.changes_) {
    std::optional<Account> previous = account(address);
    if (previous) {
      before += previous->balance.units;
      TALLY_ASSERT_MSG(changed.nonce >= previous->nonce, "a nonce went backwards");
    }
    after += changed.balance.units;
    outcome.touched.push_back(address);
  }
  TALLY_ASSERT_MSG(before == after, "a block changed the total supply");
  return pending;
}

Result<PendingBlock> State::execute_block(uint64_t height, const Address& proposer,
                                          std::span<const Transaction> transactions,
                                          const SignatureVerifier& verifier,
                                          std::span<const Hash256> transaction_hashes) const {
  Result<PendingBlock> pending =
      execute_changes(height, proposer, transactions, verifier, transaction_hashes);
  if (!pending.ok())
    return pending;
  TALLY_ASSERT_MSG(tree_.is_clean(), "the state tree must be clean between commits");
  pending->outcome_.state_root =
      tree_.root_after(tree_updates(pending->changes_), &pending->tree_hashes_);
  return pending;
}

Hash256 State::write_changes(const PendingBlock& pending) {
  TALLY_ASSERT_MSG(pending.height_ == height_ + 1,
                   "a pending block must extend the current height");
  for (const auto& [address, changed] : pending.changes_)
    accounts_[address] = changed;
  height_ = pending.height_;
  // Leaves the tree clean (see tree_). The updates execute_block recorded are those of exactly
  // these changes: a PendingBlock cannot be altered outside State.
  if (pending.tree_hashes_.tree_version != 0)
    return tree_.apply_recorded(pending.tree_hashes_);
  return tree_.apply(tree_updates(pending.changes_), pending.tree_hashes_);
}

void State::commit_block(PendingBlock pending) {
  const Hash256 root = write_changes(pending);
  TALLY_ASSERT_MSG(root == pending.outcome_.state_root,
                   "a committed block gave another state root than its execution predicted "
                   "(the state or the pending block changed in between)");
}

Result<BlockOutcome> State::apply_block(uint64_t height, const Address& proposer,
                                        std::span<const Transaction> transactions,
                                        const SignatureVerifier& verifier) {
  // Executed without a root prediction: the commit computes the root anyway, so the hashing is
  // done once.
  Result<PendingBlock> pending = execute_changes(height, proposer, transactions, verifier, {});
  if (!pending.ok())
    return pending.error();
  pending->outcome_.state_root = write_changes(*pending);
  return std::move(pending->outcome_);
}

Hash256 State::state_root() const {
  return tree_.peek_root();
}

TreeProof State::prove(const Address& address) const {
  return tree_.prove(account_tree_key(address));
}

unsigned __int128 State::sum_of_balances() const {
  unsigned __int128 sum = 0;
  for (const auto& [address, account] : accounts_)
    sum += account.balance.units;
  return sum;
}

std::vector<std::pair<Address, Account>> State::sorted_accounts() const {
  std::vector<std::pair<Address, Account>> sorted(accounts_.begin(), accounts_.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const auto& left, const auto& right) { return left.first < right.first; });
  return sorted;
}

Status verify_account_proof(const Hash256& state_root, const Address& address,
                            const std::optional<Account>& account, const TreeProof& proof) {
  std::optional<Hash256> value_hash;
  if (account)
    value_hash = account_value_hash(*account);
  return verify_tree_proof(state_root, account_tree_key(address), value_hash, proof);
}

}  // namespace tally
