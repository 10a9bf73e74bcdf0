// The replica state in NodeStorage: a small record plus each block body stored once under its
// own key. Round trips, the bodies kept (never an orphan, never more than two), bodies written
// once, missing or wrong bodies refused like a corrupt state, and stores of format 1.

#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <map>
#include <set>

#include "storage/node_storage.h"
#include "storage_fixture.h"

namespace tally {
namespace {

using namespace testing;
namespace fs = std::filesystem;

const std::string kRecordKey = "replica_record";
const std::string kFormatOneKey = "replica_state";
const std::string kBodyPrefix = "replica_block/";

std::string body_key(const Hash256& hash) {
  return kBodyPrefix + std::string(reinterpret_cast<const char*>(hash.span().data()), 32);
}

std::string text(const Bytes& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

// The store's RocksDB opened directly (NodeStorage closed): what is really on disk, and how the
// tests damage it.
class RawStore {
 public:
  explicit RawStore(const fs::path& data_directory) {
    std::string path = (data_directory / "db").string();
    std::vector<std::string> names;
    TALLY_ASSERT(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : names)
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    rocksdb::DB* db = nullptr;
    TALLY_ASSERT(rocksdb::DB::Open(rocksdb::DBOptions(), path, descriptors, &handles_, &db).ok());
    db_.reset(db);
    for (size_t index = 0; index < names.size(); ++index)
      by_name_[names[index]] = handles_[index];
  }
  ~RawStore() {
    for (rocksdb::ColumnFamilyHandle* handle : handles_)
      db_->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
  }

  std::optional<std::string> get(const std::string& family, const std::string& key) {
    std::string value;
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), by_name_.at(family), key, &value);
    if (status.IsNotFound())
      return std::nullopt;
    TALLY_ASSERT(status.ok());
    return value;
  }
  void put(const std::string& family, const std::string& key, const std::string& value) {
    TALLY_ASSERT(db_->Put(rocksdb::WriteOptions(), by_name_.at(family), key, value).ok());
  }
  void erase(const std::string& family, const std::string& key) {
    TALLY_ASSERT(db_->Delete(rocksdb::WriteOptions(), by_name_.at(family), key).ok());
  }
  // Keys of the consensus column family under the body prefix.
  std::vector<std::string> body_keys() {
    std::vector<std::string> keys;
    std::unique_ptr<rocksdb::Iterator> iterator(
        db_->NewIterator(rocksdb::ReadOptions(), by_name_.at("consensus")));
    for (iterator->Seek(kBodyPrefix); iterator->Valid() && iterator->key().starts_with(kBodyPrefix);
         iterator->Next()) {
      keys.push_back(iterator->key().ToString());
    }
    TALLY_ASSERT(iterator->status().ok());
    return keys;
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name_;
};

class ReplicaStateStorageTest : public ::testing::Test {
 protected:
  std::unique_ptr<NodeStorage> open() {
    Result<std::unique_ptr<NodeStorage>> storage = NodeStorage::open(directory_.path(), genesis_);
    EXPECT_TRUE(storage.ok()) << (storage.ok() ? "" : storage.error().message);
    return storage.ok() ? std::move(storage).value() : nullptr;
  }
  Result<std::unique_ptr<NodeStorage>> try_open() {
    return NodeStorage::open(directory_.path(), genesis_);
  }

  // A block for `height` with `transfers` transactions; `variant` changes its header (time).
  Block block(uint64_t height, size_t transfers = 5, uint64_t variant = 0) {
    ChainBuilder chain(genesis_, ChainShape{transfers});
    for (uint64_t below = 1; below < height; ++below)
      chain.commit(chain.next());
    Block made = chain.next().decided.block;
    made.header.time_ms += variant;
    return made;
  }

  Proposal proposal(const Block& proposed, uint32_t round) {
    Proposal made;
    made.height = proposed.header.height;
    made.round = round;
    made.proof_of_lock_round = round == 0 ? kNoRound : round - 1;
    made.block = proposed;
    made.sign(genesis_.chain_id, signer_);
    return made;
  }

  Vote vote(VoteType type, uint64_t height, uint32_t round, const Hash256& block_hash) {
    Vote made;
    made.type = type;
    made.height = height;
    made.round = round;
    made.block_hash = block_hash;
    made.sign(genesis_.chain_id, signer_);
    return made;
  }

  ReplicaPersistentState state(uint64_t height, uint32_t round, Step step) {
    ReplicaPersistentState made;
    made.height = height;
    made.round = round;
    made.step = step;
    return made;
  }

  TempDir directory_;
  Genesis genesis_ = storage_genesis(600);
  Ed25519Signer signer_{key_for(kValidatorKeyBase)};
};

TEST_F(ReplicaStateStorageTest, RoundTripsEveryShapeOfBlocks) {
  Block first = block(1);
  Block second = block(1, 5, 1);
  ASSERT_NE(first.hash(), second.hash());

  struct Case {
    const char* name;
    std::optional<Block> valid_block;
    std::optional<Block> proposed;
    uint64_t bodies;
  };
  std::vector<Case> cases = {
      {"none", std::nullopt, std::nullopt, 0},       {"valid block only", first, std::nullopt, 1},
      {"own proposal only", std::nullopt, first, 1}, {"both the same block", first, first, 1},
      {"two different blocks", first, second, 2},
  };
  for (const Case& shape : cases) {
    SCOPED_TRACE(shape.name);
    TempDir directory;
    ReplicaPersistentState saved = state(1, 1, Step::precommit);
    saved.locked_round = 0;
    saved.locked_block_hash = first.hash();
    saved.valid_round = 0;
    saved.valid_block = shape.valid_block;
    saved.own_votes = {vote(VoteType::prevote, 1, 1, first.hash()),
                       vote(VoteType::precommit, 1, 1, first.hash())};
    if (shape.proposed)
      saved.own_proposal = proposal(*shape.proposed, 1);
    {
      auto storage = NodeStorage::open(directory.path(), genesis_).value();
      ASSERT_TRUE(storage->save_replica_state(saved).ok());
      EXPECT_EQ(storage->load_replica_state(), saved);
      EXPECT_EQ(storage->replica_block_writes(), shape.bodies);
    }
    {
      auto storage = NodeStorage::open(directory.path(), genesis_).value();
      EXPECT_EQ(storage->load_replica_state(), saved);
    }
    EXPECT_EQ(RawStore(directory.path()).body_keys().size(), shape.bodies);
  }
}

// The steps of a few heights as the engine persists them (proposer at odd heights, a second
// round with another block at height 3): after every save, exactly the bodies the state
// references are on disk, never more than two, and the state reads back after a restart.
TEST_F(ReplicaStateStorageTest, KeepsExactlyTheReferencedBodiesAcrossHeights) {
  std::vector<ReplicaPersistentState> saves;
  for (uint64_t height = 1; height <= 4; ++height) {
    bool proposer = height % 2 == 1;
    Block proposed = block(height, 5);
    ReplicaPersistentState current = state(height, 0, Step::propose);
    saves.push_back(current);
    if (proposer) {
      current.own_proposal = proposal(proposed, 0);
      saves.push_back(current);
    }
    current.step = Step::prevote;
    current.own_votes.push_back(vote(VoteType::prevote, height, 0, proposed.hash()));
    saves.push_back(current);
    current.step = Step::precommit;
    current.locked_round = 0;
    current.locked_block_hash = proposed.hash();
    current.valid_round = 0;
    current.valid_block = proposed;
    current.own_votes.push_back(vote(VoteType::precommit, height, 0, proposed.hash()));
    saves.push_back(current);
    if (height == 3) {
      // Round 1: another block gets a polka; the lock and the valid block move to it.
      Block other = block(height, 7, 5);
      current.round = 1;
      current.step = Step::prevote;
      current.own_votes.push_back(vote(VoteType::prevote, height, 1, other.hash()));
      saves.push_back(current);
      current.step = Step::precommit;
      current.locked_round = 1;
      current.locked_block_hash = other.hash();
      current.valid_round = 1;
      current.valid_block = other;
      saves.push_back(current);
    }
  }
  saves.push_back(state(5, 0, Step::propose));

  uint64_t distinct_bodies = 0;
  std::optional<Hash256> last_valid, last_proposed;
  for (size_t index = 0; index < saves.size(); ++index) {
    SCOPED_TRACE("save " + std::to_string(index));
    const ReplicaPersistentState& saved = saves[index];
    std::set<Hash256> referenced;
    if (saved.valid_block)
      referenced.insert(saved.valid_block->hash());
    if (saved.own_proposal)
      referenced.insert(saved.own_proposal->block.hash());
    for (const Hash256& hash : referenced) {
      if (hash != last_valid && hash != last_proposed)
        ++distinct_bodies;
    }
    last_valid = saved.valid_block ? std::optional(saved.valid_block->hash()) : std::nullopt;
    last_proposed =
        saved.own_proposal ? std::optional(saved.own_proposal->block.hash()) : std::nullopt;
    {
      // Reopened for every save: the next save must learn from the disk which bodies exist.
      auto storage = open();
      ASSERT_TRUE(storage);
      ASSERT_TRUE(storage->save_replica_state(saved).ok());
      EXPECT_EQ(storage->load_replica_state(), saved);
    }
    std::vector<std::string> keys = RawStore(directory_.path()).body_keys();
    std::set<std::string> expected;
    for (const Hash256& hash : referenced)
      expected.insert(body_key(hash));
    EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()), expected);
    EXPECT_LE(keys.size(), 2u);
  }
  EXPECT_EQ(distinct_bodies, 5u);  // one block per height, and round 1's at height 3
  auto storage = open();
  EXPECT_EQ(storage->load_replica_state(), saves.back());
}

// A body is written once however many saves reference it: counted by NodeStorage and seen in
// the bytes that reach the disk (the write-ahead log grows by the body only once).
TEST_F(ReplicaStateStorageTest, WritesEachBodyOnce) {
  Block large = block(1, 500);
  Block other = block(1, 500, 1);
  uint64_t body_size = encode_replica_block(large).size();
  ASSERT_GT(body_size, 70'000u);

  auto storage = open();
  ASSERT_TRUE(storage);
  fs::path db = storage->db_path();
  uint64_t size = directory_size(db);
  auto growth = [&] {
    uint64_t now = directory_size(db);
    uint64_t grown = now - size;
    size = now;
    return grown;
  };

  ReplicaPersistentState current = state(1, 0, Step::propose);
  current.own_proposal = proposal(large, 0);
  ASSERT_TRUE(storage->save_replica_state(current).ok());
  EXPECT_EQ(storage->replica_block_writes(), 1u);
  EXPECT_GE(growth(), body_size);

  current.step = Step::prevote;
  current.own_votes.push_back(vote(VoteType::prevote, 1, 0, large.hash()));
  ASSERT_TRUE(storage->save_replica_state(current).ok());
  current.step = Step::precommit;
  current.valid_round = 0;
  current.valid_block = large;  // the same block twice in one state
  current.own_votes.push_back(vote(VoteType::precommit, 1, 0, large.hash()));
  ASSERT_TRUE(storage->save_replica_state(current).ok());
  EXPECT_EQ(storage->replica_block_writes(), 1u);
  EXPECT_LT(growth(), body_size / 10);

  current.round = 1;
  current.valid_block = other;
  ASSERT_TRUE(storage->save_replica_state(current).ok());
  EXPECT_EQ(storage->replica_block_writes(), 2u);
  EXPECT_GE(growth(), body_size);
  EXPECT_EQ(storage->load_replica_state(), current);
}

// Two bodies under one header hash (an empty last commit at height 1 hashes to zero whatever its
// round: a Byzantine proposer can make such a twin that still matches the header): the load
// still returns exactly the blocks saved, within one save and across saves.
TEST_F(ReplicaStateStorageTest, KeepsTwoBodiesOfOneHeaderApart) {
  Block ours = block(1);
  Block twin = ours;
  twin.last_commit.round = 7;
  ASSERT_EQ(twin.hash(), ours.hash());
  ASSERT_NE(twin, ours);
  ASSERT_TRUE(twin.check_body_matches_header().ok());

  auto storage = open();
  ReplicaPersistentState current = state(1, 0, Step::propose);
  current.own_proposal = proposal(ours, 0);
  ASSERT_TRUE(storage->save_replica_state(current).ok());
  current.round = 1;
  current.step = Step::precommit;
  current.valid_round = 1;
  current.valid_block = twin;
  ASSERT_TRUE(storage->save_replica_state(current).ok());
  EXPECT_EQ(storage->load_replica_state(), current);

  current.own_proposal.reset();
  ASSERT_TRUE(storage->save_replica_state(current).ok());
  EXPECT_EQ(storage->load_replica_state(), current);
  current.own_proposal = proposal(ours, 2);
  ASSERT_TRUE(storage->save_replica_state(current).ok());
  storage.reset();
  storage = open();
  EXPECT_EQ(storage->load_replica_state(), current);
}

class DamagedReplicaStateStorageTest : public ReplicaStateStorageTest {
 protected:
  void SetUp() override {
    saved_ = state(1, 0, Step::precommit);
    saved_.valid_round = 0;
    saved_.valid_block = valid_;
    saved_.own_proposal = proposal(valid_, 0);
    auto storage = open();
    ASSERT_TRUE(storage->save_replica_state(saved_).ok());
  }
  void expect_refused(const std::string& fragment) {
    Result<std::unique_ptr<NodeStorage>> storage = try_open();
    ASSERT_FALSE(storage.ok());
    EXPECT_EQ(storage.error().code, "storage_corrupt");
    EXPECT_NE(storage.error().message.find(fragment), std::string::npos) << storage.error().message;
  }

  Block valid_ = block(1);
  ReplicaPersistentState saved_;
};

TEST_F(DamagedReplicaStateStorageTest, AMissingBodyIsRefusedAtOpen) {
  RawStore(directory_.path()).erase("consensus", body_key(valid_.hash()));
  expect_refused("which is not stored");
}

TEST_F(DamagedReplicaStateStorageTest, AGarbledBodyIsRefusedAtOpen) {
  RawStore(directory_.path()).put("consensus", body_key(valid_.hash()), "\x01garbage");
  expect_refused("does not decode");
}

TEST_F(DamagedReplicaStateStorageTest, AnotherBlockUnderTheKeyIsRefusedAtOpen) {
  RawStore(directory_.path())
      .put("consensus", body_key(valid_.hash()), text(encode_replica_block(block(1, 5, 3))));
  expect_refused("is stored as block");
}

TEST_F(DamagedReplicaStateStorageTest, AGarbledRecordIsRefusedAtOpen) {
  RawStore(directory_.path()).put("consensus", kRecordKey, "\x01\x02");
  expect_refused("does not decode");
}

TEST_F(DamagedReplicaStateStorageTest, BothFormatsAtOnceAreRefused) {
  RawStore(directory_.path()).put("consensus", kFormatOneKey, text(saved_.encode()));
  expect_refused("both formats");
}

TEST_F(DamagedReplicaStateStorageTest, UnreferencedBodiesAreDeletedByTheNextSave) {
  {
    RawStore raw(directory_.path());
    Block stray = block(1, 5, 9);
    raw.put("consensus", body_key(stray.hash()), text(encode_replica_block(stray)));
    raw.put("consensus", kBodyPrefix + "short", "x");
    EXPECT_EQ(raw.body_keys().size(), 3u);
  }
  {
    auto storage = open();
    ASSERT_TRUE(storage);
    EXPECT_EQ(storage->load_replica_state(), saved_);
    saved_.round = 1;
    ASSERT_TRUE(storage->save_replica_state(saved_).ok());
    EXPECT_EQ(storage->replica_block_writes(), 0u);
  }
  EXPECT_EQ(RawStore(directory_.path()).body_keys(),
            std::vector<std::string>{body_key(valid_.hash())});
}

// A store of format 1 (the whole state under "replica_state") loads as it is; its first save
// replaces that value with the record and bodies and marks the store format 2, in one batch.
TEST_F(ReplicaStateStorageTest, ReadsAndUpgradesAFormatOneStore) {
  Block proposed = block(1);
  ReplicaPersistentState old_state = state(1, 0, Step::prevote);
  old_state.valid_round = 0;
  old_state.valid_block = proposed;
  old_state.own_proposal = proposal(proposed, 0);
  old_state.own_votes.push_back(vote(VoteType::prevote, 1, 0, proposed.hash()));
  open().reset();
  {
    RawStore raw(directory_.path());
    raw.put("meta", "format_version", text(encode_u64(1)));
    raw.put("consensus", kFormatOneKey, text(old_state.encode()));
  }
  ReplicaPersistentState next = old_state;
  next.step = Step::precommit;
  next.own_votes.push_back(vote(VoteType::precommit, 1, 0, proposed.hash()));
  {
    auto storage = open();
    ASSERT_TRUE(storage);
    EXPECT_EQ(storage->load_replica_state(), old_state);
    storage.reset();
    storage = open();  // opening alone changes nothing
    EXPECT_EQ(storage->load_replica_state(), old_state);
    ASSERT_TRUE(storage->save_replica_state(next).ok());
    EXPECT_EQ(storage->replica_block_writes(), 1u);
    EXPECT_EQ(storage->load_replica_state(), next);
  }
  {
    RawStore raw(directory_.path());
    EXPECT_FALSE(raw.get("consensus", kFormatOneKey));
    EXPECT_TRUE(raw.get("consensus", kRecordKey));
    EXPECT_EQ(raw.get("meta", "format_version"), text(encode_u64(2)));
    EXPECT_EQ(raw.body_keys().size(), 1u);
  }
  EXPECT_EQ(open()->load_replica_state(), next);
}

TEST_F(ReplicaStateStorageTest, AGarbledFormatOneStateIsRefusedAtOpen) {
  open().reset();
  RawStore(directory_.path()).put("consensus", kFormatOneKey, "\x07garbage");
  Result<std::unique_ptr<NodeStorage>> storage = try_open();
  ASSERT_FALSE(storage.ok());
  EXPECT_EQ(storage.error().code, "storage_corrupt");
}

TEST_F(ReplicaStateStorageTest, RefusesAStoreOfANewerFormat) {
  open().reset();
  RawStore(directory_.path()).put("meta", "format_version", text(encode_u64(3)));
  Result<std::unique_ptr<NodeStorage>> storage = try_open();
  ASSERT_FALSE(storage.ok());
  EXPECT_EQ(storage.error().code, "storage_corrupt");
}

TEST(ReplicaRecordStorageTest, DecodingIsStrict) {
  ReplicaPersistentState state;
  state.height = 3;
  state.step = Step::prevote;
  Bytes encoded = encode_replica_record(state, false, false);
  Result<ReplicaRecord> decoded = decode_replica_record(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->state, state);
  EXPECT_FALSE(decoded->valid_block_reference);

  Bytes trailing = encoded;
  trailing.push_back(0);
  EXPECT_FALSE(decode_replica_record(trailing).ok());
  Bytes bad_version = encoded;
  bad_version[0] = 2;
  EXPECT_FALSE(decode_replica_record(bad_version).ok());
  Bytes bad_form = encoded;
  bad_form[1 + 8 + 4 + 1 + 4 + 32 + 4] = 3;  // the valid block's form
  EXPECT_FALSE(decode_replica_record(bad_form).ok());
  for (size_t length = 0; length < encoded.size(); ++length) {
    EXPECT_FALSE(decode_replica_record(ByteSpan(encoded.data(), length)).ok()) << length;
  }
}

}  // namespace
}  // namespace tally
