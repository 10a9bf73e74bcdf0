#include "consensus/messages.h"

namespace tally {

// The variant's alternatives are listed in MessageKind order, starting at 1.
static_assert(std::is_same_v<std::variant_alternative_t<0, Message>, Proposal>);
static_assert(std::is_same_v<std::variant_alternative_t<1, Message>, Vote>);
static_assert(std::is_same_v<std::variant_alternative_t<2, Message>, StatusMessage>);
static_assert(std::is_same_v<std::variant_alternative_t<3, Message>, BlockRequest>);
static_assert(std::is_same_v<std::variant_alternative_t<4, Message>, DecidedBlock>);
static_assert(std::is_same_v<std::variant_alternative_t<5, Message>, DuplicateVoteEvidence>);
static_assert(std::is_same_v<std::variant_alternative_t<6, Message>, TransactionsMessage>);
static_assert(std::is_same_v<std::variant_alternative_t<7, Message>, SnapshotListRequest>);
static_assert(std::is_same_v<std::variant_alternative_t<12, Message>, SnapshotChunkData>);
static_assert(std::is_same_v<std::variant_alternative_t<13, Message>, TransactionHashesMessage>);
static_assert(std::is_same_v<std::variant_alternative_t<14, Message>, TransactionRequest>);
static_assert(std::variant_size_v<Message> == 15);

namespace {

void write_hashes(Writer& writer, const std::vector<Hash256>& hashes) {
  writer.u32(static_cast<uint32_t>(hashes.size()));
  for (const Hash256& hash : hashes)
    writer.fixed(hash.span());
}

std::vector<Hash256> read_hashes(Reader& reader) {
  std::vector<Hash256> hashes;
  uint32_t count = reader.u32();
  if (!reader.failed() && count > kMaxTransactionsPerMessage) {
    reader.fail("oversized", "too many transaction hashes in one message");
    return hashes;
  }
  if (!reader.failed())
    hashes.reserve(count);
  for (uint32_t index = 0; index < count && !reader.failed(); ++index)
    hashes.push_back(Hash256(reader.fixed_bytes<Hash256::kSize>()));
  return hashes;
}

}  // namespace

MessageKind kind_of(const Message& message) {
  return static_cast<MessageKind>(message.index() + 1);
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
    case MessageKind::snapshot_list_request:
      return "snapshot_list_request";
    case MessageKind::snapshot_list:
      return "snapshot_list";
    case MessageKind::snapshot_manifest_request:
      return "snapshot_manifest_request";
    case MessageKind::snapshot_manifest:
      return "snapshot_manifest";
    case MessageKind::snapshot_chunk_request:
      return "snapshot_chunk_request";
    case MessageKind::snapshot_chunk:
      return "snapshot_chunk";
    case MessageKind::transaction_hashes:
      return "transaction_hashes";
    case MessageKind::transaction_request:
      return "transaction_request";
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
            writer.fixed(transaction.encode_fixed());
          }
        } else if constexpr (std::is_same_v<Type, SnapshotListRequest>) {
          // no payload
        } else if constexpr (std::is_same_v<Type, SnapshotList>) {
          writer.u32(static_cast<uint32_t>(value.heights.size()));
          for (uint64_t height : value.heights)
            writer.u64(height);
        } else if constexpr (std::is_same_v<Type, SnapshotManifestRequest>) {
          writer.u64(value.height);
        } else if constexpr (std::is_same_v<Type, SnapshotManifestData>) {
          writer.u64(value.height);
          writer.var_bytes(value.manifest);
        } else if constexpr (std::is_same_v<Type, SnapshotChunkRequest>) {
          writer.u64(value.height);
          writer.u32(value.index);
        } else if constexpr (std::is_same_v<Type, SnapshotChunkData>) {
          writer.u64(value.height);
          writer.u32(value.index);
          writer.var_bytes(value.chunk);
        } else if constexpr (std::is_same_v<Type, TransactionHashesMessage> ||
                             std::is_same_v<Type, TransactionRequest>) {
          write_hashes(writer, value.hashes);
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
    case MessageKind::snapshot_list_request:
      message = SnapshotListRequest{};
      break;
    case MessageKind::snapshot_list: {
      SnapshotList list;
      uint32_t count = reader.u32();
      if (!reader.failed() && count > kMaxSnapshotsListed) {
        reader.fail("oversized", "too many snapshots listed");
      }
      for (uint32_t index = 0; index < count && !reader.failed(); ++index) {
        list.heights.push_back(reader.u64());
      }
      message = std::move(list);
      break;
    }
    case MessageKind::snapshot_manifest_request:
      message = SnapshotManifestRequest{reader.u64()};
      break;
    case MessageKind::snapshot_manifest: {
      SnapshotManifestData data;
      data.height = reader.u64();
      data.manifest = reader.var_bytes(kMaxSnapshotPayloadBytes);
      message = std::move(data);
      break;
    }
    case MessageKind::snapshot_chunk_request: {
      SnapshotChunkRequest request;
      request.height = reader.u64();
      request.index = reader.u32();
      message = request;
      break;
    }
    case MessageKind::snapshot_chunk: {
      SnapshotChunkData data;
      data.height = reader.u64();
      data.index = reader.u32();
      data.chunk = reader.var_bytes(kMaxSnapshotPayloadBytes);
      message = std::move(data);
      break;
    }
    case MessageKind::transaction_hashes:
      message = TransactionHashesMessage{read_hashes(reader)};
      break;
    case MessageKind::transaction_request:
      message = TransactionRequest{read_hashes(reader)};
      break;
    default:
      if (!reader.failed())
        reader.fail("unknown_message", "unknown message kind " + std::to_string(kind));
  }
  TALLY_TRY(reader.finish());
  return std::move(*message);
}

}  // namespace tally
