#include "consensus/messages.h"

namespace tally {
namespace {

template <typename>
inline constexpr bool kAlwaysFalse = false;

}  // namespace

MessageKind kind_of(const Message& message) {
  return std::visit(
      [](const auto& value) {
        using Type = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<Type, Proposal>)
          return MessageKind::proposal;
        else if constexpr (std::is_same_v<Type, Vote>)
          return MessageKind::vote;
        else if constexpr (std::is_same_v<Type, StatusMessage>)
          return MessageKind::status;
        else if constexpr (std::is_same_v<Type, BlockRequest>)
          return MessageKind::block_request;
        else if constexpr (std::is_same_v<Type, DecidedBlock>)
          return MessageKind::decided_block;
        else if constexpr (std::is_same_v<Type, DuplicateVoteEvidence>)
          return MessageKind::evidence;
        else if constexpr (std::is_same_v<Type, TransactionsMessage>)
          return MessageKind::transactions;
        else
          static_assert(kAlwaysFalse<Type>, "unhandled message type");
      },
      message);
}

std::string_view kind_name(MessageKind kind) {
  switch (kind) {
    case MessageKind::proposal:
      return "proposal";
    case MessageKind::vote:
      return "vote";
    case MessageKind::status:
      return "status";
    case MessageKind::block_request:
      return "block_request";
    case MessageKind::decided_block:
      return "decided_block";
    case MessageKind::evidence:
      return "evidence";
    case MessageKind::transactions:
      return "transactions";
  }
  return "unknown";
}

Bytes encode_message(const Message& message) {
  Writer writer;
  writer.u8(static_cast<uint8_t>(kind_of(message)));
  std::visit(
      [&writer](const auto& value) {
        using Type = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<Type, StatusMessage>) {
          writer.u64(value.height);
          writer.u32(value.round);
        } else if constexpr (std::is_same_v<Type, BlockRequest>) {
          writer.u64(value.height);
        } else if constexpr (std::is_same_v<Type, DecidedBlock>) {
          value.block.write(writer);
          value.commit.write(writer);
        } else if constexpr (std::is_same_v<Type, TransactionsMessage>) {
          writer.u32(static_cast<uint32_t>(value.transactions.size()));
          for (const Transaction& transaction : value.transactions) {
            writer.fixed(transaction.encode());
          }
        } else {
          value.write(writer);
        }
      },
      message);
  return writer.take();
}

Result<Message> decode_message(ByteSpan bytes, size_t max_block_transactions) {
  Reader reader(bytes);
  uint8_t kind = reader.u8();
  std::optional<Message> message;
  switch (static_cast<MessageKind>(kind)) {
    case MessageKind::proposal:
      message = Proposal::read(reader, max_block_transactions);
      break;
    case MessageKind::vote:
      message = Vote::read(reader);
      break;
    case MessageKind::status: {
      StatusMessage status;
      status.height = reader.u64();
      status.round = reader.u32();
      message = status;
      break;
    }
    case MessageKind::block_request:
      message = BlockRequest{reader.u64()};
      break;
    case MessageKind::decided_block: {
      DecidedBlock decided;
      decided.block = Block::read(reader, max_block_transactions);
      decided.commit = Commit::read(reader);
      message = std::move(decided);
      break;
    }
    case MessageKind::evidence:
      message = DuplicateVoteEvidence::read(reader);
      break;
    case MessageKind::transactions: {
      TransactionsMessage batch;
      uint32_t count = reader.u32();
      if (!reader.failed() && count > kMaxTransactionsPerMessage) {
        reader.fail("oversized", "too many transactions in one message");
      }
      for (uint32_t index = 0; index < count && !reader.failed(); ++index) {
        auto bytes_of_one = reader.fixed_bytes<kTransactionEncodedSize>();
        if (reader.failed())
          break;
        Result<Transaction> transaction = Transaction::decode(bytes_of_one.span());
        if (!transaction.ok()) {
          reader.fail(transaction.error().code, transaction.error().message);
          break;
        }
        batch.transactions.push_back(*transaction);
      }
      message = std::move(batch);
      break;
    }
    default:
      if (!reader.failed())
        reader.fail("unknown_message", "unknown message kind " + std::to_string(kind));
  }
  TALLY_TRY(reader.finish());
  return std::move(*message);
}

}  // namespace tally
