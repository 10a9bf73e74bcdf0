#include "consensus/types.h"

#include <algorithm>

#include "crypto/merkle.h"

namespace tally {
namespace {

constexpr uint8_t kBlockVersion = 1;
constexpr std::string_view kVoteTag = "tally/vote/v1";
constexpr std::string_view kProposalTag = "tally/proposal/v1";

void write_hash(Writer& writer, const Hash256& hash) {
  writer.fixed(hash.span());
}
Hash256 read_hash(Reader& reader) {
  return reader.fixed_bytes<32>();
}

void write_address(Writer& writer, const Address& address) {
  writer.fixed(address.key.span());
}
Address read_address(Reader& reader) {
  return Address{reader.fixed_bytes<32>()};
}

// Reads a u32 element count and refuses counts above `limit` before allocating anything.
uint32_t read_count(Reader& reader, size_t limit, std::string_view what) {
  uint32_t count = reader.u32();
  if (!reader.failed() && count > limit) {
    reader.fail("oversized", std::string(what) + " count " + std::to_string(count) +
                                 " exceeds the limit of " + std::to_string(limit));
    return 0;
  }
  return count;
}

}  // namespace

std::string_view vote_type_name(VoteType type) {
  return type == VoteType::prevote ? "prevote" : "precommit";
}

// --- BlockHeader -----------------------------------------------------------------------------

void BlockHeader::write(Writer& writer) const {
  writer.u8(kBlockVersion);
  writer.string(chain_id);
  writer.u64(height);
  writer.u64(time_ms);
  write_hash(writer, previous_block_hash);
  write_hash(writer, transactions_root);
  write_hash(writer, state_root);
  write_hash(writer, validators_hash);
  write_hash(writer, next_validators_hash);
  write_hash(writer, last_commit_hash);
  write_hash(writer, evidence_hash);
  write_address(writer, proposer);
}

BlockHeader BlockHeader::read(Reader& reader) {
  BlockHeader header;
  uint8_t version = reader.u8();
  if (!reader.failed() && version != kBlockVersion) {
    reader.fail("unsupported_version", "unknown block version " + std::to_string(version));
  }
  header.chain_id = reader.string(64);
  header.height = reader.u64();
  header.time_ms = reader.u64();
  header.previous_block_hash = read_hash(reader);
  header.transactions_root = read_hash(reader);
  header.state_root = read_hash(reader);
  header.validators_hash = read_hash(reader);
  header.next_validators_hash = read_hash(reader);
  header.last_commit_hash = read_hash(reader);
  header.evidence_hash = read_hash(reader);
  header.proposer = read_address(reader);
  return header;
}

Hash256 BlockHeader::hash() const {
  Writer writer;
  write(writer);
  return sha256(writer.bytes());
}

// --- Vote ------------------------------------------------------------------------------------

void Vote::write(Writer& writer) const {
  writer.u8(static_cast<uint8_t>(type));
  writer.u64(height);
  writer.u32(round);
  write_hash(writer, block_hash);
  write_address(writer, validator);
  writer.fixed(signature.span());
}

Vote Vote::read(Reader& reader) {
  Vote vote;
  uint8_t type = reader.u8();
  if (!reader.failed() && type != static_cast<uint8_t>(VoteType::prevote) &&
      type != static_cast<uint8_t>(VoteType::precommit)) {
    reader.fail("invalid_vote", "unknown vote type " + std::to_string(type));
  }
  vote.type = static_cast<VoteType>(type);
  vote.height = reader.u64();
  vote.round = reader.u32();
  vote.block_hash = read_hash(reader);
  vote.validator = read_address(reader);
  vote.signature = reader.fixed_bytes<64>();
  return vote;
}

Bytes Vote::signing_message(std::string_view chain_id) const {
  Writer writer;
  writer.string(kVoteTag);
  writer.string(chain_id);
  writer.u8(static_cast<uint8_t>(type));
  writer.u64(height);
  writer.u32(round);
  write_hash(writer, block_hash);
  return writer.take();
}

void Vote::sign(std::string_view chain_id, const Signer& signer) {
  validator = signer.address();
  signature = signer.sign(signing_message(chain_id));
}

bool Vote::verify(std::string_view chain_id, const SignatureChecker& checker) const {
  return checker.verify(validator, signing_message(chain_id), signature);
}

// --- Commit ----------------------------------------------------------------------------------

void Commit::write(Writer& writer) const {
  writer.u64(height);
  writer.u32(round);
  write_hash(writer, block_hash);
  writer.u32(static_cast<uint32_t>(signatures.size()));
  for (const CommitSignature& entry : signatures) {
    write_address(writer, entry.validator);
    writer.fixed(entry.signature.span());
  }
}

Commit Commit::read(Reader& reader) {
  Commit commit;
  commit.height = reader.u64();
  commit.round = reader.u32();
  commit.block_hash = read_hash(reader);
  uint32_t count = read_count(reader, kMaxValidators, "commit signature");
  commit.signatures.reserve(count);
  for (uint32_t index = 0; index < count && !reader.failed(); ++index) {
    CommitSignature entry;
    entry.validator = read_address(reader);
    entry.signature = reader.fixed_bytes<64>();
    if (!commit.signatures.empty() && !(commit.signatures.back().validator < entry.validator)) {
      reader.fail("non_canonical",
                  "commit signatures must be in strictly increasing address order");
    }
    commit.signatures.push_back(entry);
  }
  return commit;
}

Hash256 Commit::hash() const {
  if (empty())
    return Hash256{};
  Writer writer;
  write(writer);
  return sha256(writer.bytes());
}

Vote Commit::vote_of(const CommitSignature& entry) const {
  Vote vote;
  vote.type = VoteType::precommit;
  vote.height = height;
  vote.round = round;
  vote.block_hash = block_hash;
  vote.validator = entry.validator;
  vote.signature = entry.signature;
  return vote;
}

// --- Evidence --------------------------------------------------------------------------------

DuplicateVoteEvidence DuplicateVoteEvidence::from_votes(const Vote& one, const Vote& other) {
  DuplicateVoteEvidence evidence;
  bool in_order = one.block_hash < other.block_hash;
  evidence.first = in_order ? one : other;
  evidence.second = in_order ? other : one;
  return evidence;
}

void DuplicateVoteEvidence::write(Writer& writer) const {
  first.write(writer);
  second.write(writer);
}

DuplicateVoteEvidence DuplicateVoteEvidence::read(Reader& reader) {
  DuplicateVoteEvidence evidence;
  evidence.first = Vote::read(reader);
  evidence.second = Vote::read(reader);
  return evidence;
}

Hash256 DuplicateVoteEvidence::hash() const {
  Writer writer;
  write(writer);
  return sha256(writer.bytes());
}

Status DuplicateVoteEvidence::verify(std::string_view chain_id,
                                     const SignatureChecker& checker) const {
  auto invalid = [](std::string message) {
    return make_error("invalid_evidence", std::move(message));
  };
  if (first.validator != second.validator)
    return invalid("the votes are by different validators");
  if (first.type != second.type || first.height != second.height || first.round != second.round) {
    return invalid("the votes are not for the same type, height and round");
  }
  if (!(first.block_hash < second.block_hash)) {
    return invalid("the votes must differ and be in canonical order");
  }
  if (!first.verify(chain_id, checker) || !second.verify(chain_id, checker)) {
    return invalid("a vote's signature is invalid");
  }
  return Status::success();
}

// --- Block -----------------------------------------------------------------------------------

std::vector<Hash256> transaction_hashes(std::span<const Transaction> transactions) {
  std::vector<Hash256> hashes;
  hashes.reserve(transactions.size());
  for (const Transaction& transaction : transactions)
    hashes.push_back(transaction.hash());
  return hashes;
}

Hash256 transactions_root(const std::vector<Transaction>& transactions) {
  return merkle_root(transaction_hashes(transactions));
}

Hash256 evidence_root(const std::vector<DuplicateVoteEvidence>& evidence) {
  std::vector<Hash256> hashes;
  hashes.reserve(evidence.size());
  for (const DuplicateVoteEvidence& item : evidence)
    hashes.push_back(item.hash());
  return merkle_root(hashes);
}

void Block::write(Writer& writer) const {
  header.write(writer);
  writer.u32(static_cast<uint32_t>(transactions.size()));
  for (const Transaction& transaction : transactions)
    writer.fixed(transaction.encode_fixed());
  last_commit.write(writer);
  writer.u32(static_cast<uint32_t>(evidence.size()));
  for (const DuplicateVoteEvidence& item : evidence)
    item.write(writer);
}

Block Block::read(Reader& reader, size_t max_transactions) {
  Block block;
  block.header = BlockHeader::read(reader);
  uint32_t count = read_count(reader, max_transactions, "transaction");
  block.transactions.reserve(count);
  for (uint32_t index = 0; index < count && !reader.failed(); ++index) {
    FixedBytes<kTransactionEncodedSize> bytes = reader.fixed_bytes<kTransactionEncodedSize>();
    if (reader.failed())
      break;
    Result<Transaction> transaction = Transaction::decode(bytes.span());
    if (!transaction.ok()) {
      reader.fail(transaction.error().code,
                  "transaction " + std::to_string(index) + ": " + transaction.error().message);
      break;
    }
    block.transactions.push_back(*transaction);
  }
  block.last_commit = Commit::read(reader);
  uint32_t evidence_count = read_count(reader, kMaxEvidencePerBlock, "evidence");
  for (uint32_t index = 0; index < evidence_count && !reader.failed(); ++index) {
    block.evidence.push_back(DuplicateVoteEvidence::read(reader));
  }
  return block;
}

Bytes Block::encode() const {
  Writer writer;
  write(writer);
  return writer.take();
}

Result<Block> Block::decode(ByteSpan bytes, size_t max_transactions) {
  Reader reader(bytes);
  Block block = read(reader, max_transactions);
  TALLY_TRY(reader.finish());
  return block;
}

Status Block::check_body_matches_header() const {
  return check_body_matches_header(transaction_hashes(transactions));
}

Status Block::check_body_matches_header(std::span<const Hash256> transaction_hashes) const {
  TALLY_ASSERT_MSG(transaction_hashes.size() == transactions.size(),
                   "a block's transaction hashes do not match its transactions");
  if (merkle_root(transaction_hashes) != header.transactions_root) {
    return make_error("invalid_block", "transactions do not match the header's transactions_root");
  }
  if (last_commit.hash() != header.last_commit_hash) {
    return make_error("invalid_block", "last commit does not match the header's last_commit_hash");
  }
  if (evidence_root(evidence) != header.evidence_hash) {
    return make_error("invalid_block", "evidence does not match the header's evidence_hash");
  }
  return Status::success();
}

// --- Proposal --------------------------------------------------------------------------------

void Proposal::write(Writer& writer) const {
  writer.u64(height);
  writer.u32(round);
  writer.u32(proof_of_lock_round);
  block.write(writer);
  writer.fixed(signature.span());
}

Proposal Proposal::read(Reader& reader, size_t max_transactions) {
  Proposal proposal;
  proposal.height = reader.u64();
  proposal.round = reader.u32();
  proposal.proof_of_lock_round = reader.u32();
  proposal.block = Block::read(reader, max_transactions);
  proposal.signature = reader.fixed_bytes<64>();
  return proposal;
}

Bytes Proposal::signing_message(std::string_view chain_id) const {
  Writer writer;
  writer.string(kProposalTag);
  writer.string(chain_id);
  writer.u64(height);
  writer.u32(round);
  writer.u32(proof_of_lock_round);
  write_hash(writer, block.hash());
  return writer.take();
}

void Proposal::sign(std::string_view chain_id, const Signer& signer) {
  signature = signer.sign(signing_message(chain_id));
}

bool Proposal::verify(std::string_view chain_id, const SignatureChecker& checker,
                      const Address& proposer) const {
  return checker.verify(proposer, signing_message(chain_id), signature);
}

}  // namespace tally
