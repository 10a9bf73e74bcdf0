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

inline constexpr size_t kMaxTransactionsPerMessage = 10'000;
inline constexpr size_t kMaxBlocksPerResponse = 16;

using Message = std::variant<Proposal, Vote, StatusMessage, BlockRequest, DecidedBlock,
                             DuplicateVoteEvidence, TransactionsMessage>;

enum class MessageKind : uint8_t {
  proposal = 1,
  vote = 2,
  status = 3,
  block_request = 4,
  decided_block = 5,
  evidence = 6,
  transactions = 7,
};

MessageKind kind_of(const Message& message);
std::string_view kind_name(MessageKind kind);

Bytes encode_message(const Message& message);
// `max_block_transactions` bounds blocks inside proposals and decided blocks.
Result<Message> decode_message(ByteSpan bytes, size_t max_block_transactions);

}  // namespace tally
