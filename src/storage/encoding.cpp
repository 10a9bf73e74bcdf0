#include "storage/encoding.h"

#include <string>
#include <string_view>

#include "core/assert.h"

namespace tally {
namespace {

// A vote is encoded in 141 bytes (type, height, round, block hash, validator, signature).
constexpr size_t kVoteEncodedSize = 1 + 8 + 4 + 32 + 32 + 64;

void write_block_slot(Writer& writer, const Block* block, bool by_reference) {
  if (block == nullptr) {
    writer.u8(static_cast<uint8_t>(StoredBlockForm::absent));
  } else if (by_reference) {
    writer.u8(static_cast<uint8_t>(StoredBlockForm::reference));
    writer.fixed(block->hash().span());
  } else {
    writer.u8(static_cast<uint8_t>(StoredBlockForm::inline_block));
    block->write(writer);
  }
}

// Reads a slot into `block` (inline) or `reference`; returns whether a block is there.
bool read_block_slot(Reader& reader, Block& block, std::optional<Hash256>& reference) {
  uint8_t form = reader.u8();
  if (reader.failed())
    return false;
  switch (static_cast<StoredBlockForm>(form)) {
    case StoredBlockForm::absent:
      return false;
    case StoredBlockForm::reference:
      reference = reader.fixed_bytes<32>();
      return true;
    case StoredBlockForm::inline_block:
      block = Block::read(reader, reader.remaining() / kTransactionEncodedSize);
      return true;
  }
  reader.fail("invalid_state", "unknown stored block form " + std::to_string(form));
  return false;
}

// Reads the leading version byte of a stored value; any other version fails the reader.
void read_version(Reader& reader, uint8_t expected, std::string_view what) {
  uint8_t version = reader.u8();
  if (!reader.failed() && version != expected) {
    reader.fail("unsupported_version",
                "stored " + std::string(what) + " version " + std::to_string(version));
  }
}

}  // namespace

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
  read_version(reader, kStoredBlockVersion, "block");
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
  read_version(reader, kStoredHeaderVersion, "header");
  HeaderAndCommit value;
  value.header = BlockHeader::read(reader);
  value.commit = Commit::read(reader);
  TALLY_TRY(reader.finish());
  return value;
}

// The record names each field of ReplicaPersistentState and of its Proposal by hand. A field
// added to either changes its size, and this stops the build until the record encodes the field
// too (and loses nothing a restarted validator needs not to double-sign); then update the sizes.
static_assert(
    sizeof(ReplicaPersistentState) == 1024 && sizeof(Proposal) == 504,
    "ReplicaPersistentState or Proposal changed: encode the change in the replica record");

Bytes encode_replica_record(const ReplicaPersistentState& state, bool valid_block_by_reference,
                            bool proposal_block_by_reference) {
  TALLY_ASSERT(!valid_block_by_reference || state.valid_block);
  TALLY_ASSERT(!proposal_block_by_reference || state.own_proposal);
  Writer writer;
  writer.u8(kStoredReplicaRecordVersion);
  writer.u64(state.height);
  writer.u32(state.round);
  writer.u8(static_cast<uint8_t>(state.step));
  writer.u32(state.locked_round);
  writer.fixed(state.locked_block_hash.span());
  writer.u32(state.valid_round);
  write_block_slot(writer, state.valid_block ? &*state.valid_block : nullptr,
                   valid_block_by_reference);
  writer.u32(static_cast<uint32_t>(state.own_votes.size()));
  for (const Vote& vote : state.own_votes)
    vote.write(writer);
  writer.boolean(state.own_proposal.has_value());
  if (state.own_proposal) {
    const Proposal& proposal = *state.own_proposal;
    writer.u64(proposal.height);
    writer.u32(proposal.round);
    writer.u32(proposal.proof_of_lock_round);
    write_block_slot(writer, &proposal.block, proposal_block_by_reference);
    writer.fixed(proposal.signature.span());
  }
  return writer.take();
}

Result<ReplicaRecord> decode_replica_record(ByteSpan bytes) {
  Reader reader(bytes);
  ReplicaRecord record;
  ReplicaPersistentState& state = record.state;
  read_version(reader, kStoredReplicaRecordVersion, "replica record");
  state.height = reader.u64();
  state.round = reader.u32();
  uint8_t step = reader.u8();
  if (!reader.failed() && (step < 1 || step > 3))
    reader.fail("invalid_state", "unknown step " + std::to_string(step));
  state.step = static_cast<Step>(step);
  state.locked_round = reader.u32();
  state.locked_block_hash = reader.fixed_bytes<32>();
  state.valid_round = reader.u32();
  Block valid_block;
  if (read_block_slot(reader, valid_block, record.valid_block_reference) &&
      !record.valid_block_reference) {
    state.valid_block = std::move(valid_block);
  }
  uint32_t vote_count = reader.u32();
  if (!reader.failed() && vote_count > reader.remaining() / kVoteEncodedSize)
    reader.fail("oversized", "vote count " + std::to_string(vote_count));
  for (uint32_t index = 0; index < vote_count && !reader.failed(); ++index)
    state.own_votes.push_back(Vote::read(reader));
  if (reader.boolean()) {
    Proposal proposal;
    proposal.height = reader.u64();
    proposal.round = reader.u32();
    proposal.proof_of_lock_round = reader.u32();
    if (!read_block_slot(reader, proposal.block, record.proposal_block_reference) &&
        !reader.failed()) {
      reader.fail("invalid_state", "an own proposal without a block");
    }
    proposal.signature = reader.fixed_bytes<64>();
    state.own_proposal = std::move(proposal);
  }
  TALLY_TRY(reader.finish());
  return record;
}

Bytes encode_replica_block(const Block& block) {
  Writer writer;
  writer.u8(kStoredReplicaBlockVersion);
  block.write(writer);
  return writer.take();
}

Result<Block> decode_replica_block(ByteSpan bytes) {
  Reader reader(bytes);
  read_version(reader, kStoredReplicaBlockVersion, "replica block");
  Block block = Block::read(reader, bytes.size() / kTransactionEncodedSize);
  TALLY_TRY(reader.finish());
  return block;
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
