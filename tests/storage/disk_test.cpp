// Disk use is O(accounts + retain_blocks), not O(transactions): 3,000 blocks of 20 transfers
// among a fixed set of accounts, retaining 100 blocks, end up in about the space of the first
// 300.

#include <gtest/gtest.h>

#include <cstdio>

#include "storage/node_storage.h"
#include "storage_fixture.h"

namespace tally {
namespace {

using namespace testing;

TEST(DiskTest, DiscardedHistoryIsReclaimed) {
  TempDir directory;
  Genesis genesis = storage_genesis(200);
  StorageOptions options;
  options.retain_blocks = 100;
  options.snapshot_interval = 0;
  options.sync = false;  // what is measured is space; 3,000 fsyncs only make it slow
  auto storage = NodeStorage::open(directory.path(), genesis, options).value();
  ChainBuilder chain(genesis, ChainShape{20, 0, false});

  auto commit_until = [&](uint64_t height) {
    while (chain.height() < height) {
      BuiltBlock built = chain.next();
      ASSERT_TRUE(
          storage->save_decided_block_and_accounts(built.decided, built.pending.changes()).ok());
      chain.commit(std::move(built));
    }
  };

  commit_until(300);
  uint64_t live_early = directory_size(storage->db_path());
  ASSERT_TRUE(storage->compact_all().ok());
  uint64_t early = directory_size(storage->db_path());

  commit_until(3000);
  uint64_t live_end = directory_size(storage->db_path());
  ASSERT_TRUE(storage->compact_all().ok());
  uint64_t end = directory_size(storage->db_path());

  // 2,700 more blocks of 20 transactions (155 bytes each) were written in between.
  uint64_t written_after = 2700ull * 20 * kTransactionEncodedSize;
  std::printf(
      "disk use (retain_blocks=100, 20 transfers/block, 200 accounts): after 300 blocks %llu "
      "bytes (%llu live, write-ahead log included), after 3000 blocks %llu bytes (%llu live); "
      "transactions written in between: %llu bytes\n",
      static_cast<unsigned long long>(early), static_cast<unsigned long long>(live_early),
      static_cast<unsigned long long>(end), static_cast<unsigned long long>(live_end),
      static_cast<unsigned long long>(written_after));
  EXPECT_LE(end, early * 3 / 2);
  EXPECT_EQ(storage->oldest_retained_height(), 2900u);
  EXPECT_FALSE(storage->load_decided_block(2899));
  EXPECT_TRUE(storage->load_decided_block(2900));
  State reloaded = State::from_accounts(genesis, 3000, storage->load_accounts().value()).value();
  EXPECT_EQ(reloaded.state_root(), chain.last()->block.header.state_root);
}

}  // namespace
}  // namespace tally
