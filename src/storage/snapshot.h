#pragma once
// State snapshots (DESIGN §3): every account at one height, with that height's block and the
// commit that proves it, split into chunks that peers serve and check one by one.
//
// On disk, `<snapshot_directory>/<height>/` holds `manifest` and `chunk-0` … `chunk-<n-1>`
// (layouts in docs/protocol.md §10). A snapshot directory appears under its final name only once
// complete (it is written as `.partial-<height>` and renamed), so a listed snapshot is whole.
//
// Trust: a manifest says which chunk hashes to expect and which block the accounts must match;
// restore_state_from_snapshot checks chunks and the state root against the manifest, and
// verify_snapshot_commit checks the manifest's block against the validator set. A node must do
// both before it uses a snapshot it did not write itself.
//
// Error codes: "invalid_snapshot" (anything that does not verify or decode), "not_found",
// "io_error", "file_too_large".

#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "consensus/types.h"
#include "core/bytes.h"
#include "core/status.h"
#include "crypto/sha256.h"
#include "ledger/account.h"
#include "ledger/genesis.h"
#include "ledger/state.h"

namespace tally {

inline constexpr uint8_t kSnapshotFormatVersion = 1;
// One chunk entry: 32-byte address ‖ encode_account bytes.
inline constexpr size_t kSnapshotEntrySize = 32 + kAccountEncodedSize;
inline constexpr size_t kMaxSnapshotChunkAccounts = 100'000;
inline constexpr size_t kMaxSnapshotChunkBytes = 4 + kMaxSnapshotChunkAccounts * kSnapshotEntrySize;
inline constexpr size_t kMaxSnapshotChunks = 1'000'000;
inline constexpr size_t kMaxSnapshotManifestBytes = 64 * 1024 * 1024;

struct SnapshotManifest {
  std::string chain_id;
  uint64_t height = 0;
  DecidedBlock decided;  // the block at `height` and its commit
  uint64_t account_count = 0;
  std::vector<Hash256> chunk_hashes;  // SHA-256 of each chunk file, in order

  bool operator==(const SnapshotManifest&) const = default;

  // u8 version ‖ string chain_id ‖ u64 height ‖ block ‖ commit ‖ u64 account_count ‖
  // u32 chunk_count ‖ chunk_count × bytes32 hash.
  Bytes encode() const;
  // Strict: refuses other versions, trailing bytes, a block or commit for another height, a
  // commit for another block, and chunk counts that cannot hold account_count accounts.
  static Result<SnapshotManifest> decode(ByteSpan bytes);
  // SHA-256 of encode(): how peers name a snapshot.
  Hash256 hash() const;
};

// u32 count ‖ count × (address ‖ account), addresses strictly increasing, 1 ≤ count ≤
// kMaxSnapshotChunkAccounts.
Bytes encode_snapshot_chunk(std::span<const std::pair<Address, Account>> accounts);
Result<std::vector<std::pair<Address, Account>>> decode_snapshot_chunk(ByteSpan bytes);

// Checks one downloaded chunk against the manifest (its index and hash), before decoding it: what
// state sync calls as each chunk arrives, to drop a peer that sends a bad one.
Status verify_snapshot_chunk(const SnapshotManifest& manifest, size_t index, ByteSpan chunk);

// Writes one snapshot's files as they come: chunk after chunk into `.partial-<height>`, then the
// manifest, then renames the directory to `<height>` (and syncs the parent directory). One writer
// per snapshot directory at a time.
class SnapshotDirectoryWriter {
 public:
  // Replaces any partial directory left by a crash. If a complete snapshot of `height` already
  // exists, already_complete() is true and nothing needs writing.
  static Result<SnapshotDirectoryWriter> start(
      const std::filesystem::path& snapshot_directory, uint64_t height,
      std::function<void(std::string_view)> crash_hook = {});

  bool already_complete() const { return already_complete_; }
  // Writes `chunk-<n>` and records its hash; calls crash_hook("after_snapshot_chunk").
  Status add_chunk(ByteSpan chunk);
  const std::vector<Hash256>& chunk_hashes() const { return chunk_hashes_; }
  // `manifest.chunk_hashes` must be chunk_hashes(). Calls crash_hook("after_snapshot_manifest")
  // before the rename.
  Status finish(const SnapshotManifest& manifest);

 private:
  SnapshotDirectoryWriter() = default;

  std::filesystem::path directory_;
  std::filesystem::path partial_;
  std::filesystem::path final_;
  uint64_t height_ = 0;
  bool already_complete_ = false;
  std::vector<Hash256> chunk_hashes_;
  std::function<void(std::string_view)> crash_hook_;
};

// All at once: the chunks (whose hashes must be the manifest's), then the manifest.
Status write_snapshot_files(const std::filesystem::path& snapshot_directory,
                            const SnapshotManifest& manifest, const std::vector<Bytes>& chunks,
                            std::function<void(std::string_view)> crash_hook = {});

// Heights of the complete snapshots under `snapshot_directory`, ascending (empty if none or if
// the directory does not exist).
std::vector<uint64_t> list_snapshots(const std::filesystem::path& snapshot_directory);

// Deletes every snapshot but the newest `keep`, and any partial snapshot left by a crash.
Status prune_snapshots(const std::filesystem::path& snapshot_directory, uint32_t keep);

Result<SnapshotManifest> read_snapshot_manifest(const std::filesystem::path& snapshot_directory,
                                                uint64_t height);
// The raw bytes of one chunk (at most kMaxSnapshotChunkBytes), as served to peers.
Result<Bytes> read_snapshot_chunk(const std::filesystem::path& snapshot_directory, uint64_t height,
                                  uint32_t index);

// Rebuilds the state from a manifest and all its chunks, checking everything but the commit: the
// chain id, every chunk's hash, the strict decoding and global address order of the accounts,
// the account count, the ledger invariants (State::from_accounts) and that the resulting state
// root equals the manifest block's header.state_root.
Result<State> restore_state_from_snapshot(const Genesis& genesis, const SnapshotManifest& manifest,
                                          const std::vector<Bytes>& chunks);

// Checks the manifest's block is the one the genesis validator set committed: the header's
// validators_hash and verify_commit (error code "invalid_commit").
Status verify_snapshot_commit(const Genesis& genesis, const SnapshotManifest& manifest,
                              const SignatureChecker& checker);

}  // namespace tally
