#pragma once
// The node's durable storage on RocksDB: decided blocks (heights from the last decided one minus
// `retain_blocks` on, plus headers kept forever), every account as of the last decided height, the
// replica's signed state, and periodic state snapshots. Implements consensus's ConsensusStorage.
//
// Every write is synced (WriteOptions::sync; StorageOptions::sync is for tests) before the call
// returns. The commit point of a height is one WriteBatch holding the block, its commit, every
// account it changed and the meta counters: after a crash the store holds either all of a height
// or none of it.
//
// Threads: writes (save_*, keep_forever, import_snapshot, maybe_write_snapshot) from one thread,
// the one that owns the Engine; the load_*/get_* reads and the height accessors may be called from
// any thread at the same time.
//
// Error codes: "io_error", "storage_corrupt" (with RocksDB's or the decoder's message),
// "genesis_mismatch", "invalid_options", "invalid_height", "not_found", "discarded",
// "not_empty", "snapshot_unavailable", "invalid_snapshot". Nothing throws.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "consensus/engine.h"
#include "storage/encoding.h"
#include "storage/snapshot.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Snapshot;
}  // namespace rocksdb

namespace tally {

class NodeStorage;

struct StorageOptions {
  // Blocks below (last decided height - retain_blocks) are deleted; the last decided block is
  // always kept.
  uint64_t retain_blocks = 100;
  // Also keep every block from the newest snapshot height on (every block before the first
  // snapshot), so that peers state-syncing from a snapshot can catch up by blocks. Disk use is
  // then bounded by retain_blocks + snapshot_interval blocks. The node turns this on.
  bool keep_blocks_since_snapshot = false;
  // A snapshot every this many heights (0: never); the newest snapshot_keep are kept (>= 1).
  uint64_t snapshot_interval = 1000;
  uint32_t snapshot_keep = 2;
  // Accounts per chunk file, 1 to kMaxSnapshotChunkAccounts.
  size_t snapshot_chunk_accounts = 10'000;
  // The blocks column family is compacted over its deleted range every this many commits, so the
  // space of discarded blocks is reclaimed (0: every max(retain_blocks, 1) commits).
  uint64_t compaction_interval = 0;
  // false skips the fsync of each write: a process crash loses nothing, a power failure or
  // kernel crash may lose the last writes. For tests that measure something else only.
  bool sync = true;
  // Tests only: called at named points: "before_commit_batch", "after_commit_batch",
  // "before_replica_state", "after_replica_state", "after_snapshot_chunk",
  // "after_snapshot_manifest".
  std::function<void(std::string_view point)> crash_hook;
};

// A consistent view of the store at one height (a RocksDB snapshot), from which the snapshot
// files are written; see NodeStorage::begin_snapshot. Destroy it before its NodeStorage.
class SnapshotWriter {
 public:
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  uint64_t height() const { return height_; }
  // Writes `<snapshot_directory>/<height>/` and prunes older snapshots beyond snapshot_keep.
  // May run on another thread than the one committing blocks (one writer at a time).
  Status write(const std::filesystem::path& snapshot_directory);

 private:
  friend class NodeStorage;
  SnapshotWriter(const NodeStorage& storage, const rocksdb::Snapshot* snapshot, uint64_t height);

  const NodeStorage& storage_;
  const rocksdb::Snapshot* snapshot_;
  uint64_t height_;
};

class NodeStorage final : public ConsensusStorage {
 public:
  // Creates or opens `data_directory/db`. A new store gets the genesis accounts and the genesis
  // hash in one synced write; an existing one must have been created for the same genesis
  // ("genesis_mismatch"). Also checks that the last decided block and the replica state decode.
  static Result<std::unique_ptr<NodeStorage>> open(const std::filesystem::path& data_directory,
                                                   const Genesis& genesis,
                                                   StorageOptions options = {});
  ~NodeStorage() override;
  NodeStorage(const NodeStorage&) = delete;
  NodeStorage& operator=(const NodeStorage&) = delete;

  // --- ConsensusStorage ---
  // One synced batch: the small state record, the block bodies it references that are not
  // stored yet (each distinct body is written once, however many steps reference it), and the
  // deletion of the bodies the previous record referenced and this one does not.
  Status save_replica_state(const ReplicaPersistentState& state) override;
  // The state written last, its blocks read back and checked against the hashes the record
  // names. A stored value that does not decode, or a referenced block that is missing or is
  // another block, stops the process (open() already refuses such a store): forgetting what was
  // signed could lead to double-signing.
  std::optional<ReplicaPersistentState> load_replica_state() const override;
  // Block bodies save_replica_state has written since open (tests, metrics).
  uint64_t replica_block_writes() const { return replica_block_writes_.load(); }
  // The block must be last_decided_height() + 1, its commit for it ("invalid_height"). Saves
  // no account changes: only for blocks that change no account (the engine uses the call below).
  Status save_decided_block(const DecidedBlock& decided) override;
  // The commit point: block, commit, changed accounts and counters in one synced batch, and the
  // blocks that fall out of the retained window deleted in the same batch.
  Status save_decided_block_and_accounts(
      const DecidedBlock& decided,
      const std::vector<std::pair<Address, Account>>& changes) override;
  // nullopt if the height was discarded, never decided, or its stored value is corrupt.
  std::optional<DecidedBlock> load_decided_block(uint64_t height) const override;
  uint64_t last_decided_height() const override { return last_decided_.load(); }
  // Every account in address order (nullopt only if the store cannot be read or is corrupt).
  std::optional<std::vector<std::pair<Address, Account>>> load_accounts() const override;

  // --- Reads with errors ---
  // "not_found" (never decided), "discarded" (below oldest_retained_height()), or a decode/IO
  // error: what an API needs to answer 404, 410 or 500.
  Result<DecidedBlock> get_decided_block(uint64_t height) const;
  Result<std::vector<std::pair<Address, Account>>> get_accounts() const;
  // One account from the store, for tests and tools: the accounts memtable is a vector (see
  // README), so each lookup sorts a copy of it. The node reads accounts from its State.
  Result<std::optional<Account>> get_account(const Address& address) const;
  std::optional<Account> load_account(const Address& address) const;

  // Lowest height whose block is kept (0 while nothing is decided).
  uint64_t oldest_retained_height() const { return oldest_retained_.load(); }

  // --- Headers kept forever ---
  // Keeps the header and commit of a retained height after its block is discarded (for
  // validator-set changes). Synced.
  Status keep_forever(uint64_t height);
  // Every kept header with its commit, in height order.
  Result<std::vector<HeaderAndCommit>> load_kept_headers() const;

  // --- Snapshots ---
  // When `height` is a multiple of snapshot_interval, writes the snapshot of `height` (which
  // must be the last decided height) and prunes old ones; otherwise does nothing.
  Status maybe_write_snapshot(uint64_t height, const std::filesystem::path& snapshot_directory);
  // For writing snapshots off the committing thread: pins the store as of the last decided
  // height, which must be `height` ("snapshot_unavailable" otherwise). Cheap; call it right after
  // the height's commit, then SnapshotWriter::write anywhere.
  Result<std::unique_ptr<SnapshotWriter>> begin_snapshot(uint64_t height) const;
  // Replaces the genesis accounts of a store with no decided block by a verified snapshot's
  // state, with its block as the last decided one: one synced batch. `state` must come from
  // restore_state_from_snapshot(genesis, manifest, ...) and the caller must have checked
  // verify_snapshot_commit. Error "not_empty" if any block was decided.
  Status import_snapshot(const SnapshotManifest& manifest, const State& state);

  // Flushes the memtables and compacts every column family (tests and maintenance).
  Status compact_all();

  const StorageOptions& options() const { return options_; }
  const std::filesystem::path& db_path() const { return db_path_; }

 private:
  friend class SnapshotWriter;
  struct Handles;

  NodeStorage(std::filesystem::path db_path, const Genesis& genesis, StorageOptions options);
  Status initialize(const Genesis& genesis);
  void hook(std::string_view point) const;
  void maybe_compact_blocks();
  Result<std::vector<std::pair<Address, Account>>> read_accounts(
      const rocksdb::Snapshot* snapshot) const;
  Result<DecidedBlock> read_block(uint64_t height, const rocksdb::Snapshot* snapshot) const;

  std::filesystem::path db_path_;
  StorageOptions options_;
  std::string chain_id_;
  std::unique_ptr<Handles> handles_;
  std::atomic<uint64_t> last_decided_{0};
  std::atomic<uint64_t> oldest_retained_{0};
  uint64_t commits_since_compaction_ = 0;

  // The replica state's block bodies that the stored record references, by hash (at most two),
  // kept so that a save writes only new bodies, deletes the ones no longer referenced, and can
  // tell a different body under a known hash (then stored inline). Writer thread only.
  std::map<Hash256, Block> replica_blocks_;
  // Keys under the body prefix that the record found at open does not reference (none, unless
  // a build wrote them otherwise): deleted by the next save.
  std::vector<std::string> stale_replica_block_keys_;
  // The store holds the replica state in the format-1 layout (one value, blocks inline) or is
  // of format version 1: the next save deletes that value and marks the store format 2.
  bool replica_format_upgrade_pending_ = false;
  std::atomic<uint64_t> replica_block_writes_{0};
};

}  // namespace tally
