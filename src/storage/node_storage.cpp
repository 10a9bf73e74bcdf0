#include "storage/node_storage.h"

#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/memtablerep.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <map>

namespace tally {
namespace {

namespace fs = std::filesystem;

// 2: the replica state is a small record under "replica_record" whose blocks are stored once each
// under "replica_block/" + hash. 1: one value under "replica_state", blocks inline. A format-1
// store is read as it is and becomes format 2 in the batch of its first replica state save, so a
// build that knows only format 1 refuses it rather than miss what this one signed.
constexpr uint64_t kStoreFormatVersion = 2;
constexpr uint64_t kOldestReadableFormatVersion = 1;

constexpr std::string_view kMetaCf = "meta";
constexpr std::string_view kBlocksCf = "blocks";
constexpr std::string_view kAccountsCf = "accounts";
constexpr std::string_view kConsensusCf = "consensus";
constexpr std::string_view kPermanentCf = "permanent";

constexpr std::string_view kFormatVersionKey = "format_version";
constexpr std::string_view kGenesisHashKey = "genesis_hash";
constexpr std::string_view kLastDecidedKey = "last_decided_height";
constexpr std::string_view kOldestRetainedKey = "oldest_retained_height";
constexpr std::string_view kReplicaRecordKey = "replica_record";
constexpr std::string_view kReplicaBlockPrefix = "replica_block/";
constexpr std::string_view kFormatOneReplicaStateKey = "replica_state";

rocksdb::Slice slice(ByteSpan bytes) {
  return rocksdb::Slice(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}
rocksdb::Slice slice(std::string_view text) {
  return rocksdb::Slice(text.data(), text.size());
}
template <size_t N>
rocksdb::Slice slice(const std::array<uint8_t, N>& bytes) {
  return rocksdb::Slice(reinterpret_cast<const char*>(bytes.data()), N);
}
ByteSpan span(const rocksdb::Slice& value) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(value.data()), value.size());
}
ByteSpan span(const std::string& value) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(value.data()), value.size());
}

Error rocks_error(const rocksdb::Status& status, const std::string& what) {
  return make_error(status.IsCorruption() ? "storage_corrupt" : "io_error",
                    what + ": " + status.ToString());
}

Error corrupt(const std::string& message) {
  return make_error("storage_corrupt", message);
}

std::string replica_block_key(const Hash256& hash) {
  std::string key(kReplicaBlockPrefix);
  key.append(reinterpret_cast<const char*>(hash.span().data()), hash.span().size());
  return key;
}

// The replica state as the consensus column family holds it.
struct StoredReplicaState {
  ReplicaPersistentState state;
  // The block bodies the record references, as read and checked (empty for format 1).
  std::map<Hash256, Block> referenced_blocks;
  bool format_one = false;  // the format-1 value under "replica_state"
};

// Reads the replica state as of `snapshot` (null: the latest), with every block body the record
// references, each checked to be the block of the hash the record names. A missing, undecodable
// or mismatched body makes the whole state corrupt.
Result<std::optional<StoredReplicaState>> read_replica_state(rocksdb::DB& db,
                                                             rocksdb::ColumnFamilyHandle* consensus,
                                                             const rocksdb::Snapshot* snapshot) {
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  std::string record_value;
  rocksdb::Status record_status =
      db.Get(read_options, consensus, slice(kReplicaRecordKey), &record_value);
  if (!record_status.ok() && !record_status.IsNotFound())
    return rocks_error(record_status, "cannot read the replica state");
  std::string format_one_value;
  rocksdb::Status format_one_status =
      db.Get(read_options, consensus, slice(kFormatOneReplicaStateKey), &format_one_value);
  if (!format_one_status.ok() && !format_one_status.IsNotFound())
    return rocks_error(format_one_status, "cannot read the replica state");
  // The batch that writes the first record deletes the format-1 value: never both.
  if (record_status.ok() && format_one_status.ok())
    return corrupt("the replica state is stored in both formats");

  if (format_one_status.ok()) {
    Result<ReplicaPersistentState> decoded = ReplicaPersistentState::decode(span(format_one_value));
    if (!decoded.ok())
      return corrupt("the replica state does not decode: " + decoded.error().message);
    StoredReplicaState stored;
    stored.state = std::move(decoded).value();
    stored.format_one = true;
    return std::optional<StoredReplicaState>(std::move(stored));
  }
  if (record_status.IsNotFound())
    return std::optional<StoredReplicaState>();

  Result<ReplicaRecord> record = decode_replica_record(span(record_value));
  if (!record.ok())
    return corrupt("the replica state does not decode: " + record.error().message);
  StoredReplicaState stored;
  stored.state = std::move(record->state);
  auto read_body = [&](const Hash256& hash) -> Result<Block> {
    auto known = stored.referenced_blocks.find(hash);
    if (known != stored.referenced_blocks.end())
      return known->second;
    std::string value;
    rocksdb::Status status =
        db.Get(read_options, consensus, slice(replica_block_key(hash)), &value);
    if (status.IsNotFound())
      return corrupt("the replica state names block " + hash.hex() + ", which is not stored");
    if (!status.ok())
      return rocks_error(status, "cannot read the replica state's block " + hash.hex());
    Result<Block> block = decode_replica_block(span(value));
    if (!block.ok()) {
      return corrupt("the replica state's block " + hash.hex() +
                     " does not decode: " + block.error().message);
    }
    if (block->hash() != hash) {
      return corrupt("the replica state's block " + hash.hex() + " is stored as block " +
                     block->hash().hex());
    }
    stored.referenced_blocks.emplace(hash, *block);
    return block;
  };
  if (record->valid_block_reference) {
    Result<Block> block = read_body(*record->valid_block_reference);
    if (!block.ok())
      return block.error();
    stored.state.valid_block = std::move(block).value();
  }
  if (record->proposal_block_reference) {
    Result<Block> block = read_body(*record->proposal_block_reference);
    if (!block.ok())
      return block.error();
    stored.state.own_proposal->block = std::move(block).value();
  }
  return std::optional<StoredReplicaState>(std::move(stored));
}

// Synced unless a test turned it off: a write is durable when the call returns.
rocksdb::WriteOptions write_options(const StorageOptions& storage_options) {
  rocksdb::WriteOptions options;
  options.sync = storage_options.sync;
  return options;
}

Status validate_options(const StorageOptions& options) {
  auto invalid = [](std::string message) {
    return make_error("invalid_options", std::move(message));
  };
  if (options.snapshot_chunk_accounts == 0 ||
      options.snapshot_chunk_accounts > kMaxSnapshotChunkAccounts) {
    return invalid("snapshot_chunk_accounts must be between 1 and " +
                   std::to_string(kMaxSnapshotChunkAccounts));
  }
  if (options.snapshot_interval > 0 && options.snapshot_keep == 0)
    return invalid("snapshot_keep must be at least 1");
  return Status::success();
}

}  // namespace

struct NodeStorage::Handles {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> all;
  rocksdb::ColumnFamilyHandle* meta = nullptr;
  rocksdb::ColumnFamilyHandle* blocks = nullptr;
  rocksdb::ColumnFamilyHandle* accounts = nullptr;
  rocksdb::ColumnFamilyHandle* consensus = nullptr;
  rocksdb::ColumnFamilyHandle* permanent = nullptr;

  ~Handles() {
    if (!db)
      return;
    for (rocksdb::ColumnFamilyHandle* handle : all)
      db->DestroyColumnFamilyHandle(handle).PermitUncheckedError();
    db->Close().PermitUncheckedError();
  }
};

// --- Opening ---------------------------------------------------------------------------------

NodeStorage::NodeStorage(fs::path db_path, const Genesis& genesis, StorageOptions options)
    : db_path_(std::move(db_path)),
      options_(std::move(options)),
      chain_id_(genesis.chain_id),
      handles_(std::make_unique<Handles>()) {}

NodeStorage::~NodeStorage() = default;

Result<std::unique_ptr<NodeStorage>> NodeStorage::open(const fs::path& data_directory,
                                                       const Genesis& genesis,
                                                       StorageOptions options) {
  TALLY_TRY(validate_options(options));
  TALLY_TRY(genesis.validate());
  fs::path db_path = data_directory / "db";
  std::error_code error;
  fs::create_directories(db_path, error);
  if (error)
    return make_error("io_error", "cannot create " + db_path.string() + ": " + error.message());

  std::unique_ptr<NodeStorage> storage(new NodeStorage(db_path, genesis, std::move(options)));

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.paranoid_checks = true;
  // Bounds the write-ahead log: small column families (meta, consensus) are written on every
  // commit and would otherwise pin old log files until their memtables fill.
  db_options.max_total_wal_size = 32 << 20;
  // RocksDB's own info log: warnings and errors only (the node logs what it does), in at most
  // three files of 1 MiB. At the info level it grows with every flush and compaction.
  db_options.info_log_level = rocksdb::InfoLogLevel::WARN_LEVEL;
  db_options.keep_log_file_num = 3;
  db_options.max_log_file_size = 1 << 20;
  db_options.max_manifest_file_size = 16 << 20;

  // Compression costs validators CPU on every flush and compaction. The small column families
  // hold short-lived values (the consensus state is rewritten at every step): never compressed.
  // Blocks and accounts are compressed only in the bottommost level, where data stays.
  // Table blocks are checksummed with XXH3: Debian builds RocksDB portable, so CRC32C (the
  // default) runs its table-driven fallback, on every flush, compaction and read. Each file
  // records its checksum type, so files written before stay readable.
  rocksdb::BlockBasedTableOptions table;
  table.checksum = rocksdb::kXXH3;
  rocksdb::ColumnFamilyOptions small_options;
  small_options.write_buffer_size = 4 << 20;
  small_options.compression = rocksdb::kNoCompression;
  small_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::ColumnFamilyOptions blocks_options;
  blocks_options.write_buffer_size = 32 << 20;
  blocks_options.compression = rocksdb::kNoCompression;
  blocks_options.bottommost_compression = rocksdb::kSnappyCompression;
  blocks_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  rocksdb::ColumnFamilyOptions accounts_options;
  accounts_options.write_buffer_size = 64 << 20;
  // The accounts are written on every commit but read only when the node starts and when it
  // writes a snapshot (the state lives in memory). The default skip-list memtable keeps every
  // write sorted as it comes, which at a million accounts costs a validator ~1.4 us per changed
  // account in cache misses; a vector memtable appends in O(1) and sorts once, when it is
  // flushed or read. It takes no concurrent writes, and Tally writes from one thread.
  accounts_options.memtable_factory = std::make_shared<rocksdb::VectorRepFactory>();
  db_options.allow_concurrent_memtable_write = false;
  accounts_options.compression = rocksdb::kNoCompression;
  accounts_options.bottommost_compression = rocksdb::kSnappyCompression;
  rocksdb::BlockBasedTableOptions accounts_table = table;
  accounts_table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  accounts_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(accounts_table));

  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors = {
      {rocksdb::kDefaultColumnFamilyName, small_options},
      {std::string(kMetaCf), small_options},
      {std::string(kBlocksCf), blocks_options},
      {std::string(kAccountsCf), accounts_options},
      {std::string(kConsensusCf), small_options},
      {std::string(kPermanentCf), small_options},
  };
  rocksdb::DB* db = nullptr;
  Handles& handles = *storage->handles_;
  rocksdb::Status status =
      rocksdb::DB::Open(db_options, db_path.string(), descriptors, &handles.all, &db);
  if (!status.ok())
    return rocks_error(status, "cannot open " + db_path.string());
  handles.db.reset(db);
  handles.meta = handles.all[1];
  handles.blocks = handles.all[2];
  handles.accounts = handles.all[3];
  handles.consensus = handles.all[4];
  handles.permanent = handles.all[5];

  TALLY_TRY(storage->initialize(genesis));
  return storage;
}

Status NodeStorage::initialize(const Genesis& genesis) {
  rocksdb::DB& db = *handles_->db;
  Hash256 genesis_hash = genesis.hash();
  std::string value;
  rocksdb::Status status =
      db.Get(rocksdb::ReadOptions(), handles_->meta, slice(kGenesisHashKey), &value);
  if (status.IsNotFound()) {
    // A new store, or one whose creation was interrupted before its single write.
    std::unique_ptr<rocksdb::Iterator> iterator(
        db.NewIterator(rocksdb::ReadOptions(), handles_->accounts));
    iterator->SeekToFirst();
    if (iterator->Valid())
      return corrupt("the store holds accounts but no genesis hash");
    if (!iterator->status().ok())
      return rocks_error(iterator->status(), "cannot read the accounts");
    Result<State> state = State::from_genesis(genesis);
    if (!state.ok())
      return state.error();
    rocksdb::WriteBatch batch;
    for (const auto& [address, account] : state->sorted_accounts()) {
      batch.Put(handles_->accounts, slice(address.key.span()), slice(encode_account(account)));
    }
    batch.Put(handles_->meta, slice(kFormatVersionKey), slice(encode_u64(kStoreFormatVersion)));
    // Last: the genesis hash marks a store as initialized.
    batch.Put(handles_->meta, slice(kGenesisHashKey), slice(genesis_hash.span()));
    status = db.Write(write_options(options_), &batch);
    if (!status.ok())
      return rocks_error(status, "cannot initialize the store");
    return Status::success();
  }
  if (!status.ok())
    return rocks_error(status, "cannot read the genesis hash");
  if (value.size() != 32)
    return corrupt("the stored genesis hash is " + std::to_string(value.size()) + " bytes");
  Hash256 stored = Hash256::from_span(span(value));
  if (stored != genesis_hash) {
    return make_error("genesis_mismatch", "the store at " + db_path_.string() +
                                              " belongs to the chain with genesis hash " +
                                              stored.hex() + ", not " + genesis_hash.hex());
  }

  auto read_counter = [&](std::string_view key, uint64_t& out) -> Status {
    std::string bytes;
    rocksdb::Status read = db.Get(rocksdb::ReadOptions(), handles_->meta, slice(key), &bytes);
    if (read.IsNotFound()) {
      out = 0;
      return Status::success();
    }
    if (!read.ok())
      return rocks_error(read, "cannot read " + std::string(key));
    Result<uint64_t> decoded = decode_u64(span(bytes));
    if (!decoded.ok())
      return corrupt("meta " + std::string(key) + ": " + decoded.error().message);
    out = *decoded;
    return Status::success();
  };
  uint64_t version = 0;
  TALLY_TRY(read_counter(kFormatVersionKey, version));
  if (version < kOldestReadableFormatVersion || version > kStoreFormatVersion) {
    return corrupt("the store has format version " + std::to_string(version) +
                   "; this build reads " + std::to_string(kOldestReadableFormatVersion) + " to " +
                   std::to_string(kStoreFormatVersion));
  }
  uint64_t last = 0;
  uint64_t oldest = 0;
  TALLY_TRY(read_counter(kLastDecidedKey, last));
  TALLY_TRY(read_counter(kOldestRetainedKey, oldest));
  if ((last == 0) != (oldest == 0) || oldest > last) {
    return corrupt("inconsistent heights: last decided " + std::to_string(last) +
                   ", oldest retained " + std::to_string(oldest));
  }
  if (last > 0) {
    Result<DecidedBlock> block = read_block(last, nullptr);
    if (!block.ok())
      return corrupt("the last decided block " + std::to_string(last) + ": " +
                     block.error().message);
  }
  // The replica state must load (with its blocks), and the save that follows must know which
  // bodies are stored.
  Result<std::optional<StoredReplicaState>> replica =
      read_replica_state(db, handles_->consensus, nullptr);
  if (!replica.ok())
    return replica.error();
  if (*replica) {
    replica_blocks_ = std::move((*replica)->referenced_blocks);
    replica_format_upgrade_pending_ = (*replica)->format_one;
  }
  if (version < kStoreFormatVersion)
    replica_format_upgrade_pending_ = true;
  std::unique_ptr<rocksdb::Iterator> bodies(
      db.NewIterator(rocksdb::ReadOptions(), handles_->consensus));
  for (bodies->Seek(slice(kReplicaBlockPrefix)); bodies->Valid(); bodies->Next()) {
    if (!bodies->key().starts_with(slice(kReplicaBlockPrefix)))
      break;
    ByteSpan hash = span(bodies->key()).subspan(kReplicaBlockPrefix.size());
    if (hash.size() != 32 || replica_blocks_.count(Hash256::from_span(hash)) == 0)
      stale_replica_block_keys_.push_back(bodies->key().ToString());
  }
  if (!bodies->status().ok())
    return rocks_error(bodies->status(), "cannot read the replica state's blocks");
  oldest_retained_.store(oldest);
  last_decided_.store(last);
  return Status::success();
}

void NodeStorage::hook(std::string_view point) const {
  if (options_.crash_hook)
    options_.crash_hook(point);
}

// --- Replica state ---------------------------------------------------------------------------

Status NodeStorage::save_replica_state(const ReplicaPersistentState& state) {
  // The bodies the new record references (at most two): already stored, or new in this batch.
  struct Referenced {
    Hash256 hash;
    const Block* body;
    bool is_new;
  };
  std::vector<Referenced> referenced;
  referenced.reserve(2);
  // Whether `block` goes by reference. A block is known by its header hash; a different body
  // under a hash already referenced or stored (only a Byzantine proposer can make one that
  // matches the header) goes inline, so the load returns exactly what was saved. The comparison
  // costs far less than encoding, checksumming and writing the body again.
  auto by_reference = [&](const Block& block) {
    Hash256 hash = block.hash();
    for (const Referenced& known : referenced) {
      if (known.hash == hash)
        return *known.body == block;
    }
    auto stored = replica_blocks_.find(hash);
    if (stored != replica_blocks_.end()) {
      if (stored->second != block)
        return false;
      referenced.push_back(Referenced{hash, &stored->second, false});
      return true;
    }
    referenced.push_back(Referenced{hash, &block, true});
    return true;
  };
  bool valid_block_by_reference = state.valid_block && by_reference(*state.valid_block);
  bool proposal_block_by_reference = state.own_proposal && by_reference(state.own_proposal->block);
  Bytes record =
      encode_replica_record(state, valid_block_by_reference, proposal_block_by_reference);

  rocksdb::WriteBatch batch;
  // Deletions first: a stale key may be the key of a body this batch stores.
  for (const std::string& key : stale_replica_block_keys_)
    batch.Delete(handles_->consensus, slice(key));
  for (const auto& [hash, body] : replica_blocks_) {
    bool still_referenced =
        std::any_of(referenced.begin(), referenced.end(),
                    [&](const Referenced& known) { return known.hash == hash; });
    if (!still_referenced)
      batch.Delete(handles_->consensus, slice(replica_block_key(hash)));
  }
  if (replica_format_upgrade_pending_) {
    batch.Delete(handles_->consensus, slice(kFormatOneReplicaStateKey));
    batch.Put(handles_->meta, slice(kFormatVersionKey), slice(encode_u64(kStoreFormatVersion)));
  }
  uint64_t new_bodies = 0;
  for (const Referenced& known : referenced) {
    if (!known.is_new)
      continue;
    batch.Put(handles_->consensus, slice(replica_block_key(known.hash)),
              slice(encode_replica_block(*known.body)));
    ++new_bodies;
  }
  batch.Put(handles_->consensus, slice(kReplicaRecordKey), slice(record));

  hook("before_replica_state");
  rocksdb::Status status = handles_->db->Write(write_options(options_), &batch);
  if (!status.ok())
    return rocks_error(status, "cannot save the replica state");
  // The store now holds exactly the bodies in `referenced`.
  std::map<Hash256, Block> blocks;
  for (const Referenced& known : referenced) {
    if (known.is_new)
      blocks.emplace(known.hash, *known.body);
    else
      blocks.insert(replica_blocks_.extract(known.hash));
  }
  replica_blocks_ = std::move(blocks);
  stale_replica_block_keys_.clear();
  replica_format_upgrade_pending_ = false;
  replica_block_writes_ += new_bodies;
  hook("after_replica_state");
  return Status::success();
}

std::optional<ReplicaPersistentState> NodeStorage::load_replica_state() const {
  // One RocksDB snapshot for the record and its bodies: a save may replace both meanwhile.
  const rocksdb::Snapshot* snapshot = handles_->db->GetSnapshot();
  Result<std::optional<StoredReplicaState>> stored =
      read_replica_state(*handles_->db, handles_->consensus, snapshot);
  handles_->db->ReleaseSnapshot(snapshot);
  if (!stored.ok()) {
    std::string message = (stored.error().code == "storage_corrupt"
                               ? std::string("the stored replica state is corrupt")
                               : std::string("cannot read the replica state")) +
                          "; refusing to risk double-signing: " + stored.error().message;
    TALLY_ASSERT_MSG(stored.ok(), message.c_str());
  }
  if (!*stored)
    return std::nullopt;
  return std::move((*stored)->state);
}

// --- Blocks ----------------------------------------------------------------------------------

Status NodeStorage::save_decided_block(const DecidedBlock& decided) {
  return save_decided_block_and_accounts(decided, {});
}

Status NodeStorage::save_decided_block_and_accounts(
    const DecidedBlock& decided, const std::vector<std::pair<Address, Account>>& changes) {
  uint64_t height = decided.block.header.height;
  uint64_t last = last_decided_.load();
  if (height != last + 1) {
    return make_error("invalid_height", "cannot save block " + std::to_string(height) +
                                            " after block " + std::to_string(last));
  }
  if (decided.commit.height != height || decided.commit.block_hash != decided.block.hash()) {
    return make_error("invalid_height", "the commit is not for block " + std::to_string(height));
  }

  rocksdb::WriteBatch batch;
  batch.Put(handles_->blocks, slice(height_key(height)), slice(encode_decided_block(decided)));
  for (const auto& [address, account] : changes) {
    batch.Put(handles_->accounts, slice(address.key.span()), slice(encode_account(account)));
  }
  batch.Put(handles_->meta, slice(kLastDecidedKey), slice(encode_u64(height)));

  // History discarding: keep heights >= height - retain_blocks (the block just decided always).
  uint64_t previous_oldest = oldest_retained_.load();
  uint64_t oldest = last == 0 ? height : previous_oldest;
  uint64_t target = height > options_.retain_blocks ? height - options_.retain_blocks : 1;
  if (options_.keep_blocks_since_snapshot && options_.snapshot_interval > 0) {
    // A node that state-syncs from our newest snapshot catches up with the blocks after it;
    // until the first snapshot exists, that means every block.
    uint64_t newest_snapshot = height / options_.snapshot_interval * options_.snapshot_interval;
    target = std::min(target, std::max<uint64_t>(newest_snapshot, 1));
  }
  target = std::max(target, oldest);
  if (target > oldest) {
    // One discarded height per commit in the steady state: a point delete. A wider range (after
    // retain_blocks was lowered) is one range tombstone.
    if (target - oldest == 1) {
      batch.Delete(handles_->blocks, slice(height_key(oldest)));
    } else {
      batch.DeleteRange(handles_->blocks, slice(height_key(oldest)), slice(height_key(target)));
    }
  }
  if (target != oldest || last == 0)
    batch.Put(handles_->meta, slice(kOldestRetainedKey), slice(encode_u64(target)));

  hook("before_commit_batch");
  // Readers may see the new oldest height while the old blocks are still there (harmless), never
  // a discarded block with an old oldest height (which would read as "not_found").
  oldest_retained_.store(target);
  rocksdb::Status status = handles_->db->Write(write_options(options_), &batch);
  if (!status.ok()) {
    oldest_retained_.store(previous_oldest);
    return rocks_error(status, "cannot save block " + std::to_string(height));
  }
  hook("after_commit_batch");
  last_decided_.store(height);
  maybe_compact_blocks();
  return Status::success();
}

void NodeStorage::maybe_compact_blocks() {
  uint64_t interval = options_.compaction_interval != 0
                          ? options_.compaction_interval
                          : std::max<uint64_t>(options_.retain_blocks, 1);
  if (++commits_since_compaction_ < interval)
    return;
  commits_since_compaction_ = 0;
  // Deletions leave tombstones over the data they hide until a compaction merges the two; this
  // compacts only the discarded range (below the oldest retained height).
  std::array<uint8_t, 8> end_key = height_key(oldest_retained_.load());
  rocksdb::Slice end = slice(end_key);
  rocksdb::CompactRangeOptions compact_options;
  compact_options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  // Failing to reclaim space is not a durability problem; the next interval tries again.
  handles_->db->CompactRange(compact_options, handles_->blocks, nullptr, &end)
      .PermitUncheckedError();
}

Result<DecidedBlock> NodeStorage::read_block(uint64_t height,
                                             const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  std::string value;
  std::array<uint8_t, 8> key = height_key(height);
  rocksdb::Status status = handles_->db->Get(read_options, handles_->blocks, slice(key), &value);
  if (status.IsNotFound()) {
    if (height >= 1 && height < oldest_retained_.load())
      return make_error("discarded", "block " + std::to_string(height) + " was discarded");
    return make_error("not_found", "no block at height " + std::to_string(height));
  }
  if (!status.ok())
    return rocks_error(status, "cannot read block " + std::to_string(height));
  Result<DecidedBlock> decided = decode_decided_block(span(value));
  if (!decided.ok())
    return corrupt("block " + std::to_string(height) + ": " + decided.error().message);
  if (decided->block.header.height != height) {
    return corrupt("the block stored at height " + std::to_string(height) + " is for height " +
                   std::to_string(decided->block.header.height));
  }
  return decided;
}

Result<DecidedBlock> NodeStorage::get_decided_block(uint64_t height) const {
  return read_block(height, nullptr);
}

std::optional<DecidedBlock> NodeStorage::load_decided_block(uint64_t height) const {
  Result<DecidedBlock> decided = read_block(height, nullptr);
  if (!decided.ok())
    return std::nullopt;
  return std::move(decided).value();
}

// --- Accounts --------------------------------------------------------------------------------

Result<std::vector<std::pair<Address, Account>>> NodeStorage::read_accounts(
    const rocksdb::Snapshot* snapshot) const {
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  read_options.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> iterator(
      handles_->db->NewIterator(read_options, handles_->accounts));
  std::vector<std::pair<Address, Account>> accounts;
  for (iterator->SeekToFirst(); iterator->Valid(); iterator->Next()) {
    ByteSpan key = span(iterator->key());
    if (key.size() != 32)
      return corrupt("an account key is " + std::to_string(key.size()) + " bytes");
    Address address{PublicKey::from_span(key)};
    Result<Account> account = decode_account(span(iterator->value()));
    if (!account.ok())
      return corrupt("account " + address.to_string() + ": " + account.error().message);
    accounts.emplace_back(address, std::move(account).value());
  }
  if (!iterator->status().ok())
    return rocks_error(iterator->status(), "cannot read the accounts");
  return accounts;
}

Result<std::vector<std::pair<Address, Account>>> NodeStorage::get_accounts() const {
  return read_accounts(nullptr);
}

std::optional<std::vector<std::pair<Address, Account>>> NodeStorage::load_accounts() const {
  Result<std::vector<std::pair<Address, Account>>> accounts = read_accounts(nullptr);
  if (!accounts.ok())
    return std::nullopt;
  return std::move(accounts).value();
}

Result<std::optional<Account>> NodeStorage::get_account(const Address& address) const {
  std::string value;
  rocksdb::Status status = handles_->db->Get(rocksdb::ReadOptions(), handles_->accounts,
                                             slice(address.key.span()), &value);
  if (status.IsNotFound())
    return std::optional<Account>();
  if (!status.ok())
    return rocks_error(status, "cannot read account " + address.to_string());
  Result<Account> account = decode_account(span(value));
  if (!account.ok())
    return corrupt("account " + address.to_string() + ": " + account.error().message);
  return std::optional<Account>(std::move(account).value());
}

std::optional<Account> NodeStorage::load_account(const Address& address) const {
  Result<std::optional<Account>> account = get_account(address);
  if (!account.ok())
    return std::nullopt;
  return *account;
}

// --- Headers kept forever --------------------------------------------------------------------

Status NodeStorage::keep_forever(uint64_t height) {
  Result<DecidedBlock> decided = read_block(height, nullptr);
  if (!decided.ok())
    return decided.error();
  Bytes value = encode_header_and_commit(HeaderAndCommit{decided->block.header, decided->commit});
  rocksdb::Status status = handles_->db->Put(write_options(options_), handles_->permanent,
                                             slice(height_key(height)), slice(value));
  if (!status.ok())
    return rocks_error(status, "cannot keep block " + std::to_string(height));
  return Status::success();
}

Result<std::vector<HeaderAndCommit>> NodeStorage::load_kept_headers() const {
  std::unique_ptr<rocksdb::Iterator> iterator(
      handles_->db->NewIterator(rocksdb::ReadOptions(), handles_->permanent));
  std::vector<HeaderAndCommit> headers;
  for (iterator->SeekToFirst(); iterator->Valid(); iterator->Next()) {
    std::optional<uint64_t> height = parse_height_key(span(iterator->key()));
    Result<HeaderAndCommit> value = decode_header_and_commit(span(iterator->value()));
    if (!height || !value.ok() || value->header.height != *height)
      return corrupt("a kept header does not decode or is stored under another height");
    headers.push_back(std::move(value).value());
  }
  if (!iterator->status().ok())
    return rocks_error(iterator->status(), "cannot read the kept headers");
  return headers;
}

// --- Snapshots -------------------------------------------------------------------------------

SnapshotWriter::SnapshotWriter(const NodeStorage& storage, const rocksdb::Snapshot* snapshot,
                               uint64_t height)
    : storage_(storage), snapshot_(snapshot), height_(height) {}

SnapshotWriter::~SnapshotWriter() {
  storage_.handles_->db->ReleaseSnapshot(snapshot_);
}

Result<std::unique_ptr<SnapshotWriter>> NodeStorage::begin_snapshot(uint64_t height) const {
  const rocksdb::Snapshot* snapshot = handles_->db->GetSnapshot();
  std::unique_ptr<SnapshotWriter> writer(new SnapshotWriter(*this, snapshot, height));
  rocksdb::ReadOptions read_options;
  read_options.snapshot = snapshot;
  std::string value;
  rocksdb::Status status =
      handles_->db->Get(read_options, handles_->meta, slice(kLastDecidedKey), &value);
  if (!status.ok() && !status.IsNotFound())
    return rocks_error(status, "cannot read the last decided height");
  Result<uint64_t> last = status.IsNotFound() ? Result<uint64_t>(0) : decode_u64(span(value));
  if (!last.ok())
    return corrupt("meta last_decided_height: " + last.error().message);
  if (*last != height || height == 0) {
    return make_error("snapshot_unavailable", "cannot snapshot height " + std::to_string(height) +
                                                  "; the store is at height " +
                                                  std::to_string(*last));
  }
  return writer;
}

Status SnapshotWriter::write(const fs::path& snapshot_directory) {
  const NodeStorage::Handles& handles = *storage_.handles_;
  Result<DecidedBlock> decided = storage_.read_block(height_, snapshot_);
  if (!decided.ok())
    return decided.error();
  Result<SnapshotDirectoryWriter> files =
      SnapshotDirectoryWriter::start(snapshot_directory, height_, storage_.options_.crash_hook);
  if (!files.ok())
    return files.error();
  if (!files->already_complete()) {
    // Streams the accounts into chunk files: memory stays at one chunk.
    rocksdb::ReadOptions read_options;
    read_options.snapshot = snapshot_;
    read_options.fill_cache = false;
    std::unique_ptr<rocksdb::Iterator> iterator(
        handles.db->NewIterator(read_options, handles.accounts));
    std::vector<std::pair<Address, Account>> chunk;
    chunk.reserve(storage_.options_.snapshot_chunk_accounts);
    uint64_t account_count = 0;
    for (iterator->SeekToFirst(); iterator->Valid(); iterator->Next()) {
      ByteSpan key = span(iterator->key());
      if (key.size() != 32)
        return corrupt("an account key is " + std::to_string(key.size()) + " bytes");
      Result<Account> account = decode_account(span(iterator->value()));
      if (!account.ok())
        return corrupt("an account does not decode: " + account.error().message);
      chunk.emplace_back(Address{PublicKey::from_span(key)}, std::move(account).value());
      ++account_count;
      if (chunk.size() == storage_.options_.snapshot_chunk_accounts) {
        TALLY_TRY(files->add_chunk(encode_snapshot_chunk(chunk)));
        chunk.clear();
      }
    }
    if (!iterator->status().ok())
      return rocks_error(iterator->status(), "cannot read the accounts");
    if (!chunk.empty())
      TALLY_TRY(files->add_chunk(encode_snapshot_chunk(chunk)));

    SnapshotManifest manifest;
    manifest.chain_id = storage_.chain_id_;
    manifest.height = height_;
    manifest.decided = std::move(decided).value();
    manifest.account_count = account_count;
    manifest.chunk_hashes = files->chunk_hashes();
    TALLY_TRY(files->finish(manifest));
  }
  return prune_snapshots(snapshot_directory, storage_.options_.snapshot_keep);
}

Status NodeStorage::maybe_write_snapshot(uint64_t height, const fs::path& snapshot_directory) {
  if (options_.snapshot_interval == 0 || height == 0 || height % options_.snapshot_interval != 0)
    return Status::success();
  Result<std::unique_ptr<SnapshotWriter>> writer = begin_snapshot(height);
  if (!writer.ok())
    return writer.error();
  return (*writer)->write(snapshot_directory);
}

Status NodeStorage::import_snapshot(const SnapshotManifest& manifest, const State& state) {
  if (last_decided_.load() != 0) {
    return make_error("not_empty", "cannot import a snapshot into a store that has decided " +
                                       std::to_string(last_decided_.load()) + " blocks");
  }
  const DecidedBlock& decided = manifest.decided;
  uint64_t height = manifest.height;
  if (manifest.chain_id != chain_id_ || state.chain_id() != chain_id_)
    return make_error("invalid_snapshot", "the snapshot is for another chain");
  if (height == 0 || state.height() != height || decided.block.header.height != height ||
      decided.commit.height != height || decided.commit.block_hash != decided.block.hash()) {
    return make_error("invalid_snapshot",
                      "the snapshot's state, block and commit disagree on "
                      "the height or block");
  }
  if (state.state_root() != decided.block.header.state_root)
    return make_error("invalid_snapshot", "the state does not match the block's state root");

  rocksdb::WriteBatch batch;
  // Every key of the accounts column family is 32 bytes, below 33 bytes of 0xff.
  std::string end_of_accounts(33, '\xff');
  batch.DeleteRange(handles_->accounts, rocksdb::Slice(), slice(end_of_accounts));
  for (const auto& [address, account] : state.sorted_accounts()) {
    batch.Put(handles_->accounts, slice(address.key.span()), slice(encode_account(account)));
  }
  batch.Put(handles_->blocks, slice(height_key(height)), slice(encode_decided_block(decided)));
  batch.Put(handles_->meta, slice(kLastDecidedKey), slice(encode_u64(height)));
  batch.Put(handles_->meta, slice(kOldestRetainedKey), slice(encode_u64(height)));
  hook("before_commit_batch");
  rocksdb::Status status = handles_->db->Write(write_options(options_), &batch);
  if (!status.ok())
    return rocks_error(status, "cannot import the snapshot of height " + std::to_string(height));
  hook("after_commit_batch");
  oldest_retained_.store(height);
  last_decided_.store(height);
  return Status::success();
}

// --- Maintenance -----------------------------------------------------------------------------

Status NodeStorage::compact_all() {
  rocksdb::FlushOptions flush_options;
  flush_options.wait = true;
  rocksdb::Status status = handles_->db->Flush(flush_options, handles_->all);
  if (!status.ok())
    return rocks_error(status, "cannot flush");
  rocksdb::CompactRangeOptions compact_options;
  compact_options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  for (rocksdb::ColumnFamilyHandle* handle : handles_->all) {
    status = handles_->db->CompactRange(compact_options, handle, nullptr, nullptr);
    if (!status.ok())
      return rocks_error(status, "cannot compact " + handle->GetName());
  }
  return Status::success();
}

}  // namespace tally
