#pragma once
// Everything nodes send each other, as one tagged union with a canonical encoding:
// u8 kind, then the payload. Decoding is strict and bounded (a hostile peer cannot make a node
// allocate more than the limits below).

#include <variant>
#include <vector>

#include "consensus/replica.h"

namespace tally {

// Asks a peer for decided blocks from `height` on (at most kMaxBlocksPerResponse).
struct BlockRequest {
  uint64_t height = 0;
  bool operator==(const BlockRequest&) const = default;
};

struct TransactionsMessage {
  std::vector<Transaction> transactions;
  bool operator==(const TransactionsMessage&) const = default;
};

// Gossip beyond the first hop. A node pushes the transactions its clients submit to every peer
// in full; what it admits from a peer it only announces, by hash, and a peer that lacks one asks
// for it. In a fully connected network each node so receives each transaction once, and every
// further copy is a 32-byte hash instead of a transaction to decrypt, decode, hash and look up.
struct TransactionHashesMessage {
  std::vector<Hash256> hashes;  // at most kMaxTransactionsPerMessage
  bool operator==(const TransactionHashesMessage&) const = default;
};
// Asks for announced transactions; answered with a TransactionsMessage of those still pending.
struct TransactionRequest {
  std::vector<Hash256> hashes;  // at most kMaxTransactionsPerMessage
  bool operator==(const TransactionRequest&) const = default;
};

// State sync (DESIGN.md §3): which snapshots a peer has, a snapshot's manifest, one chunk.
// Manifests and chunks travel as their file bytes; the receiver verifies them against the
// manifest's commit and chunk hashes.
struct SnapshotListRequest {
  bool operator==(const SnapshotListRequest&) const = default;
};
struct SnapshotList {
  std::vector<uint64_t> heights;  // at most kMaxSnapshotsListed
  bool operator==(const SnapshotList&) const = default;
};
struct SnapshotManifestRequest {
  uint64_t height = 0;
  bool operator==(const SnapshotManifestRequest&) const = default;
};
struct SnapshotManifestData {
  uint64_t height = 0;
  Bytes manifest;
  bool operator==(const SnapshotManifestData&) const = default;
};
struct SnapshotChunkRequest {
  uint64_t height = 0;
  uint32_t index = 0;
  bool operator==(const SnapshotChunkRequest&) const = default;
};
struct SnapshotChunkData {
  uint64_t height = 0;
  uint32_t index = 0;
  Bytes chunk;
  bool operator==(const SnapshotChunkData&) const = default;
};

inline constexpr size_t kMaxTransactionsPerMessage = 10'000;
// Submitted transactions are gossiped in batches of at most this many.
inline constexpr size_t kMaxGossipBatch = 2000;
inline constexpr size_t kMaxBlocksPerResponse = 16;
inline constexpr size_t kMaxSnapshotsListed = 16;
inline constexpr size_t kMaxSnapshotPayloadBytes = 15 * 1024 * 1024;  // under the frame limit

using Message =
    std::variant<Proposal, Vote, StatusMessage, BlockRequest, DecidedBlock, DuplicateVoteEvidence,
                 TransactionsMessage, SnapshotListRequest, SnapshotList, SnapshotManifestRequest,
                 SnapshotManifestData, SnapshotChunkRequest, SnapshotChunkData,
                 TransactionHashesMessage, TransactionRequest>;

enum class MessageKind : uint8_t {
  proposal = 1,
  vote = 2,
  status = 3,
  block_request = 4,
  decided_block = 5,
  evidence = 6,
  transactions = 7,
  snapshot_list_request = 8,
  snapshot_list = 9,
  snapshot_manifest_request = 10,
  snapshot_manifest = 11,
  snapshot_chunk_request = 12,
  snapshot_chunk = 13,
  transaction_hashes = 14,
  transaction_request = 15,
};

MessageKind kind_of(const Message& message);
std::string_view kind_name(MessageKind kind);

Bytes encode_message(const Message& message);
// `max_block_transactions` bounds blocks inside proposals and decided blocks.
Result<Message> decode_message(ByteSpan bytes, size_t max_block_transactions);

}  // namespace tally
