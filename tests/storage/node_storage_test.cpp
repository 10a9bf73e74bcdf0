// NodeStorage on a real RocksDB in a temporary directory: opening, the genesis guard, blocks and
// accounts, the replica state, history discarding, kept headers and corruption.

#include "storage/node_storage.h"

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <fstream>

#include "storage_fixture.h"

namespace tally {
namespace {

using namespace testing;
namespace fs = std::filesystem;

std::unique_ptr<NodeStorage> open_store(const fs::path& directory, const Genesis& genesis,
                                        StorageOptions options = {}) {
  Result<std::unique_ptr<NodeStorage>> storage = NodeStorage::open(directory, genesis, options);
  EXPECT_TRUE(storage.ok()) << (storage.ok() ? "" : storage.error().message);
  return storage.ok() ? std::move(storage).value() : nullptr;
}

// Commits `count` blocks of `chain` into `storage`.
void commit_blocks(NodeStorage& storage, ChainBuilder& chain, uint64_t count) {
  for (uint64_t index = 0; index < count; ++index) {
    BuiltBlock built = chain.next();
    Status saved = storage.save_decided_block_and_accounts(built.decided, built.pending.changes());
    ASSERT_TRUE(saved.ok()) << saved.error().message;
    chain.commit(std::move(built));
  }
}

// Writes `value` under `key` in column family `name`, bypassing NodeStorage (which must be
// closed): how the tests simulate a corrupted store.
void raw_put(const fs::path& db_path, const std::string& name, const std::string& key,
             const std::string& value) {
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), db_path.string(), &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& family : names)
    descriptors.emplace_back(family, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  ASSERT_TRUE(
      rocksdb::DB::Open(rocksdb::DBOptions(), db_path.string(), descriptors, &handles, &db).ok());
  for (size_t index = 0; index < names.size(); ++index) {
    if (names[index] == name) {
      EXPECT_TRUE(db->Put(rocksdb::WriteOptions(), handles[index], key, value).ok());
    }
  }
  for (rocksdb::ColumnFamilyHandle* handle : handles) {
    EXPECT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
  }
  delete db;
}

std::string height_key_text(uint64_t height) {
  std::array<uint8_t, 8> key = height_key(height);
  return std::string(reinterpret_cast<const char*>(key.data()), key.size());
}

std::string address_text(const Address& address) {
  return std::string(reinterpret_cast<const char*>(address.key.data.data()), 32);
}

TEST(NodeStorageTest, NewStoreHoldsTheGenesisAccounts) {
  TempDir directory;
  Genesis genesis = storage_genesis();
  auto storage = open_store(directory.path(), genesis);
  ASSERT_TRUE(storage);
  EXPECT_TRUE(fs::is_directory(directory.path() / "db"));
  EXPECT_EQ(storage->last_decided_height(), 0u);
  EXPECT_EQ(storage->oldest_retained_height(), 0u);
  EXPECT_FALSE(storage->load_decided_block(1));
  EXPECT_FALSE(storage->load_replica_state());

  State genesis_state = State::from_genesis(genesis).value();
  std::optional<std::vector<std::pair<Address, Account>>> accounts = storage->load_accounts();
  ASSERT_TRUE(accounts);
  EXPECT_EQ(*accounts, genesis_state.sorted_accounts());
  EXPECT_EQ(storage->load_account(address_for(3)), genesis_state.account(address_for(3)));
  // The validator's account is created by the genesis too.
  EXPECT_TRUE(storage->load_account(address_for(kValidatorKeyBase)));
  EXPECT_FALSE(storage->load_account(address_for(999)));

  storage.reset();
  storage = open_store(directory.path(), genesis);
  ASSERT_TRUE(storage);
  EXPECT_EQ(storage->load_accounts(), accounts);
}

TEST(NodeStorageTest, RefusesAnotherGenesis) {
  TempDir directory;
  Genesis genesis = storage_genesis();
  ASSERT_TRUE(open_store(directory.path(), genesis));
  Genesis other = storage_genesis(51);
  Result<std::unique_ptr<NodeStorage>> reopened = NodeStorage::open(directory.path(), other, {});
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.error().code, "genesis_mismatch");
  EXPECT_NE(reopened.error().message.find(genesis.hash().hex()), std::string::npos);
}

TEST(NodeStorageTest, RefusesBadOptionsAndASecondOpener) {
  TempDir directory;
  Genesis genesis = storage_genesis();
  StorageOptions options;
  options.snapshot_chunk_accounts = 0;
  Result<std::unique_ptr<NodeStorage>> bad = NodeStorage::open(directory.path(), genesis, options);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, "invalid_options");

  auto storage = open_store(directory.path(), genesis);
  ASSERT_TRUE(storage);
  // RocksDB's lock: one process (or handle) at a time.
  Result<std::unique_ptr<NodeStorage>> second = NodeStorage::open(directory.path(), genesis, {});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, "io_error");
}

TEST(NodeStorageTest, SavesAndLoadsBlocksAndAccounts) {
  TempDir directory;
  Genesis genesis = storage_genesis();
  ChainBuilder chain(genesis, ChainShape{5, 3});
  std::vector<DecidedBlock> blocks;
  {
    auto storage = open_store(directory.path(), genesis);
    ASSERT_TRUE(storage);
    for (int index = 0; index < 12; ++index) {
      BuiltBlock built = chain.next();
      blocks.push_back(built.decided);
      ASSERT_TRUE(
          storage->save_decided_block_and_accounts(built.decided, built.pending.changes()).ok());
      chain.commit(std::move(built));
    }
    EXPECT_EQ(storage->last_decided_height(), 12u);
    EXPECT_EQ(storage->oldest_retained_height(), 1u);
  }
  auto storage = open_store(directory.path(), genesis);
  ASSERT_TRUE(storage);
  EXPECT_EQ(storage->last_decided_height(), 12u);
  for (const DecidedBlock& block : blocks) {
    EXPECT_EQ(storage->load_decided_block(block.block.header.height), block);
  }
  EXPECT_FALSE(storage->load_decided_block(13));
  EXPECT_EQ(storage->get_decided_block(13).error().code, "not_found");
  EXPECT_EQ(storage->get_decided_block(0).error().code, "not_found");

  std::vector<std::pair<Address, Account>> accounts = storage->load_accounts().value();
  EXPECT_EQ(accounts, chain.state().sorted_accounts());
  // Four accounts were created by endorsement (heights 3, 6, 9, 12).
  EXPECT_EQ(accounts.size(), genesis.accounts.size() + 1 + 4);
  EXPECT_EQ(storage->load_account(address_for(500'012))->created_height, 12u);
  State restored = State::from_accounts(genesis, 12, accounts).value();
  EXPECT_EQ(restored.state_root(), blocks.back().block.header.state_root);
}

TEST(NodeStorageTest, RefusesBlocksOutOfOrder) {
  TempDir directory;
  Genesis genesis = storage_genesis();
  auto storage = open_store(directory.path(), genesis);
  ChainBuilder chain(genesis);
  BuiltBlock first = chain.next();
  chain.commit(std::move(first));
  BuiltBlock second = chain.next();
  Status saved = storage->save_decided_block_and_accounts(second.decided, second.pending.changes());
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(saved.error().code, "invalid_height");

  ChainBuilder fresh(genesis);
  BuiltBlock block = fresh.next();
  block.decided.commit.block_hash = Hash256{};
  saved = storage->save_decided_block_and_accounts(block.decided, block.pending.changes());
  ASSERT_FALSE(saved.ok());
  EXPECT_EQ(storage->last_decided_height(), 0u);
}

TEST(NodeStorageTest, ReplicaStateRoundTrip) {
  TempDir directory;
  Genesis genesis = storage_genesis();
  ChainBuilder chain(genesis);
  BuiltBlock built = chain.next();

  ReplicaPersistentState state;
  state.height = 1;
  state.round = 2;
  state.step = Step::precommit;
  state.locked_round = 1;
  state.locked_block_hash = built.decided.block.hash();
  state.valid_round = 1;
  state.valid_block = built.decided.block;
  Vote vote;
  vote.type = VoteType::prevote;
  vote.height = 1;
  vote.round = 2;
  vote.block_hash = built.decided.block.hash();
  vote.sign(genesis.chain_id, Ed25519Signer(key_for(kValidatorKeyBase)));
  state.own_votes.push_back(vote);
  {
    auto storage = open_store(directory.path(), genesis);
    ASSERT_TRUE(storage->save_replica_state(state).ok());
    EXPECT_EQ(storage->load_replica_state(), state);
    state.round = 3;
    ASSERT_TRUE(storage->save_replica_state(state).ok());
  }
  auto storage = open_store(directory.path(), genesis);
  EXPECT_EQ(storage->load_replica_state(), state);
}

TEST(NodeStorageTest, DiscardsBlocksBelowTheRetainedWindow) {
  TempDir directory;
  Genesis genesis = storage_genesis();
  StorageOptions options;
  options.retain_blocks = 10;
  auto storage = open_store(directory.path(), genesis, options);
  ChainBuilder chain(genesis);
  commit_blocks(*storage, chain, 50);

  EXPECT_EQ(storage->oldest_retained_height(), 40u);
  for (uint64_t height = 1; height < 40; ++height) {
    EXPECT_FALSE(storage->load_decided_block(height)) << height;
    EXPECT_EQ(storage->get_decided_block(height).error().code, "discarded");
  }
  for (uint64_t height = 40; height <= 50; ++height) {
    EXPECT_TRUE(storage->load_decided_block(height)) << height;
  }

  // Kept forever: a retained block's header and commit survive its discarding.
  ASSERT_TRUE(storage->keep_forever(45).ok());
  EXPECT_EQ(storage->keep_forever(3).error().code, "discarded");
  HeaderAndCommit kept{storage->load_decided_block(45)->block.header,
                       storage->load_decided_block(45)->commit};
  commit_blocks(*storage, chain, 30);
  EXPECT_FALSE(storage->load_decided_block(45));
  EXPECT_EQ(storage->oldest_retained_height(), 70u);

  storage.reset();
  storage = open_store(directory.path(), genesis, options);
  std::vector<HeaderAndCommit> headers = storage->load_kept_headers().value();
  ASSERT_EQ(headers.size(), 1u);
  EXPECT_EQ(headers[0], kept);
  EXPECT_EQ(storage->oldest_retained_height(), 70u);
  EXPECT_TRUE(storage->load_decided_block(80));
  EXPECT_FALSE(storage->load_decided_block(69));
}

TEST(NodeStorageTest, RetainingZeroBlocksKeepsTheLatest) {
  TempDir directory;
  Genesis genesis = storage_genesis();
  StorageOptions options;
  options.retain_blocks = 0;
  auto storage = open_store(directory.path(), genesis, options);
  ChainBuilder chain(genesis);
  commit_blocks(*storage, chain, 5);
  EXPECT_EQ(storage->oldest_retained_height(), 5u);
  EXPECT_TRUE(storage->load_decided_block(5));
  EXPECT_FALSE(storage->load_decided_block(4));
  EXPECT_EQ(storage->load_decided_block(5)->block, chain.last()->block);
}

TEST(NodeStorageTest, LoweringRetainBlocksDiscardsARange) {
  TempDir directory;
  Genesis genesis = storage_genesis();
  ChainBuilder chain(genesis);
  {
    auto storage = open_store(directory.path(), genesis);  // retains 100
    commit_blocks(*storage, chain, 30);
    EXPECT_EQ(storage->oldest_retained_height(), 1u);
  }
  StorageOptions options;
  options.retain_blocks = 5;
  auto storage = open_store(directory.path(), genesis, options);
  commit_blocks(*storage, chain, 1);
  EXPECT_EQ(storage->oldest_retained_height(), 26u);
  for (uint64_t height = 1; height < 26; ++height) {
    EXPECT_FALSE(storage->load_decided_block(height));
  }
  for (uint64_t height = 26; height <= 31; ++height) {
    EXPECT_TRUE(storage->load_decided_block(height));
  }
}

class CorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto storage = open_store(directory_.path(), genesis_);
    ChainBuilder chain(genesis_);
    commit_blocks(*storage, chain, 5);
    ReplicaPersistentState state;
    state.height = 6;
    ASSERT_TRUE(storage->save_replica_state(state).ok());
  }
  fs::path db_path() const { return directory_.path() / "db"; }

  TempDir directory_;
  Genesis genesis_ = storage_genesis();
};

TEST_F(CorruptionTest, AGarbledOldBlockReadsAsMissing) {
  raw_put(db_path(), "blocks", height_key_text(3), "garbage");
  auto storage = open_store(directory_.path(), genesis_);
  ASSERT_TRUE(storage);
  EXPECT_FALSE(storage->load_decided_block(3));
  Result<DecidedBlock> block = storage->get_decided_block(3);
  ASSERT_FALSE(block.ok());
  EXPECT_EQ(block.error().code, "storage_corrupt");
  EXPECT_TRUE(storage->load_decided_block(4));
}

TEST_F(CorruptionTest, ABlockStoredUnderAnotherHeightIsCorrupt) {
  std::string block_four;
  {
    auto storage = open_store(directory_.path(), genesis_);
    Bytes encoded = encode_decided_block(*storage->load_decided_block(4));
    block_four.assign(encoded.begin(), encoded.end());
  }
  raw_put(db_path(), "blocks", height_key_text(2), block_four);
  auto storage = open_store(directory_.path(), genesis_);
  EXPECT_EQ(storage->get_decided_block(2).error().code, "storage_corrupt");
}

TEST_F(CorruptionTest, AGarbledLastBlockIsRefusedAtOpen) {
  raw_put(db_path(), "blocks", height_key_text(5), std::string(300, '\x01'));
  Result<std::unique_ptr<NodeStorage>> storage = NodeStorage::open(directory_.path(), genesis_, {});
  ASSERT_FALSE(storage.ok());
  EXPECT_EQ(storage.error().code, "storage_corrupt");
}

TEST_F(CorruptionTest, AGarbledAccountIsReported) {
  raw_put(db_path(), "accounts", address_text(address_for(2)), "xyz");
  auto storage = open_store(directory_.path(), genesis_);
  ASSERT_TRUE(storage);
  EXPECT_FALSE(storage->load_accounts());
  EXPECT_EQ(storage->get_accounts().error().code, "storage_corrupt");
  EXPECT_FALSE(storage->load_account(address_for(2)));
  EXPECT_EQ(storage->get_account(address_for(2)).error().code, "storage_corrupt");
  EXPECT_TRUE(storage->load_account(address_for(1)));
}

TEST_F(CorruptionTest, AMalformedAccountKeyIsReported) {
  raw_put(db_path(), "accounts", "short", std::string(kAccountEncodedSize, '\0'));
  auto storage = open_store(directory_.path(), genesis_);
  EXPECT_EQ(storage->get_accounts().error().code, "storage_corrupt");
}

TEST_F(CorruptionTest, AGarbledReplicaStateIsRefusedAtOpen) {
  raw_put(db_path(), "consensus", "replica_record", "\x07garbage");
  Result<std::unique_ptr<NodeStorage>> storage = NodeStorage::open(directory_.path(), genesis_, {});
  ASSERT_FALSE(storage.ok());
  EXPECT_EQ(storage.error().code, "storage_corrupt");
}

TEST_F(CorruptionTest, GarbledMetaIsRefusedAtOpen) {
  raw_put(db_path(), "meta", "last_decided_height", "\x05");
  Result<std::unique_ptr<NodeStorage>> storage = NodeStorage::open(directory_.path(), genesis_, {});
  ASSERT_FALSE(storage.ok());
  EXPECT_EQ(storage.error().code, "storage_corrupt");
}

TEST_F(CorruptionTest, FlippedBytesInATableFileAreDetected) {
  {
    auto storage = open_store(directory_.path(), genesis_);
    ASSERT_TRUE(storage->compact_all().ok());
  }
  // Flip bytes in the middle of every table file: RocksDB's block checksums catch it.
  for (const auto& entry : fs::directory_iterator(db_path())) {
    if (entry.path().extension() != ".sst")
      continue;
    std::fstream file(entry.path(), std::ios::in | std::ios::out | std::ios::binary);
    auto size = static_cast<std::streamoff>(fs::file_size(entry.path()));
    for (std::streamoff offset = 0; offset < size / 2; offset += 64) {
      file.seekp(offset);
      file.put('\x5a');
    }
  }
  // Whether it fails at open or on the first read, the failure is reported, never a crash.
  Result<std::unique_ptr<NodeStorage>> storage = NodeStorage::open(directory_.path(), genesis_, {});
  if (!storage.ok()) {
    EXPECT_TRUE(storage.error().code == "storage_corrupt" || storage.error().code == "io_error")
        << storage.error().code << ": " << storage.error().message;
    return;
  }
  Result<std::vector<std::pair<Address, Account>>> accounts = (*storage)->get_accounts();
  ASSERT_FALSE(accounts.ok());
  EXPECT_EQ(accounts.error().code, "storage_corrupt");
}

}  // namespace
}  // namespace tally
