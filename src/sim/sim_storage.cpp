#include "sim/sim_storage.h"

namespace tally::sim {
namespace {

// Blocks in the simulator are small; this bound only has to admit every block the engine saves.
constexpr size_t kMaxStoredBlockTransactions = 100'000;

std::optional<DecidedBlock> decode_decided(const Bytes& bytes) {
  Result<Message> message = decode_message(bytes, kMaxStoredBlockTransactions);
  TALLY_ASSERT_MSG(message.ok(), "simulated storage holds an undecodable block");
  const auto* decided = std::get_if<DecidedBlock>(&message.value());
  TALLY_ASSERT(decided != nullptr);
  return *decided;
}

}  // namespace

SimStorage::Contents& SimStorage::target_for_write() {
  if (!crash_point_reached_)
    return durable_;
  if (!overlay_)
    overlay_ = durable_;
  return *overlay_;
}

void SimStorage::after_write() {
  ++writes_;
  if (writes_until_crash_ && !crash_point_reached_) {
    if (--*writes_until_crash_ == 0) {
      crash_point_reached_ = true;
      writes_until_crash_.reset();
    }
  }
}

Status SimStorage::save_replica_state(const ReplicaPersistentState& state) {
  Bytes encoded = state.encode();
  // Paired check around the write: what is stored reads back as what was given.
  Result<ReplicaPersistentState> decoded = ReplicaPersistentState::decode(encoded);
  if (!decoded.ok() || !(decoded.value() == state)) {
    contract_violation_ = "ReplicaPersistentState does not survive encode/decode";
  }
  target_for_write().replica_state = std::move(encoded);
  after_write();
  return Status::success();
}

std::optional<ReplicaPersistentState> SimStorage::load_replica_state() const {
  const Contents& contents = visible();
  if (!contents.replica_state)
    return std::nullopt;
  Result<ReplicaPersistentState> decoded = ReplicaPersistentState::decode(*contents.replica_state);
  TALLY_ASSERT_MSG(decoded.ok(), "simulated storage holds an undecodable replica state");
  return decoded.value();
}

std::optional<ReplicaPersistentState> SimStorage::durable_replica_state() const {
  if (!durable_.replica_state)
    return std::nullopt;
  Result<ReplicaPersistentState> decoded = ReplicaPersistentState::decode(*durable_.replica_state);
  TALLY_ASSERT(decoded.ok());
  return decoded.value();
}

void SimStorage::store_block(Contents& contents, const DecidedBlock& decided) {
  uint64_t height = decided.block.header.height;
  Bytes encoded = encode_message(Message{decided});
  auto existing = contents.decided_blocks.find(height);
  if (existing != contents.decided_blocks.end()) {
    std::optional<DecidedBlock> previous = decode_decided(existing->second);
    if (previous->block.hash() != decided.block.hash() && contract_violation_.empty()) {
      contract_violation_ =
          "a different block was saved at decided height " + std::to_string(height);
    }
  } else {
    uint64_t last = contents.decided_blocks.empty() ? 0 : contents.decided_blocks.rbegin()->first;
    if (height != last + 1 && contract_violation_.empty()) {
      contract_violation_ =
          "decided block " + std::to_string(height) + " saved after height " + std::to_string(last);
    }
  }
  contents.decided_blocks[height] = std::move(encoded);
}

Status SimStorage::save_decided_block(const DecidedBlock& decided) {
  if (keeps_accounts_ && contract_violation_.empty()) {
    contract_violation_ = "a block was saved without the accounts it changed";
  }
  store_block(target_for_write(), decided);
  after_write();
  return Status::success();
}

Status SimStorage::save_decided_block_and_accounts(
    const DecidedBlock& decided, const std::vector<std::pair<Address, Account>>& changes) {
  if (!keeps_accounts_)
    return save_decided_block(decided);
  Contents& contents = target_for_write();  // one atomic write: block and accounts together
  store_block(contents, decided);
  for (const auto& [address, account] : changes)
    contents.accounts[address] = encode_account(account);
  after_write();
  return Status::success();
}

std::optional<std::vector<std::pair<Address, Account>>> SimStorage::load_accounts() const {
  if (!keeps_accounts_)
    return std::nullopt;
  std::vector<std::pair<Address, Account>> accounts;
  for (const auto& [address, bytes] : visible().accounts) {
    Result<Account> account = decode_account(bytes);
    TALLY_ASSERT_MSG(account.ok(), "simulated storage holds an undecodable account");
    accounts.emplace_back(address, account.value());
  }
  return accounts;
}

void SimStorage::keep_accounts(const Genesis& genesis) {
  TALLY_ASSERT(durable_.decided_blocks.empty() && !overlay_);
  keeps_accounts_ = true;
  for (const GenesisAllocation& allocation : genesis.accounts) {
    Account account;
    account.balance = allocation.balance;
    durable_.accounts[allocation.address] = encode_account(account);
  }
}

std::optional<DecidedBlock> SimStorage::load_decided_block(uint64_t height) const {
  const Contents& contents = visible();
  auto found = contents.decided_blocks.find(height);
  if (found == contents.decided_blocks.end())
    return std::nullopt;
  return decode_decided(found->second);
}

uint64_t SimStorage::last_decided_height() const {
  const Contents& contents = visible();
  return contents.decided_blocks.empty() ? 0 : contents.decided_blocks.rbegin()->first;
}

uint64_t SimStorage::durable_last_decided_height() const {
  return durable_.decided_blocks.empty() ? 0 : durable_.decided_blocks.rbegin()->first;
}

void SimStorage::arm_crash_after_writes(uint32_t writes) {
  TALLY_ASSERT(writes >= 1);
  writes_until_crash_ = writes;
}

void SimStorage::crash() {
  overlay_.reset();
  writes_until_crash_.reset();
  crash_point_reached_ = false;
}

}  // namespace tally::sim
