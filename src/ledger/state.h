#pragma once
// The ledger state machine: every account, the rules a transaction must follow, and atomic
// application of blocks. The rules are those of docs/protocol.md; each refusal carries a
// stable error code:
//
//   self_transfer       from == to
//   fee_too_low         fee < params.min_fee
//   amount_overflow     amount + fee does not fit in 64 bits
//   unknown_sender      the sender has no account
//   bad_nonce           nonce != the sender's next nonce
//   insufficient_funds  amount + fee > the sender's balance
//   unknown_recipient   the recipient has no account and `create` is not set
//   recipient_exists    `create` is set but the recipient already has an account
//   invalid_signature   the signature is not the sender's over the signing message
//   balance_overflow    the recipient's balance would overflow (impossible with a fixed supply
//                       below 2^64, checked anyway)
//
// Invariant, asserted for every block: the sum of all balances equals the genesis supply.
// State is deterministic: it never reads a clock or a random source, and it never lets the
// order of a hash table reach anything hashed or returned.
//
// A block is applied in two phases: execute_block runs it against the state without changing it
// and predicts the state root it gives (what a proposer puts in the header and a validator checks
// before prevoting); commit_block then writes it. apply_block does both at once.

#include <absl/container/flat_hash_map.h>

#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/amount.h"
#include "core/huge_pages.h"
#include "core/status.h"
#include "crypto/address.h"
#include "ledger/account.h"
#include "ledger/genesis.h"
#include "ledger/state_tree.h"
#include "ledger/transaction.h"

namespace tally {

// Huge pages: with a million accounts each lookup would otherwise miss the TLB (core/huge_pages.h).
using AccountMap = absl::flat_hash_map<Address, Account, AddressHasher, std::equal_to<Address>,
                                       HugePageAllocator<std::pair<const Address, Account>>>;

// Decides whether a transaction's signature is valid. A node verifies each transaction once, at
// admission, and answers from that result when the transaction comes back inside a block.
class SignatureVerifier {
 public:
  virtual ~SignatureVerifier() = default;
  virtual bool is_valid(const Transaction& transaction, std::string_view chain_id) const = 0;
  // is_valid for a transaction whose hash the caller has (REQUIRES: hash == transaction.hash()):
  // a block's hashes are computed once per node, and a verifier that remembers results by hash
  // need not compute them again.
  virtual bool is_valid_hashed(const Transaction& transaction, const Hash256& hash,
                               std::string_view chain_id) const {
    (void)hash;
    return is_valid(transaction, chain_id);
  }
};

// Verifies with libsodium on every call.
class DirectSignatureVerifier final : public SignatureVerifier {
 public:
  bool is_valid(const Transaction& transaction, std::string_view chain_id) const override;
};

// The checks that need no state: self transfer, minimum fee, amount + fee overflow.
Status check_transaction_format(const Transaction& transaction, const ChainParams& params);

class State;

// A view of State plus uncommitted changes, for checking and applying transactions in sequence
// without touching State: block validation, block building and mempool admission use it.
class StateOverlay {
 public:
  explicit StateOverlay(const State& base);

  std::optional<Account> account(const Address& address) const;

  // Every rule except the signature, which the caller must have verified.
  Status check(const Transaction& transaction) const;

  // REQUIRES: the signature was verified. Checks, then moves `amount` to the recipient (creating
  // it if `create`), debits amount + fee, increments the sender's nonce and credits the fee to
  // `fee_recipient` (whose account must exist). On error nothing changes.
  Status apply(const Transaction& transaction, const Address& fee_recipient, uint64_t height);
  // apply() without the check, for a caller that has just run check() on this overlay and
  // changed nothing since (REQUIRES; the accounts it reads are asserted to exist).
  void apply_checked(const Transaction& transaction, const Address& fee_recipient, uint64_t height);

  const AccountMap& changes() const { return changes_; }

 private:
  const State& base_;
  AccountMap changes_;
};

struct BlockOutcome {
  Hash256 state_root;
  Amount fees_collected;
  size_t accounts_created = 0;
  // Every account whose entry changed, in address order.
  std::vector<Address> touched;
};

// A block executed against the state but not yet committed: what State::execute_block gives and
// State::commit_block takes. Read-only to everyone else, so the accounts commit_block writes are
// exactly those whose tree updates execute_block computed (it writes both without recomputing).
class PendingBlock {
 public:
  uint64_t height() const { return height_; }
  // Every changed account, sorted by address.
  const std::vector<std::pair<Address, Account>>& changes() const { return changes_; }
  // outcome().state_root is the root after the block.
  const BlockOutcome& outcome() const { return outcome_; }

 private:
  friend class State;
  uint64_t height_ = 0;
  std::vector<std::pair<Address, Account>> changes_;
  BlockOutcome outcome_;
  // The tree updates of the changes (key and value hashes) and the hashes they give, as
  // execute_block computed them, so commit_block computes neither again. Empty after
  // execute_changes alone (apply_block).
  TreeHashes tree_hashes_;
};

class State {
 public:
  static Result<State> from_genesis(const Genesis& genesis);
  // The state at `height` from a full list of accounts (a restart from storage, or a snapshot),
  // with the chain's rules from `genesis`. Refuses duplicate addresses, balances that do not sum
  // to the total supply, and validators without accounts (error code "invalid_state"). The
  // caller checks state_root() against a trusted header.
  static Result<State> from_accounts(const Genesis& genesis, uint64_t height,
                                     std::vector<std::pair<Address, Account>> accounts);

  State(State&&) noexcept = default;
  State& operator=(State&&) noexcept = default;

  const std::string& chain_id() const { return chain_id_; }
  const ChainParams& params() const { return params_; }
  Amount total_supply() const { return total_supply_; }
  // Height of the last applied block; 0 is the genesis state.
  uint64_t height() const { return height_; }
  size_t account_count() const { return accounts_.size(); }

  std::optional<Account> account(const Address& address) const;
  // Starts loading the account's entry into the cache, for a caller about to look up several
  // accounts whose lookups would otherwise miss one after another. Changes nothing.
  //
  // GCC 12 counts prefetch instructions as free of side effects, so in an optimised build it
  // finds the map's prefetch "pure" and deletes the call to it, whose result is unused: it was a
  // no-op. `flatten` inlines the prefetches here, and the empty volatile asm keeps this function
  // from being deleted the same way (checked with objdump: prefetcht0 in execute_changes).
  __attribute__((flatten)) void prefetch_account(const Address& address) const {
    accounts_.prefetch(address);
    asm volatile("");
  }
  // prefetch_account for the sender and the recipient of `transaction`.
  void prefetch_accounts_of(const Transaction& transaction) const {
    prefetch_account(transaction.transfer.from);
    prefetch_account(transaction.transfer.to);
  }

  // Full validity of one transaction against the current state, signature included.
  Status validate(const Transaction& transaction, const SignatureVerifier& verifier) const;
  Status validate(const Transaction& transaction) const;

  // Applies the block at `height` (= height() + 1) all or nothing: if any transaction is invalid
  // the error names its index and reason and the state is unchanged. Fees go to `proposer`.
  Result<BlockOutcome> apply_block(uint64_t height, const Address& proposer,
                                   std::span<const Transaction> transactions,
                                   const SignatureVerifier& verifier);

  // Executes the block against the current state without changing it: same checks and errors as
  // apply_block, and the outcome's state_root is the root the block would give (O(touched x
  // depth) hashes, not cached). Writes nothing, so it may run concurrently with other const
  // members (given a thread-safe verifier).
  // `transaction_hashes`, when given, are the transactions' hashes in order, passed to the
  // verifier (REQUIRES: each equals its transaction's hash()).
  Result<PendingBlock> execute_block(uint64_t height, const Address& proposer,
                                     std::span<const Transaction> transactions,
                                     const SignatureVerifier& verifier,
                                     std::span<const Hash256> transaction_hashes = {}) const;
  // Commits an executed block. REQUIRES: pending.height == height() + 1 and nothing was committed
  // since it was executed (asserted: the state root after writing must equal the predicted one).
  void commit_block(PendingBlock pending);

  // O(1): the tree is rehashed when a block is committed, so its root is always current.
  Hash256 state_root() const;
  // Proof of the account (or of its absence) against state_root().
  TreeProof prove(const Address& address) const;

  // Sums every balance (O(accounts)); apply_block checks the same invariant incrementally.
  unsigned __int128 sum_of_balances() const;

  // Every account in address order (for snapshots and audits).
  std::vector<std::pair<Address, Account>> sorted_accounts() const;

 private:
  friend class StateOverlay;
  State() = default;

  // execute_block without the root prediction; apply_block takes the root from the commit.
  Result<PendingBlock> execute_changes(uint64_t height, const Address& proposer,
                                       std::span<const Transaction> transactions,
                                       const SignatureVerifier& verifier,
                                       std::span<const Hash256> transaction_hashes) const;
  // Writes the changes and returns the new root.
  Hash256 write_changes(const PendingBlock& pending);

  std::string chain_id_;
  ChainParams params_;
  Amount total_supply_;
  uint64_t height_ = 0;
  AccountMap accounts_;
  // Invariant: clean (every cached hash current) between calls; from_genesis and commits end by
  // rehashing it, so const members can read its root and predict roots without caching.
  StateTree tree_;
};

// Checks an account proof against a state root: `account` present means inclusion of exactly
// that account, absent means the address has no account. Needs nothing but the root.
Status verify_account_proof(const Hash256& state_root, const Address& address,
                            const std::optional<Account>& account, const TreeProof& proof);

}  // namespace tally
