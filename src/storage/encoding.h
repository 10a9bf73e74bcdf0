#pragma once
// Byte layouts of what NodeStorage keeps and snapshots carry (README.md, docs/protocol.md §10).
// Decoders are strict: a value that does not decode exactly is reported, never half-used.

#include <array>
#include <cstdint>
#include <optional>

#include "consensus/types.h"
#include "core/codec.h"
#include "core/status.h"

namespace tally {

inline constexpr uint8_t kStoredBlockVersion = 1;
inline constexpr uint8_t kStoredHeaderVersion = 1;

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

// Little-endian u64 values (the meta column family).
Bytes encode_u64(uint64_t value);
Result<uint64_t> decode_u64(ByteSpan bytes);

}  // namespace tally
