#pragma once
// What validators exchange and agree on: block headers and blocks, proposals, votes, commits and
// evidence of double voting, each with one canonical encoding (docs/protocol.md) and, where
// signed, a domain-separated signing message that includes the chain id.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/codec.h"
#include "core/status.h"
#include "crypto/address.h"
#include "crypto/sha256.h"
#include "ledger/transaction.h"

namespace tally {

inline constexpr uint32_t kNoRound = UINT32_MAX;
inline constexpr size_t kMaxValidators = 1000;
inline constexpr size_t kMaxEvidencePerBlock = 64;

enum class VoteType : uint8_t { prevote = 1, precommit = 2 };
std::string_view vote_type_name(VoteType type);

// Signs and checks consensus messages. The node uses Ed25519; the simulator may plug in a
// cheaper scheme with the same unforgeability within the simulation.
class Signer {
 public:
  virtual ~Signer() = default;
  virtual Address address() const = 0;
  virtual Signature sign(ByteSpan message) const = 0;
};

class SignatureChecker {
 public:
  virtual ~SignatureChecker() = default;
  virtual bool verify(const Address& signer, ByteSpan message,
                      const Signature& signature) const = 0;
};

class Ed25519Signer final : public Signer {
 public:
  explicit Ed25519Signer(SecretKey key) : key_(std::move(key)) {}
  Address address() const override { return Address{key_.public_key()}; }
  Signature sign(ByteSpan message) const override { return key_.sign(message); }

 private:
  SecretKey key_;
};

class Ed25519Checker final : public SignatureChecker {
 public:
  bool verify(const Address& signer, ByteSpan message, const Signature& signature) const override {
    return verify_signature(signer.key, message, signature);
  }
};

struct BlockHeader {
  std::string chain_id;
  uint64_t height = 0;
  // Proposer's clock, Unix milliseconds; strictly greater than the previous block's.
  uint64_t time_ms = 0;
  // Hash of the previous header; the genesis hash for height 1.
  Hash256 previous_block_hash;
  Hash256 transactions_root;  // merkle_root of the transaction hashes
  Hash256 state_root;         // state after applying this block
  Hash256 validators_hash;    // the set that decides this block
  Hash256 next_validators_hash;
  Hash256 last_commit_hash;  // hash of the commit of the previous block (zero at height 1)
  Hash256 evidence_hash;     // merkle_root of the evidence hashes
  Address proposer;

  bool operator==(const BlockHeader&) const = default;
  void write(Writer& writer) const;
  static BlockHeader read(Reader& reader);
  Hash256 hash() const;
};

struct Vote {
  VoteType type = VoteType::prevote;
  uint64_t height = 0;
  uint32_t round = 0;
  Hash256 block_hash;  // all zeros: a vote for nil
  Address validator;
  Signature signature;

  bool operator==(const Vote&) const = default;
  bool is_nil() const { return block_hash.is_zero(); }
  void write(Writer& writer) const;
  static Vote read(Reader& reader);
  Bytes signing_message(std::string_view chain_id) const;
  void sign(std::string_view chain_id, const Signer& signer);
  bool verify(std::string_view chain_id, const SignatureChecker& checker) const;
};

// One validator's precommit inside a commit; the vote itself is rebuilt from the commit.
struct CommitSignature {
  Address validator;
  Signature signature;
  bool operator==(const CommitSignature&) const = default;
};

// Precommits of more than 2/3 of the voting power for one block: the proof it was decided.
struct Commit {
  uint64_t height = 0;
  uint32_t round = 0;
  Hash256 block_hash;
  std::vector<CommitSignature> signatures;  // ordered by validator address, no duplicates

  bool operator==(const Commit&) const = default;
  bool empty() const { return signatures.empty() && height == 0; }
  void write(Writer& writer) const;
  static Commit read(Reader& reader);
  Hash256 hash() const;
  Vote vote_of(const CommitSignature& signature) const;
};

// Two votes by one validator, same type, height and round, different blocks. Canonical order:
// first.block_hash < second.block_hash.
struct DuplicateVoteEvidence {
  Vote first;
  Vote second;

  bool operator==(const DuplicateVoteEvidence&) const = default;
  static DuplicateVoteEvidence from_votes(const Vote& one, const Vote& other);
  void write(Writer& writer) const;
  static DuplicateVoteEvidence read(Reader& reader);
  Hash256 hash() const;
  // Shape and signatures; whether the validator belongs to the set is the caller's check.
  Status verify(std::string_view chain_id, const SignatureChecker& checker) const;
};

struct Block {
  BlockHeader header;
  std::vector<Transaction> transactions;
  Commit last_commit;
  std::vector<DuplicateVoteEvidence> evidence;

  bool operator==(const Block&) const = default;
  Hash256 hash() const { return header.hash(); }
  void write(Writer& writer) const;
  static Block read(Reader& reader, size_t max_transactions);
  Bytes encode() const;
  static Result<Block> decode(ByteSpan bytes, size_t max_transactions);
  // The header's roots match the body: transactions, last commit and evidence.
  Status check_body_matches_header() const;
  // The same, given the transactions' hashes (REQUIRES: transaction_hashes(transactions)).
  Status check_body_matches_header(std::span<const Hash256> transaction_hashes) const;
};

// Each transaction's hash, in order.
std::vector<Hash256> transaction_hashes(std::span<const Transaction> transactions);
Hash256 transactions_root(const std::vector<Transaction>& transactions);
Hash256 evidence_root(const std::vector<DuplicateVoteEvidence>& evidence);

struct Proposal {
  uint64_t height = 0;
  uint32_t round = 0;
  // The round in which the proposed block got +2/3 prevotes, or kNoRound.
  uint32_t proof_of_lock_round = kNoRound;
  Block block;
  // By the proposer scheduled for (height, round). That may differ from block.header.proposer,
  // the validator that built the block: a later round re-proposes a block that got +2/3
  // prevotes, unchanged.
  Signature signature;

  bool operator==(const Proposal&) const = default;
  void write(Writer& writer) const;
  static Proposal read(Reader& reader, size_t max_transactions);
  Bytes signing_message(std::string_view chain_id) const;
  void sign(std::string_view chain_id, const Signer& signer);
  bool verify(std::string_view chain_id, const SignatureChecker& checker,
              const Address& proposer) const;
};

// A decided block with the commit that proves it (what catch-up and state sync exchange).
struct DecidedBlock {
  Block block;
  Commit commit;
  bool operator==(const DecidedBlock&) const = default;
};

}  // namespace tally
