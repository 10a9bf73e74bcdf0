// A single-validator Engine on NodeStorage: commit blocks with transfers, destroy everything,
// reopen the store and a new Engine, and find the same chain (height, state root, balances),
// without replaying history (most of it was discarded). Also an Engine starting on a store that
// was filled by a snapshot import.

#include <gtest/gtest.h>

#include <map>

#include "../consensus/simple_pool.h"
#include "consensus/engine.h"
#include "storage/node_storage.h"
#include "storage_fixture.h"

namespace tally {
namespace {

using namespace testing;
namespace fs = std::filesystem;

// One validator, no peers: its own votes decide (as soon as it starts a height). Timers run on a
// virtual clock. With `validating` false it only follows: it restores the chain and decides
// nothing, so what it restored can be inspected.
class SingleValidatorNode {
 public:
  SingleValidatorNode(const Genesis& genesis, ConsensusStorage& storage, uint64_t now_ms,
                      bool validating = true)
      : signer_(key_for(kValidatorKeyBase)), now_(now_ms) {
    EngineConfig config;
    config.timeouts = ConsensusTimeouts{300, 100, 200, 100, 200, 100, 200};
    config.empty_block_interval_ms = 1000;
    config.max_clock_drift_ms = 2000;
    engine_ = std::make_unique<Engine>(genesis, config, validating ? &signer_ : nullptr, checker_,
                                       pool_, storage);
  }

  Status start() {
    Status started = engine_->start(now_);
    drain();
    return started;
  }

  Status submit(const Transaction& transaction) {
    Status status = engine_->submit_transaction(transaction, now_);
    drain();
    return status;
  }

  void run_for(uint64_t duration_ms) {
    uint64_t until = now_ + duration_ms;
    while (!timers_.empty() && timers_.begin()->first <= until) {
      auto timer = timers_.begin();
      now_ = std::max(now_, timer->first);
      TimeoutRequest request = timer->second;
      timers_.erase(timer);
      engine_->on_timer(request, now_);
      drain();
    }
    now_ = until;
  }

  // Submits a transfer from `from_index` (its current nonce) and runs until it is committed.
  void transfer(uint32_t from_index, const Address& to, uint64_t amount, bool create = false) {
    uint64_t nonce = engine_->state().account(address_for(from_index))->nonce;
    ASSERT_TRUE(submit(signed_transfer(from_index, to, amount, 10, nonce, create)).ok());
    run_for(1500);
    ASSERT_EQ(engine_->state().account(address_for(from_index))->nonce, nonce + 1);
  }

  Engine& engine() { return *engine_; }
  uint64_t now() const { return now_; }

 private:
  void drain() {
    EngineOutput out = engine_->take_output();
    for (const EngineTimer& timer : out.timers)
      timers_.emplace(timer.at_ms, timer.request);
  }

  Ed25519Signer signer_;
  Ed25519Checker checker_;
  SimplePool pool_;
  std::unique_ptr<Engine> engine_;
  std::multimap<uint64_t, TimeoutRequest> timers_;
  uint64_t now_;
};

TEST(EngineRestartTest, RestartsFromStoredAccountsWithoutHistory) {
  TempDir directory;
  Genesis genesis = storage_genesis(10);
  StorageOptions options;
  options.retain_blocks = 3;
  uint64_t now = genesis.genesis_time_ms + 1000;

  uint64_t height = 0;
  Hash256 root;
  BlockHeader header;
  std::vector<std::pair<Address, Account>> accounts;
  {
    auto storage = NodeStorage::open(directory.path(), genesis, options).value();
    SingleValidatorNode node(genesis, *storage, now);
    ASSERT_TRUE(node.start().ok());
    node.transfer(0, address_for(77), 5000, true);
    for (uint32_t round = 0; round < 8; ++round)
      node.transfer(round % 5, address_for(5 + round % 5), 100 + round);
    node.transfer(77, address_for(1), 1234);
    height = node.engine().height();
    root = node.engine().state().state_root();
    header = *node.engine().last_header();
    accounts = node.engine().state().sorted_accounts();
    now = node.now();
    ASSERT_GE(height, 10u);
    EXPECT_EQ(storage->last_decided_height(), height);
    EXPECT_EQ(storage->oldest_retained_height(), height - 3);
    EXPECT_FALSE(storage->load_decided_block(1));
  }

  {
    // A follower (it decides nothing, so what it restored stays visible) on a copy of the store:
    // it would otherwise overwrite the validator's signed state with its own empty one.
    TempDir copy;
    fs::copy(directory.path(), copy.path(), fs::copy_options::recursive);
    auto copied = NodeStorage::open(copy.path(), genesis, options).value();
    SingleValidatorNode follower(genesis, *copied, now, false);
    Status started = follower.start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    follower.run_for(5000);
    EXPECT_EQ(follower.engine().height(), height);
    EXPECT_EQ(follower.engine().state().state_root(), root);
    EXPECT_EQ(*follower.engine().last_header(), header);
    EXPECT_EQ(follower.engine().state().sorted_accounts(), accounts);
    EXPECT_EQ(follower.engine().state().account(address_for(77))->balance.units, 5000u - 1234 - 10);
  }

  // And the chain goes on, on top of the restored block.
  auto storage = NodeStorage::open(directory.path(), genesis, options).value();
  SingleValidatorNode node(genesis, *storage, now);
  ASSERT_TRUE(node.start().ok());
  node.transfer(77, address_for(2), 1);
  EXPECT_EQ(storage->load_decided_block(height + 1)->block.header.previous_block_hash,
            header.hash());
  EXPECT_GT(node.engine().height(), height);
  EXPECT_EQ(storage->last_decided_height(), node.engine().height());
}

TEST(EngineRestartTest, StartsOnAnImportedSnapshot) {
  TempDir source_directory;
  Genesis genesis = storage_genesis(20);
  StorageOptions options;
  options.snapshot_interval = 10;
  options.snapshot_chunk_accounts = 6;
  fs::path snapshots = source_directory.path() / "snapshots";
  Hash256 root_at_20;
  {
    auto source = NodeStorage::open(source_directory.path(), genesis, options).value();
    ChainBuilder chain(genesis, ChainShape{8, 5});
    while (chain.height() < 23) {
      BuiltBlock built = chain.next();
      ASSERT_TRUE(
          source->save_decided_block_and_accounts(built.decided, built.pending.changes()).ok());
      chain.commit(std::move(built));
      if (chain.height() == 20)
        root_at_20 = chain.state().state_root();
      ASSERT_TRUE(source->maybe_write_snapshot(chain.height(), snapshots).ok());
    }
  }
  ASSERT_EQ(list_snapshots(snapshots), std::vector<uint64_t>({10, 20}));

  // What `tally snapshot import` (or state sync) does.
  SnapshotManifest manifest = read_snapshot_manifest(snapshots, 20).value();
  std::vector<Bytes> chunks;
  for (uint32_t index = 0; index < manifest.chunk_hashes.size(); ++index)
    chunks.push_back(read_snapshot_chunk(snapshots, 20, index).value());
  Ed25519Checker checker;
  ASSERT_TRUE(verify_snapshot_commit(genesis, manifest, checker).ok());
  State state = restore_state_from_snapshot(genesis, manifest, chunks).value();
  TempDir directory;
  {
    auto storage = NodeStorage::open(directory.path(), genesis, options).value();
    ASSERT_TRUE(storage->import_snapshot(manifest, state).ok());
  }

  uint64_t now = manifest.decided.block.header.time_ms + 1000;
  {
    TempDir copy;
    fs::copy(directory.path(), copy.path(), fs::copy_options::recursive);
    auto copied = NodeStorage::open(copy.path(), genesis, options).value();
    SingleValidatorNode follower(genesis, *copied, now, false);
    Status started = follower.start();
    ASSERT_TRUE(started.ok()) << started.error().message;
    EXPECT_EQ(follower.engine().height(), 20u);
    EXPECT_EQ(follower.engine().state().state_root(), root_at_20);
  }
  auto storage = NodeStorage::open(directory.path(), genesis, options).value();
  SingleValidatorNode node(genesis, *storage, now);
  ASSERT_TRUE(node.start().ok());
  // The engine builds on the imported block: its next block carries the imported commit.
  node.transfer(3, address_for(4), 77);
  EXPECT_GE(node.engine().height(), 21u);
  EXPECT_EQ(storage->load_decided_block(21)->block.last_commit, manifest.decided.commit);
}

}  // namespace
}  // namespace tally
