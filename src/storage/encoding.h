#pragma once
// Byte layouts of what NodeStorage keeps and snapshots carry (README.md, docs/protocol.md §10).
// Decoders are strict: a value that does not decode exactly is reported, never half-used.

#include <array>
#include <cstdint>
#include <optional>

#include "consensus/replica.h"
#include "consensus/types.h"
#include "core/codec.h"
#include "core/status.h"

namespace tally {

inline constexpr uint8_t kStoredBlockVersion = 1;
inline constexpr uint8_t kStoredHeaderVersion = 1;
inline constexpr uint8_t kStoredReplicaRecordVersion = 1;
inline constexpr uint8_t kStoredReplicaBlockVersion = 1;

// Keys of the blocks and permanent column families: the height as 8 big-endian bytes, so the
// byte order of keys is the numeric order of heights.
std::array<uint8_t, 8> height_key(uint64_t height);
std::optional<uint64_t> parse_height_key(ByteSpan key);

// u8 version ‖ block ‖ commit. `max_transactions` bounds the block's transaction count; decoding
// a whole value bounds it by the value's size, so whatever was written reads back.
Bytes encode_decided_block(const DecidedBlock& decided);
void write_decided_block(Writer& writer, const DecidedBlock& decided);
DecidedBlock read_decided_block(Reader& reader, size_t max_transactions);
Result<DecidedBlock> decode_decided_block(ByteSpan bytes);

// What is kept forever of a block: its header and the commit that proves it.
struct HeaderAndCommit {
  BlockHeader header;
  Commit commit;
  bool operator==(const HeaderAndCommit&) const = default;
};

// u8 version ‖ header ‖ commit.
Bytes encode_header_and_commit(const HeaderAndCommit& value);
Result<HeaderAndCommit> decode_header_and_commit(ByteSpan bytes);

// --- The replica state, its blocks stored apart ---
// NodeStorage keeps each block body of the replica state once, under its own key, and the state
// itself as a small record that names those blocks by hash (Block::hash(), the header hash).
//
// Record: u8 version = 1 ‖ u64 height ‖ u32 round ‖ u8 step (1-3) ‖ u32 locked_round ‖
// 32-byte locked_block_hash ‖ u32 valid_round ‖ slot(valid_block) ‖ u32 vote count ‖ votes ‖
// u8 own proposal present (0/1) ‖ [u64 height ‖ u32 round ‖ u32 proof_of_lock_round ‖
// slot(block) ‖ 64-byte signature], where slot = u8 form ‖ (form 1: 32-byte block hash;
// form 2: the block). The proposal's block is never absent.
//
// A block goes inline (form 2) only when a different body with the same header hash is already
// stored or referenced (a header with two bodies that both match it, which only a Byzantine
// proposer can make): the load then returns exactly the blocks that were saved.
//
// Every field of ReplicaPersistentState is here: a field added there must be added here too.
enum class StoredBlockForm : uint8_t { absent = 0, reference = 1, inline_block = 2 };

// A decoded record: the blocks stored by reference are left out of `state` (valid_block empty,
// own_proposal->block default-constructed) and named here, for the caller to fill in.
struct ReplicaRecord {
  ReplicaPersistentState state;
  std::optional<Hash256> valid_block_reference;
  std::optional<Hash256> proposal_block_reference;
};

// REQUIRES: valid_block_by_reference only with a valid block, proposal_block_by_reference only
// with an own proposal.
Bytes encode_replica_record(const ReplicaPersistentState& state, bool valid_block_by_reference,
                            bool proposal_block_by_reference);
Result<ReplicaRecord> decode_replica_record(ByteSpan bytes);

// A block body of the replica state: u8 version = 1 ‖ block.
Bytes encode_replica_block(const Block& block);
Result<Block> decode_replica_block(ByteSpan bytes);

// Little-endian u64 values (the meta column family).
Bytes encode_u64(uint64_t value);
Result<uint64_t> decode_u64(ByteSpan bytes);

}  // namespace tally
