#pragma once
// ConsensusStorage in memory, with crashes. The contract is "durable when the call returns", so
// a crash loses nothing that returned. To test that an engine step is safe whichever storage
// call it dies after, a crash point can be armed: after the k-th write from now the process is
// considered dead. The engine keeps running that step in memory (it cannot know), later writes
// land in a volatile overlay that reads still see, and the harness discards the step's output
// and the overlay when it notices. Values are kept encoded, so the codecs are exercised too.

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "consensus/engine.h"
#include "ledger/account.h"
#include "ledger/genesis.h"

namespace tally::sim {

class SimStorage final : public ConsensusStorage {
 public:
  Status save_replica_state(const ReplicaPersistentState& state) override;
  std::optional<ReplicaPersistentState> load_replica_state() const override;
  Status save_decided_block(const DecidedBlock& decided) override;
  std::optional<DecidedBlock> load_decided_block(uint64_t height) const override;
  uint64_t last_decided_height() const override;
  // With keep_accounts(): the block and the accounts it changed in one atomic write, and a
  // restart from the stored accounts instead of a replay from genesis.
  Status save_decided_block_and_accounts(
      const DecidedBlock& decided,
      const std::vector<std::pair<Address, Account>>& changes) override;
  std::optional<std::vector<std::pair<Address, Account>>> load_accounts() const override;

  // Makes this storage keep the account state too, starting from the genesis allocations.
  void keep_accounts(const Genesis& genesis);
  bool keeps_accounts() const { return keeps_accounts_; }

  // Dies after `writes` more writes (>= 1) have become durable.
  void arm_crash_after_writes(uint32_t writes);
  void disarm() { writes_until_crash_.reset(); }
  bool crash_point_reached() const { return crash_point_reached_; }
  // The process died: everything written after the crash point is lost.
  void crash();

  // What survives a crash, regardless of any pending overlay.
  std::optional<ReplicaPersistentState> durable_replica_state() const;
  uint64_t durable_last_decided_height() const;
  uint64_t writes() const { return writes_; }
  // Set when the engine broke the storage contract (e.g. a different block saved at a height
  // already decided); the simulation reports it.
  const std::string& contract_violation() const { return contract_violation_; }

 private:
  struct Contents {
    std::optional<Bytes> replica_state;
    std::map<uint64_t, Bytes> decided_blocks;  // encode_message(DecidedBlock)
    std::map<Address, Bytes> accounts;         // encode_account
  };
  void store_block(Contents& contents, const DecidedBlock& decided);
  Contents& target_for_write();
  const Contents& visible() const { return overlay_ ? *overlay_ : durable_; }
  void after_write();

  Contents durable_;
  std::optional<Contents> overlay_;  // writes after the crash point
  std::optional<uint32_t> writes_until_crash_;
  bool crash_point_reached_ = false;
  uint64_t writes_ = 0;
  std::string contract_violation_;
  bool keeps_accounts_ = false;
};

}  // namespace tally::sim
