#pragma once
// Helpers for storage tests: temporary directories, and a single-validator chain that produces
// valid decided blocks (transfers executed against a State, real commits) without an Engine.

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../ledger/test_chain.h"
#include "consensus/types.h"
#include "consensus/validator_set.h"
#include "core/assert.h"
#include "ledger/state.h"

namespace tally::testing {

// Transactions of the synthetic chains are not signed: their validity is not what is tested.
class AcceptAllVerifier final : public SignatureVerifier {
 public:
  bool is_valid(const Transaction&, std::string_view) const override { return true; }
};

class TempDir {
 public:
  TempDir() {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "tally-storage-XXXXXX").string();
    TALLY_ASSERT(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code error;
    std::filesystem::remove_all(path_, error);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline uint64_t directory_size(const std::filesystem::path& directory) {
  uint64_t total = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(directory, error)) {
    std::error_code entry_error;
    if (entry.is_regular_file(entry_error))
      total += entry.file_size(entry_error);
  }
  return total;
}

// `account_count` funded accounts (address_for(0..n-1)) and one validator with the key
// key_for(kValidatorKeyBase).
inline Genesis storage_genesis(uint32_t account_count = 50) {
  return make_genesis(std::vector<uint64_t>(account_count, 1'000'000'000'000ULL), {10}, 10);
}

struct BuiltBlock {
  DecidedBlock decided;
  PendingBlock pending;
};

struct ChainShape {
  size_t transfers_per_block = 5;
  // Every this many heights the first transfer creates a new account (0: never).
  uint64_t create_every = 0;
  // Sign the transactions (otherwise they carry zero signatures; the chain uses
  // AcceptAllVerifier either way).
  bool sign = false;
};

// Builds blocks the way the engine does (header fields, last commit, the validator's precommit
// as the commit), with deterministic transfers among the genesis accounts.
class ChainBuilder {
 public:
  ChainBuilder(Genesis genesis, ChainShape shape = {})
      : ChainBuilder(genesis, State::from_genesis(genesis).value(), std::nullopt, shape) {}

  // Resumes after `last` with `state` (the state after `last`).
  ChainBuilder(Genesis genesis, State state, std::optional<DecidedBlock> last, ChainShape shape)
      : genesis_(std::move(genesis)),
        shape_(shape),
        state_(std::move(state)),
        last_(std::move(last)),
        validators_(ValidatorSet::from_genesis(genesis_).value()),
        signer_(key_for(kValidatorKeyBase)) {}

  const State& state() const { return state_; }
  State& mutable_state() { return state_; }
  const std::optional<DecidedBlock>& last() const { return last_; }
  uint64_t height() const { return state_.height(); }
  const Genesis& genesis() const { return genesis_; }

  BuiltBlock next() {
    uint64_t height = state_.height() + 1;
    std::vector<Transaction> transactions = make_transactions(height);
    Block block;
    BlockHeader& header = block.header;
    header.chain_id = genesis_.chain_id;
    header.height = height;
    header.time_ms = genesis_.genesis_time_ms + height * 1000;
    header.previous_block_hash = last_ ? last_->block.hash() : genesis_.hash();
    header.validators_hash = validators_.hash();
    header.next_validators_hash = header.validators_hash;
    header.proposer = signer_.address();
    if (last_)
      block.last_commit = last_->commit;
    Result<PendingBlock> pending =
        state_.execute_block(height, header.proposer, transactions, verifier_);
    TALLY_ASSERT_MSG(pending.ok(), "the synthetic chain built an invalid block");
    block.transactions = std::move(transactions);
    header.state_root = pending->outcome().state_root;
    header.transactions_root = transactions_root(block.transactions);
    header.last_commit_hash = block.last_commit.hash();
    header.evidence_hash = evidence_root(block.evidence);

    Vote precommit;
    precommit.type = VoteType::precommit;
    precommit.height = height;
    precommit.round = 0;
    precommit.block_hash = block.hash();
    precommit.sign(genesis_.chain_id, signer_);
    Commit commit;
    commit.height = height;
    commit.round = 0;
    commit.block_hash = precommit.block_hash;
    commit.signatures.push_back(CommitSignature{signer_.address(), precommit.signature});
    return BuiltBlock{DecidedBlock{std::move(block), std::move(commit)},
                      std::move(pending).value()};
  }

  // Applies a built block to the builder's state (after the storage saved it).
  void commit(BuiltBlock built) {
    state_.commit_block(std::move(built.pending));
    last_ = std::move(built.decided);
  }

 private:
  std::vector<Transaction> make_transactions(uint64_t height) const {
    uint32_t account_count = static_cast<uint32_t>(genesis_.accounts.size());
    std::vector<Transaction> transactions;
    size_t count = std::min<size_t>(shape_.transfers_per_block, account_count);
    for (size_t index = 0; index < count; ++index) {
      uint32_t sender = static_cast<uint32_t>((height * count + index) % account_count);
      uint32_t receiver = static_cast<uint32_t>(
          (sender + 1 + (height * 31 + index) % (account_count - 1)) % account_count);
      Transfer transfer;
      transfer.from = address_for(sender);
      transfer.to = address_for(receiver);
      transfer.amount = Amount{1 + (height * 7 + index) % 1000};
      transfer.fee = genesis_.params.min_fee;
      transfer.nonce = state_.account(transfer.from)->nonce;
      if (index == 0 && shape_.create_every != 0 && height % shape_.create_every == 0) {
        transfer.to = address_for(500'000 + static_cast<uint32_t>(height));
        transfer.create = true;
      }
      Transaction transaction;
      if (shape_.sign) {
        transaction = sign_transfer(transfer, key_for(sender), genesis_.chain_id);
      } else {
        transaction.transfer = transfer;
      }
      transactions.push_back(transaction);
    }
    return transactions;
  }

  Genesis genesis_;
  ChainShape shape_;
  State state_;
  std::optional<DecidedBlock> last_;
  ValidatorSet validators_;
  Ed25519Signer signer_;
  AcceptAllVerifier verifier_;
};

}  // namespace tally::testing
