#include "storage/encoding.h"

namespace tally {

std::array<uint8_t, 8> height_key(uint64_t height) {
  std::array<uint8_t, 8> key{};
  for (size_t index = 0; index < 8; ++index)
    key[index] = static_cast<uint8_t>(height >> (8 * (7 - index)));
  return key;
}

std::optional<uint64_t> parse_height_key(ByteSpan key) {
  if (key.size() != 8)
    return std::nullopt;
  uint64_t height = 0;
  for (uint8_t byte : key)
    height = (height << 8) | byte;
  return height;
}

void write_decided_block(Writer& writer, const DecidedBlock& decided) {
  decided.block.write(writer);
  decided.commit.write(writer);
}

DecidedBlock read_decided_block(Reader& reader, size_t max_transactions) {
  DecidedBlock decided;
  decided.block = Block::read(reader, max_transactions);
  decided.commit = Commit::read(reader);
  return decided;
}

Bytes encode_decided_block(const DecidedBlock& decided) {
  Writer writer;
  writer.u8(kStoredBlockVersion);
  write_decided_block(writer, decided);
  return writer.take();
}

Result<DecidedBlock> decode_decided_block(ByteSpan bytes) {
  Reader reader(bytes);
  uint8_t version = reader.u8();
  if (!reader.failed() && version != kStoredBlockVersion) {
    reader.fail("unsupported_version", "stored block version " + std::to_string(version));
  }
  DecidedBlock decided = read_decided_block(reader, bytes.size() / kTransactionEncodedSize);
  TALLY_TRY(reader.finish());
  return decided;
}

Bytes encode_header_and_commit(const HeaderAndCommit& value) {
  Writer writer;
  writer.u8(kStoredHeaderVersion);
  value.header.write(writer);
  value.commit.write(writer);
  return writer.take();
}

Result<HeaderAndCommit> decode_header_and_commit(ByteSpan bytes) {
  Reader reader(bytes);
  uint8_t version = reader.u8();
  if (!reader.failed() && version != kStoredHeaderVersion) {
    reader.fail("unsupported_version", "stored header version " + std::to_string(version));
  }
  HeaderAndCommit value;
  value.header = BlockHeader::read(reader);
  value.commit = Commit::read(reader);
  TALLY_TRY(reader.finish());
  return value;
}

Bytes encode_u64(uint64_t value) {
  Writer writer;
  writer.u64(value);
  return writer.take();
}

Result<uint64_t> decode_u64(ByteSpan bytes) {
  Reader reader(bytes);
  uint64_t value = reader.u64();
  TALLY_TRY(reader.finish());
  return value;
}

}  // namespace tally
