#pragma once
// The chain and store settings shared by the crash tests and their child process.

#include "storage/node_storage.h"
#include "storage_fixture.h"

namespace tally::testing {

inline Genesis crash_genesis() {
  return storage_genesis(30);
}

inline ChainShape crash_chain_shape() {
  return ChainShape{8, 4, false};
}

inline StorageOptions crash_storage_options() {
  StorageOptions options;
  options.retain_blocks = 20;
  options.snapshot_interval = 10;
  options.snapshot_keep = 2;
  options.snapshot_chunk_accounts = 7;
  options.compaction_interval = 25;
  return options;
}

}  // namespace tally::testing
