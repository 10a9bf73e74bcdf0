#pragma once
// One-file snapshots for audit and offline bootstrap (`tally snapshot export|import`).
//
// File layout: "TALLYSNAP" ‖ u8 version (1) ‖ var_bytes manifest ‖ u32 n ‖ n × var_bytes chunk,
// where manifest and chunks are exactly the bytes peers serve (docs/protocol.md §10).

#include <filesystem>
#include <optional>

#include "core/status.h"
#include "node/home.h"

namespace tally {

struct SnapshotFileSummary {
  uint64_t height = 0;
  uint64_t accounts = 0;
  size_t chunks = 0;
  Hash256 state_root;
};

// Packs the newest snapshot of HOME (or the one at `height`) into `out`.
Result<SnapshotFileSummary> export_snapshot_file(const NodeHome& home,
                                                 const std::filesystem::path& out,
                                                 std::optional<uint64_t> height);

// Verifies a snapshot file against HOME's genesis (the commit by more than 2/3 of the validator
// set, every chunk hash, the state root) and imports it into HOME's empty storage, keeping the
// snapshot so the node can serve it. The node then starts at that height.
Result<SnapshotFileSummary> import_snapshot_file(const NodeHome& home,
                                                 const std::filesystem::path& in);

}  // namespace tally
