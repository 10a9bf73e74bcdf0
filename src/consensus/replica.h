#pragma once
// One validator's Tendermint state machine for one height at a time (Buchman, Kwon, Milosevic,
// "The latest gossip on BFT consensus", 2018, Algorithm 1). It is pure and deterministic: no
// sockets, files, clocks, threads or randomness. Inputs are received proposals and votes,
// expired timeouts, and the answers to its own requests (a block built, a block validated).
// Outputs accumulate until `take_output()`.
//
// The driver must handle an output batch in this order:
//   1. persist `persistent_state` durably (it records what was signed: the double-sign guard);
//   2. apply `decision`, if any, then call start_height() for the next height;
//   3. send `messages`, schedule `timeouts`, answer `build_request` and `validation_requests`.
// A message is never released before the state that signed it is on disk.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "consensus/types.h"
#include "consensus/validator_set.h"

namespace tally {

enum class Step : uint8_t { propose = 1, prevote = 2, precommit = 3 };

struct ConsensusTimeouts {
  uint64_t propose_ms = 3000;
  uint64_t propose_delta_ms = 500;
  uint64_t prevote_ms = 1000;
  uint64_t prevote_delta_ms = 500;
  uint64_t precommit_ms = 1000;
  uint64_t precommit_delta_ms = 500;
  // Interval of the gossip tick: own votes and the known proposal are sent again, so lost
  // messages are recovered (a liveness mechanism only; it never changes what is signed).
  uint64_t gossip_ms = 1000;

  uint64_t propose(uint32_t round) const;
  uint64_t prevote(uint32_t round) const;
  uint64_t precommit(uint32_t round) const;
};

// `heartbeat` and `block_interval` are the engine's: start the next height even with no
// transactions to include; the minimum time between blocks has passed.
enum class TimeoutKind : uint8_t {
  propose = 1,
  prevote = 2,
  precommit = 3,
  gossip = 4,
  heartbeat = 5,
  block_interval = 6
};

struct TimeoutRequest {
  TimeoutKind kind = TimeoutKind::propose;
  uint64_t height = 0;
  uint32_t round = 0;
  uint64_t delay_ms = 0;
  bool operator==(const TimeoutRequest&) const = default;
};

// Sent on every gossip tick so peers can tell who is behind.
struct StatusMessage {
  uint64_t height = 0;  // the height the sender is deciding
  uint32_t round = 0;
  bool operator==(const StatusMessage&) const = default;
};

using ConsensusMessage = std::variant<Proposal, Vote, StatusMessage>;

// What survives a crash. Written before any message it made possible is sent. NodeStorage keeps
// it in a layout of its own (storage/encoding.h, blocks stored apart): a field added here must be
// added there too.
struct ReplicaPersistentState {
  uint64_t height = 0;
  uint32_t round = 0;
  Step step = Step::propose;
  uint32_t locked_round = kNoRound;
  Hash256 locked_block_hash;
  uint32_t valid_round = kNoRound;
  std::optional<Block> valid_block;
  // Everything this validator signed at `height`: re-sent after a restart, and never
  // contradicted. The guard also refuses to sign for any earlier height.
  std::vector<Vote> own_votes;
  std::optional<Proposal> own_proposal;

  bool operator==(const ReplicaPersistentState&) const = default;
  Bytes encode() const;
  static Result<ReplicaPersistentState> decode(ByteSpan bytes);
};

struct BuildRequest {
  uint64_t height = 0;
  uint32_t round = 0;
  bool operator==(const BuildRequest&) const = default;
};

// A block for the engine to check, with the hashes of its transactions: the replica computes
// them once, when the block arrives (checking the body against the header with them), and the
// engine uses them instead of hashing every transaction again.
struct ValidationRequest {
  Block block;
  std::vector<Hash256> transaction_hashes;  // transaction_hashes(block.transactions)
};

struct ReplicaOutput {
  std::optional<ReplicaPersistentState> persistent_state;
  std::optional<DecidedBlock> decision;
  std::vector<ConsensusMessage> messages;  // to broadcast
  std::vector<TimeoutRequest> timeouts;
  std::optional<BuildRequest> build_request;
  std::vector<ValidationRequest> validation_requests;
  std::vector<DuplicateVoteEvidence> evidence;  // double votes seen

  bool empty() const;
};

class Replica {
 public:
  // `signer` is null for a node that follows consensus without voting.
  Replica(std::string chain_id, ConsensusTimeouts timeouts, const Signer* signer,
          const SignatureChecker& checker);

  // Begins deciding `height` with `validators`. `restored` is the state persisted before a
  // crash; it is used only if it is for this height (its signed messages are sent again and
  // never contradicted). Messages buffered for this height are replayed.
  void start_height(uint64_t height, ValidatorSet validators,
                    std::optional<ReplicaPersistentState> restored = std::nullopt);

  void on_proposal(const Proposal& proposal);
  void on_vote(const Vote& vote);
  void on_timeout(const TimeoutRequest& timeout);
  // Answers a BuildRequest: the block to propose (ignored if the round has moved on).
  void on_block_built(uint64_t height, uint32_t round, Block block);
  // Answers a validation request: the block is valid for this height, or not.
  void on_block_validated(const Hash256& block_hash, bool valid);
  // A block for the current height with a commit the driver verified (catch-up).
  void on_decided_block(const DecidedBlock& decided);

  ReplicaOutput take_output();

  uint64_t height() const { return height_; }
  uint32_t round() const { return round_; }
  Step step() const { return step_; }
  bool decided() const { return decided_; }
  uint32_t locked_round() const { return locked_round_; }
  const Hash256& locked_block_hash() const { return locked_block_hash_; }
  const ValidatorSet& validators() const { return schedule_->validators(); }
  Address proposer(uint32_t round) { return schedule_->proposer(height_, round); }
  const std::string& chain_id() const { return chain_id_; }

  // Fault injection for the simulator's "amnesia" Byzantine behaviour: drop the lock.
  void forget_lock_for_testing();
  // Signatures the double-sign guard refused (an honest replica should never need it).
  uint64_t refused_signatures() const { return refused_signatures_; }

 private:
  // Votes of one type in one round. A validator counts once toward `power` (its first vote)
  // but toward every block it voted for (up to kMaxBlocksPerVoter): different honest nodes may
  // have seen different votes of an equivocator, and a proof of lock formed at one node must be
  // checkable at another once the votes are relayed. Never twice for the same block, so the
  // power behind any one block is never overcounted.
  struct VoteTally {
    std::map<size_t, Vote> first_by_validator;
    std::map<std::pair<Hash256, size_t>, Vote> by_block;  // (block, validator index)
    std::map<size_t, uint32_t> blocks_per_validator;
    std::map<Hash256, uint64_t> power_by_block;  // nil is the zero hash
    uint64_t power = 0;
  };
  struct RoundState {
    std::optional<Proposal> proposal;  // the first valid one from the round's proposer
    VoteTally prevotes;
    VoteTally precommits;
    std::map<size_t, bool> participants;  // validators heard from at this round (f+1 rule)
    uint64_t participant_power = 0;
    bool prevote_timeout_scheduled = false;
    bool precommit_timeout_scheduled = false;
    bool polka_handled = false;  // line 36 of the algorithm fires once per round
  };
  // Whether every validator's prevote or precommit for `block_hash` is in `state`.
  bool every_validator_voted_for(const RoundState& state, const Hash256& block_hash) const;
  enum class Validity : uint8_t { pending, valid, invalid };

  // Record a message without running the rules (own messages come back through these, so no
  // rule ever runs inside another).
  void handle_proposal(const Proposal& proposal);
  void handle_vote(const Vote& vote);
  void buffer_future(ConsensusMessage message);
  RoundState& round_state(uint32_t round);
  void note_participant(RoundState& state, size_t validator_index);
  Validity validity_of(const Hash256& block_hash);
  // `hashes`, when given, are transaction_hashes(block.transactions); computed otherwise.
  void remember_block(const Block& block, std::vector<Hash256> hashes = {});

  void start_round(uint32_t round);
  void propose(Block block, uint32_t proof_of_lock_round);
  void broadcast_vote(VoteType type, const Hash256& block_hash);
  // The double-sign guard. Returns the vote already signed for (type, round) with the same
  // block, or nothing; sets `refuse` when signing would contradict what was signed.
  std::optional<Vote> signed_before(VoteType type, uint32_t round, const Hash256& block_hash,
                                    bool& refuse) const;
  void schedule(TimeoutKind kind, uint32_t round, uint64_t delay_ms);
  void mark_dirty() { persist_dirty_ = true; }
  ReplicaPersistentState persistent_state() const;
  void rebroadcast();
  void relay_prevotes_for(uint32_t round, const Hash256& block_hash);

  // Applies every rule of the algorithm that is enabled, until none is.
  void run_rules();
  bool rule_proposal_in_propose_step();  // lines 22 and 28
  bool rule_prevote_timeout();           // line 34
  bool rule_polka_for_block();           // line 36
  bool rule_polka_for_nil();             // line 44
  bool rule_precommit_timeout();         // line 47
  bool rule_decide();                    // line 49
  bool rule_round_skip();                // line 55
  void decide(const Block& block, uint32_t round);

  std::string chain_id_;
  ConsensusTimeouts timeouts_;
  const Signer* signer_;
  const SignatureChecker& checker_;
  std::optional<ProposerSchedule> schedule_;

  uint64_t height_ = 0;
  uint32_t round_ = 0;
  Step step_ = Step::propose;
  bool decided_ = false;
  uint32_t locked_round_ = kNoRound;
  Hash256 locked_block_hash_;
  uint32_t valid_round_ = kNoRound;
  std::optional<Block> valid_block_;
  std::vector<Vote> own_votes_;
  std::optional<Proposal> own_proposal_;
  std::optional<BuildRequest> pending_build_;

  std::map<uint32_t, RoundState> rounds_;
  struct KnownBlock {
    Block block;
    std::vector<Hash256> transaction_hashes;
  };
  std::map<Hash256, KnownBlock> blocks_;
  std::map<Hash256, Validity> validity_;
  std::vector<ConsensusMessage> future_messages_;  // for height_ + 1, bounded

  uint64_t refused_signatures_ = 0;
  bool persist_dirty_ = false;
  ReplicaOutput output_;
};

}  // namespace tally
