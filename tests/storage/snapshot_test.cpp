// Snapshots: written at the interval from a consistent view, pruned to the newest N, read back,
// verified chunk by chunk and against the block's state root and commit, refused when anything
// is off, and imported into a fresh store.

#include "storage/snapshot.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include "storage/node_storage.h"
#include "storage_fixture.h"

namespace tally {
namespace {

using namespace testing;
namespace fs = std::filesystem;

class SnapshotTest : public ::testing::Test {
 protected:
  SnapshotTest() {
    options_.retain_blocks = 10;
    options_.snapshot_interval = 10;
    options_.snapshot_keep = 2;
    options_.snapshot_chunk_accounts = 7;
    storage_ = NodeStorage::open(directory_.path(), genesis_, options_).value();
  }

  fs::path snapshots() const { return directory_.path() / "snapshots"; }

  // Commits up to `height`, writing snapshots as the node does; remembers each height's root.
  void commit_until(uint64_t height) {
    while (chain_.height() < height) {
      BuiltBlock built = chain_.next();
      ASSERT_TRUE(
          storage_->save_decided_block_and_accounts(built.decided, built.pending.changes()).ok());
      uint64_t built_height = built.decided.block.header.height;
      chain_.commit(std::move(built));
      roots_[built_height] = chain_.state().state_root();
      Status written = storage_->maybe_write_snapshot(built_height, snapshots());
      ASSERT_TRUE(written.ok()) << written.error().message;
    }
  }

  std::vector<Bytes> read_chunks(uint64_t height, const SnapshotManifest& manifest) {
    std::vector<Bytes> chunks;
    for (uint32_t index = 0; index < manifest.chunk_hashes.size(); ++index)
      chunks.push_back(read_snapshot_chunk(snapshots(), height, index).value());
    return chunks;
  }

  TempDir directory_;
  Genesis genesis_ = storage_genesis(40);
  StorageOptions options_;
  std::unique_ptr<NodeStorage> storage_;
  ChainBuilder chain_{genesis_, ChainShape{6, 4}};
  std::map<uint64_t, Hash256> roots_;
  Ed25519Checker checker_;
};

TEST_F(SnapshotTest, WrittenAtTheIntervalAndPrunedToTheNewest) {
  commit_until(9);
  EXPECT_TRUE(list_snapshots(snapshots()).empty());
  commit_until(10);
  EXPECT_EQ(list_snapshots(snapshots()), std::vector<uint64_t>({10}));
  commit_until(45);
  EXPECT_EQ(list_snapshots(snapshots()), std::vector<uint64_t>({30, 40}));
  EXPECT_FALSE(fs::exists(snapshots() / "10"));
  EXPECT_FALSE(fs::exists(snapshots() / "20"));
  // A snapshot is of the last decided height only.
  EXPECT_TRUE(storage_->begin_snapshot(45).ok());
  EXPECT_EQ(storage_->begin_snapshot(40).error().code, "snapshot_unavailable");
  // An existing complete snapshot is left as it is.
  Result<SnapshotDirectoryWriter> again = SnapshotDirectoryWriter::start(snapshots(), 40);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_complete());
}

TEST_F(SnapshotTest, ManifestAndChunksRoundTripAndRestore) {
  commit_until(40);
  SnapshotManifest manifest = read_snapshot_manifest(snapshots(), 40).value();
  EXPECT_EQ(manifest.chain_id, genesis_.chain_id);
  EXPECT_EQ(manifest.height, 40u);
  EXPECT_EQ(manifest.decided, *chain_.last());
  size_t account_count = chain_.state().account_count();
  EXPECT_EQ(manifest.account_count, account_count);
  EXPECT_EQ(manifest.chunk_hashes.size(), (account_count + 6) / 7);
  EXPECT_EQ(SnapshotManifest::decode(manifest.encode()).value(), manifest);

  std::vector<Bytes> chunks = read_chunks(40, manifest);
  for (size_t index = 0; index < chunks.size(); ++index) {
    EXPECT_TRUE(verify_snapshot_chunk(manifest, index, chunks[index]).ok());
    EXPECT_EQ(decode_snapshot_chunk(chunks[index])->size(),
              index + 1 < chunks.size() ? 7u : account_count - 7 * index);
  }
  Result<State> state = restore_state_from_snapshot(genesis_, manifest, chunks);
  ASSERT_TRUE(state.ok()) << state.error().message;
  EXPECT_EQ(state->state_root(), roots_[40]);
  EXPECT_EQ(state->height(), 40u);
  EXPECT_EQ(state->sorted_accounts(), chain_.state().sorted_accounts());
  EXPECT_TRUE(verify_snapshot_commit(genesis_, manifest, checker_).ok());

  EXPECT_EQ(read_snapshot_chunk(snapshots(), 40, static_cast<uint32_t>(chunks.size())).error().code,
            "not_found");
  EXPECT_EQ(read_snapshot_manifest(snapshots(), 41).error().code, "not_found");
}

TEST_F(SnapshotTest, AWriterPinnedAtAHeightIgnoresLaterCommits) {
  commit_until(12);
  std::unique_ptr<SnapshotWriter> writer = storage_->begin_snapshot(12).value();
  std::vector<std::pair<Address, Account>> accounts_at_12 = chain_.state().sorted_accounts();
  // Written on another thread while this one keeps committing.
  Status written;
  std::thread thread([&] { written = writer->write(snapshots()); });
  commit_until(19);
  thread.join();
  ASSERT_TRUE(written.ok()) << written.error().message;
  writer.reset();
  SnapshotManifest manifest = read_snapshot_manifest(snapshots(), 12).value();
  State state = restore_state_from_snapshot(genesis_, manifest, read_chunks(12, manifest)).value();
  EXPECT_EQ(state.sorted_accounts(), accounts_at_12);
  EXPECT_EQ(state.state_root(), roots_[12]);
}

class SnapshotRefusalTest : public SnapshotTest {
 protected:
  void SetUp() override {
    commit_until(20);
    manifest_ = read_snapshot_manifest(snapshots(), 20).value();
    chunks_ = read_chunks(20, manifest_);
    ASSERT_GE(chunks_.size(), 3u);
    ASSERT_TRUE(restore_state_from_snapshot(genesis_, manifest_, chunks_).ok());
  }

  void expect_refused(const SnapshotManifest& manifest, const std::vector<Bytes>& chunks,
                      const std::string& message_part) {
    Result<State> state = restore_state_from_snapshot(genesis_, manifest, chunks);
    ASSERT_FALSE(state.ok());
    EXPECT_EQ(state.error().code, "invalid_snapshot");
    EXPECT_NE(state.error().message.find(message_part), std::string::npos) << state.error().message;
  }

  void expect_refused_for(const Genesis& genesis) {
    Result<State> state = restore_state_from_snapshot(genesis, manifest_, chunks_);
    ASSERT_FALSE(state.ok());
    EXPECT_NE(state.error().message.find("is for chain"), std::string::npos)
        << state.error().message;
  }

  // Re-points the commit at the (modified) block, as a forger who cannot sign would.
  static void rehash(SnapshotManifest& manifest) {
    manifest.decided.commit.block_hash = manifest.decided.block.hash();
  }

  SnapshotManifest manifest_;
  std::vector<Bytes> chunks_;
};

TEST_F(SnapshotRefusalTest, ATamperedChunk) {
  std::vector<Bytes> chunks = chunks_;
  chunks[1][10] ^= 0x01;
  expect_refused(manifest_, chunks, "chunk 1 does not match its hash");
  EXPECT_FALSE(verify_snapshot_chunk(manifest_, 1, chunks[1]).ok());
}

TEST_F(SnapshotRefusalTest, AMissingChunk) {
  std::vector<Bytes> chunks = chunks_;
  chunks.pop_back();
  expect_refused(manifest_, chunks, "were given");
}

TEST_F(SnapshotRefusalTest, ReorderedChunks) {
  std::vector<Bytes> chunks = chunks_;
  std::swap(chunks[0], chunks[1]);
  expect_refused(manifest_, chunks, "chunk 0 does not match its hash");
  // Even with a manifest listing them in that order, the accounts are out of order.
  SnapshotManifest manifest = manifest_;
  std::swap(manifest.chunk_hashes[0], manifest.chunk_hashes[1]);
  expect_refused(manifest, chunks, "out of order");
}

TEST_F(SnapshotRefusalTest, AWrongStateRoot) {
  SnapshotManifest manifest = manifest_;
  manifest.decided.block.header.state_root.data[0] ^= 0x01;
  expect_refused(manifest, chunks_, "commit is for another block");
  rehash(manifest);
  expect_refused(manifest, chunks_, "the accounts give state root");
  // And the commit no longer verifies.
  Status commit = verify_snapshot_commit(genesis_, manifest, checker_);
  ASSERT_FALSE(commit.ok());
  EXPECT_EQ(commit.error().code, "invalid_commit");
}

TEST_F(SnapshotRefusalTest, ADroppedAccountWithMatchingHashes) {
  // A consistent but incomplete snapshot: last chunk re-encoded without its last account.
  std::vector<Bytes> chunks = chunks_;
  std::vector<std::pair<Address, Account>> last = decode_snapshot_chunk(chunks.back()).value();
  if (last.size() == 1) {
    chunks.pop_back();
  } else {
    last.pop_back();
    chunks.back() = encode_snapshot_chunk(last);
  }
  SnapshotManifest manifest = manifest_;
  manifest.chunk_hashes.resize(chunks.size());
  manifest.chunk_hashes.back() = sha256(chunks.back());
  expect_refused(manifest, chunks, "the manifest says");
  manifest.account_count -= 1;
  expect_refused(manifest, chunks, "not a valid state");  // the supply no longer adds up
}

TEST_F(SnapshotRefusalTest, AnotherChainAndAForgedCommit) {
  Genesis other = genesis_;
  other.chain_id = "other-chain";
  expect_refused_for(other);
  SnapshotManifest manifest = manifest_;
  manifest.decided.commit.signatures[0].signature.data[5] ^= 0x01;
  EXPECT_EQ(verify_snapshot_commit(genesis_, manifest, checker_).error().code, "invalid_commit");
}

TEST_F(SnapshotRefusalTest, MalformedFiles) {
  Bytes encoded = manifest_.encode();
  encoded.push_back(0);
  EXPECT_EQ(SnapshotManifest::decode(encoded).error().code, "invalid_snapshot");
  encoded.pop_back();
  encoded.pop_back();
  EXPECT_EQ(SnapshotManifest::decode(encoded).error().code, "invalid_snapshot");
  encoded = manifest_.encode();
  encoded[0] = 2;
  EXPECT_EQ(SnapshotManifest::decode(encoded).error().code, "invalid_snapshot");

  Bytes chunk = chunks_[0];
  chunk[0] = 0;  // count 0 (and a size that does not match)
  chunk[1] = 0;
  EXPECT_FALSE(decode_snapshot_chunk(chunk).ok());
  chunk = chunks_[0];
  chunk.push_back(0);
  EXPECT_FALSE(decode_snapshot_chunk(chunk).ok());
  // Two entries swapped inside a chunk.
  chunk = chunks_[0];
  std::swap_ranges(chunk.begin() + 4, chunk.begin() + 4 + kSnapshotEntrySize,
                   chunk.begin() + 4 + kSnapshotEntrySize);
  EXPECT_NE(decode_snapshot_chunk(chunk).error().message.find("strictly increasing"),
            std::string::npos);
}

TEST_F(SnapshotTest, ImportIntoAFreshStore) {
  commit_until(30);
  SnapshotManifest manifest = read_snapshot_manifest(snapshots(), 30).value();
  State state = restore_state_from_snapshot(genesis_, manifest, read_chunks(30, manifest)).value();
  ASSERT_TRUE(verify_snapshot_commit(genesis_, manifest, checker_).ok());

  // Not into a store that has history.
  EXPECT_EQ(storage_->import_snapshot(manifest, state).error().code, "not_empty");

  TempDir fresh_directory;
  {
    auto fresh = NodeStorage::open(fresh_directory.path(), genesis_, options_).value();
    ASSERT_TRUE(fresh->import_snapshot(manifest, state).ok());
    EXPECT_EQ(fresh->last_decided_height(), 30u);
    EXPECT_EQ(fresh->oldest_retained_height(), 30u);
  }
  auto fresh = NodeStorage::open(fresh_directory.path(), genesis_, options_).value();
  EXPECT_EQ(fresh->last_decided_height(), 30u);
  EXPECT_EQ(fresh->load_decided_block(30), manifest.decided);
  EXPECT_FALSE(fresh->load_decided_block(29));
  EXPECT_EQ(fresh->load_accounts(), chain_.state().sorted_accounts());

  // The chain continues on the imported store.
  ChainBuilder continued(genesis_, std::move(state), manifest.decided, ChainShape{6, 4});
  for (int index = 0; index < 15; ++index) {
    BuiltBlock built = continued.next();
    ASSERT_TRUE(
        fresh->save_decided_block_and_accounts(built.decided, built.pending.changes()).ok());
    continued.commit(std::move(built));
  }
  EXPECT_EQ(fresh->oldest_retained_height(), 35u);
  State reloaded = State::from_accounts(genesis_, 45, fresh->load_accounts().value()).value();
  EXPECT_EQ(reloaded.state_root(), continued.last()->block.header.state_root);
}

}  // namespace
}  // namespace tally
