#include "consensus/replica.h"

#include <algorithm>
#include <utility>

namespace tally {
namespace {

// Bounds on what peers can make a replica store for one height.
constexpr uint64_t kMaxRoundsAhead = 1000;
constexpr size_t kMaxFutureMessages = 4096;
constexpr size_t kMaxBlocksPerHeight = 64;
// Distinct blocks one validator's votes of one type can count toward in one round: more than
// one only for an equivocator, whose extra votes are kept as evidence anyway.
constexpr uint32_t kMaxBlocksPerVoter = 4;
// Our own storage, not peer input: generous.
constexpr size_t kMaxStoredBlockTransactions = 1'000'000;
constexpr uint8_t kPersistentStateVersion = 1;

uint64_t grow(uint64_t base, uint64_t delta, uint32_t round) {
  return base + delta * std::min<uint64_t>(round, 10'000);
}

// Rounds as signed numbers, so that "no round" (-1) compares below every round.
int64_t as_signed(uint32_t round) {
  return round == kNoRound ? -1 : static_cast<int64_t>(round);
}

uint8_t step_order(VoteType type) {
  return type == VoteType::prevote ? 2 : 3;
}

}  // namespace

uint64_t ConsensusTimeouts::propose(uint32_t round) const {
  return grow(propose_ms, propose_delta_ms, round);
}
uint64_t ConsensusTimeouts::prevote(uint32_t round) const {
  return grow(prevote_ms, prevote_delta_ms, round);
}
uint64_t ConsensusTimeouts::precommit(uint32_t round) const {
  return grow(precommit_ms, precommit_delta_ms, round);
}

bool ReplicaOutput::empty() const {
  return !persistent_state && !decision && messages.empty() && timeouts.empty() && !build_request &&
         validation_requests.empty() && evidence.empty();
}

// --- Persistent state ------------------------------------------------------------------------

Bytes ReplicaPersistentState::encode() const {
  Writer writer;
  writer.u8(kPersistentStateVersion);
  writer.u64(height);
  writer.u32(round);
  writer.u8(static_cast<uint8_t>(step));
  writer.u32(locked_round);
  writer.fixed(locked_block_hash.span());
  writer.u32(valid_round);
  writer.boolean(valid_block.has_value());
  if (valid_block)
    valid_block->write(writer);
  writer.u32(static_cast<uint32_t>(own_votes.size()));
  for (const Vote& vote : own_votes)
    vote.write(writer);
  writer.boolean(own_proposal.has_value());
  if (own_proposal)
    own_proposal->write(writer);
  return writer.take();
}

Result<ReplicaPersistentState> ReplicaPersistentState::decode(ByteSpan bytes) {
  Reader reader(bytes);
  ReplicaPersistentState state;
  uint8_t version = reader.u8();
  if (!reader.failed() && version != kPersistentStateVersion) {
    reader.fail("unsupported_version", "unknown replica state version " + std::to_string(version));
  }
  state.height = reader.u64();
  state.round = reader.u32();
  uint8_t step = reader.u8();
  if (!reader.failed() && (step < 1 || step > 3))
    reader.fail("invalid_state", "unknown step");
  state.step = static_cast<Step>(step);
  state.locked_round = reader.u32();
  state.locked_block_hash = reader.fixed_bytes<32>();
  state.valid_round = reader.u32();
  if (reader.boolean())
    state.valid_block = Block::read(reader, kMaxStoredBlockTransactions);
  uint32_t vote_count = reader.u32();
  if (!reader.failed() && vote_count > 2 * (kMaxRoundsAhead + 1) * 4) {
    reader.fail("oversized", "too many own votes");
  }
  for (uint32_t index = 0; index < vote_count && !reader.failed(); ++index) {
    state.own_votes.push_back(Vote::read(reader));
  }
  if (reader.boolean())
    state.own_proposal = Proposal::read(reader, kMaxStoredBlockTransactions);
  TALLY_TRY(reader.finish());
  return state;
}

// --- Replica ---------------------------------------------------------------------------------

Replica::Replica(std::string chain_id, ConsensusTimeouts timeouts, const Signer* signer,
                 const SignatureChecker& checker)
    : chain_id_(std::move(chain_id)), timeouts_(timeouts), signer_(signer), checker_(checker) {}

void Replica::start_height(uint64_t height, ValidatorSet validators,
                           std::optional<ReplicaPersistentState> restored) {
  TALLY_ASSERT_MSG(height > height_, "heights only move forward");
  // The proposer schedule advances incrementally while the validator set stays the same.
  if (!schedule_ || schedule_->validators().hash() != validators.hash()) {
    schedule_.emplace(std::move(validators));
  }
  height_ = height;
  round_ = 0;
  step_ = Step::propose;
  decided_ = false;
  locked_round_ = kNoRound;
  locked_block_hash_ = Hash256{};
  valid_round_ = kNoRound;
  valid_block_.reset();
  own_votes_.clear();
  own_proposal_.reset();
  pending_build_.reset();
  rounds_.clear();
  blocks_.clear();
  validity_.clear();
  mark_dirty();

  std::vector<ConsensusMessage> buffered = std::move(future_messages_);
  future_messages_.clear();

  if (restored && restored->height == height) {
    // Resume exactly where the crash left us, and never contradict what was signed.
    round_ = restored->round;
    step_ = restored->step;
    locked_round_ = restored->locked_round;
    locked_block_hash_ = restored->locked_block_hash;
    valid_round_ = restored->valid_round;
    valid_block_ = restored->valid_block;
    own_votes_ = restored->own_votes;
    own_proposal_ = restored->own_proposal;
    if (valid_block_)
      remember_block(*valid_block_);
    if (own_proposal_) {
      handle_proposal(*own_proposal_);
      output_.messages.push_back(*own_proposal_);
    }
    for (const Vote& vote : own_votes_) {
      handle_vote(vote);
      output_.messages.push_back(vote);
    }
    if (step_ == Step::propose) {
      start_round(round_);
    } else {
      schedule(TimeoutKind::propose, round_, timeouts_.propose(round_));
    }
  } else {
    start_round(0);
  }
  schedule(TimeoutKind::gossip, round_, timeouts_.gossip_ms);

  for (const ConsensusMessage& message : buffered) {
    if (const auto* proposal = std::get_if<Proposal>(&message))
      handle_proposal(*proposal);
    if (const auto* vote = std::get_if<Vote>(&message))
      handle_vote(*vote);
  }
  run_rules();
}

void Replica::buffer_future(ConsensusMessage message) {
  if (future_messages_.size() < kMaxFutureMessages)
    future_messages_.push_back(std::move(message));
}

Replica::RoundState& Replica::round_state(uint32_t round) {
  return rounds_[round];
}

void Replica::note_participant(RoundState& state, size_t validator_index) {
  if (state.participants.emplace(validator_index, true).second) {
    state.participant_power += validators().at(validator_index).power;
  }
}

void Replica::remember_block(const Block& block, std::vector<Hash256> hashes) {
  Hash256 hash = block.hash();
  if (blocks_.count(hash) != 0 || blocks_.size() >= kMaxBlocksPerHeight)
    return;
  if (hashes.empty())
    hashes = transaction_hashes(block.transactions);
  TALLY_ASSERT(hashes.size() == block.transactions.size());
  blocks_.emplace(hash, KnownBlock{block, std::move(hashes)});
}

Replica::Validity Replica::validity_of(const Hash256& block_hash) {
  auto known = validity_.find(block_hash);
  if (known != validity_.end())
    return known->second;
  auto block = blocks_.find(block_hash);
  if (block == blocks_.end())
    return Validity::pending;  // not even received yet
  validity_.emplace(block_hash, Validity::pending);
  output_.validation_requests.push_back(
      ValidationRequest{block->second.block, block->second.transaction_hashes});
  return Validity::pending;
}

// --- Inputs ----------------------------------------------------------------------------------

void Replica::on_proposal(const Proposal& proposal) {
  handle_proposal(proposal);
  run_rules();
}

void Replica::handle_proposal(const Proposal& proposal) {
  if (proposal.height == height_ + 1)
    return buffer_future(proposal);
  if (proposal.height != height_ || decided_ || !schedule_)
    return;
  if (proposal.round > round_ + kMaxRoundsAhead)
    return;
  if (proposal.proof_of_lock_round != kNoRound && proposal.proof_of_lock_round >= proposal.round) {
    return;
  }
  const BlockHeader& header = proposal.block.header;
  if (header.height != height_ || header.chain_id != chain_id_)
    return;
  size_t proposer_index = schedule_->proposer_index(height_, proposal.round);
  const Address& proposer = validators().at(proposer_index).address;
  if (!proposal.verify(chain_id_, checker_, proposer))
    return;
  std::vector<Hash256> hashes = transaction_hashes(proposal.block.transactions);
  if (!proposal.block.check_body_matches_header(hashes).ok())
    return;

  RoundState& state = round_state(proposal.round);
  note_participant(state, proposer_index);
  remember_block(proposal.block, std::move(hashes));
  // A second, different proposal from the same proposer is an equivocation: the first one
  // stays the round's proposal, the block is kept in case the network decides it.
  if (!state.proposal)
    state.proposal = proposal;
  validity_of(proposal.block.hash());
}

void Replica::on_vote(const Vote& vote) {
  handle_vote(vote);
  run_rules();
}

void Replica::handle_vote(const Vote& vote) {
  if (vote.height == height_ + 1)
    return buffer_future(vote);
  if (vote.height != height_ || decided_ || !schedule_)
    return;
  if (vote.round > round_ + kMaxRoundsAhead)
    return;
  std::optional<size_t> index = validators().index_of(vote.validator);
  if (!index || !vote.verify(chain_id_, checker_))
    return;

  RoundState& state = round_state(vote.round);
  VoteTally& tally = vote.type == VoteType::prevote ? state.prevotes : state.precommits;
  uint64_t power = validators().at(*index).power;
  auto first = tally.first_by_validator.find(*index);
  if (first == tally.first_by_validator.end()) {
    tally.first_by_validator.emplace(*index, vote);
    tally.power += power;
    note_participant(state, *index);
  } else if (first->second.block_hash != vote.block_hash) {
    output_.evidence.push_back(DuplicateVoteEvidence::from_votes(first->second, vote));
  }
  // Count toward this block once per validator, for a bounded number of blocks per validator.
  auto key = std::make_pair(vote.block_hash, *index);
  if (tally.by_block.count(key) != 0)
    return;
  uint32_t& blocks = tally.blocks_per_validator[*index];
  if (blocks >= kMaxBlocksPerVoter)
    return;
  ++blocks;
  tally.by_block.emplace(key, vote);
  tally.power_by_block[vote.block_hash] += power;
}

void Replica::on_timeout(const TimeoutRequest& timeout) {
  if (timeout.height != height_ || decided_)
    return;
  switch (timeout.kind) {
    case TimeoutKind::gossip:
      rebroadcast();
      schedule(TimeoutKind::gossip, round_, timeouts_.gossip_ms);
      break;
    case TimeoutKind::propose:  // line 57
      if (timeout.round == round_ && step_ == Step::propose) {
        broadcast_vote(VoteType::prevote, Hash256{});
        step_ = Step::prevote;
        mark_dirty();
      }
      break;
    case TimeoutKind::prevote:  // line 61
      if (timeout.round == round_ && step_ == Step::prevote) {
        broadcast_vote(VoteType::precommit, Hash256{});
        step_ = Step::precommit;
        mark_dirty();
      }
      break;
    case TimeoutKind::precommit:  // line 65
      if (timeout.round == round_)
        start_round(round_ + 1);
      break;
    case TimeoutKind::heartbeat:  // the engine's, never scheduled by the replica
    case TimeoutKind::block_interval:
      break;
  }
  run_rules();
}

void Replica::on_block_built(uint64_t height, uint32_t round, Block block) {
  BuildRequest answered{height, round};
  if (!pending_build_ || *pending_build_ != answered)
    return;
  pending_build_.reset();
  if (height != height_ || round != round_ || step_ != Step::propose || decided_)
    return;
  propose(std::move(block), kNoRound);
  run_rules();
}

void Replica::on_block_validated(const Hash256& block_hash, bool valid) {
  auto known = validity_.find(block_hash);
  if (known == validity_.end() || known->second != Validity::pending)
    return;
  known->second = valid ? Validity::valid : Validity::invalid;
  run_rules();
}

void Replica::on_decided_block(const DecidedBlock& decided) {
  if (decided_ || decided.block.header.height != height_)
    return;
  remember_block(decided.block);
  output_.decision = decided;
  decided_ = true;
}

ReplicaOutput Replica::take_output() {
  if (persist_dirty_)
    output_.persistent_state = persistent_state();
  persist_dirty_ = false;
  return std::exchange(output_, ReplicaOutput{});
}

void Replica::forget_lock_for_testing() {
  locked_round_ = kNoRound;
  locked_block_hash_ = Hash256{};
  mark_dirty();
}

// --- Actions ---------------------------------------------------------------------------------

void Replica::start_round(uint32_t round) {  // line 11
  round_ = round;
  step_ = Step::propose;
  mark_dirty();
  size_t proposer_index = schedule_->proposer_index(height_, round);
  bool is_proposer =
      signer_ != nullptr && validators().at(proposer_index).address == signer_->address();
  if (is_proposer) {
    if (own_proposal_ && own_proposal_->round == round) {
      output_.messages.push_back(*own_proposal_);  // restored after a crash: send it again
    } else if (valid_block_) {
      propose(*valid_block_, valid_round_);
    } else {
      pending_build_ = BuildRequest{height_, round};
      output_.build_request = pending_build_;
    }
  }
  schedule(TimeoutKind::propose, round, timeouts_.propose(round));
}

void Replica::propose(Block block, uint32_t proof_of_lock_round) {
  if (own_proposal_ && own_proposal_->round >= round_) {
    ++refused_signatures_;  // one proposal per round, ever
    return;
  }
  Proposal proposal;
  proposal.height = height_;
  proposal.round = round_;
  proposal.proof_of_lock_round = proof_of_lock_round;
  proposal.block = std::move(block);
  proposal.sign(chain_id_, *signer_);
  own_proposal_ = proposal;
  mark_dirty();
  output_.messages.push_back(proposal);
  handle_proposal(proposal);
}

std::optional<Vote> Replica::signed_before(VoteType type, uint32_t round, const Hash256& block_hash,
                                           bool& refuse) const {
  refuse = false;
  for (const Vote& vote : own_votes_) {
    if (vote.type == type && vote.round == round) {
      if (vote.block_hash == block_hash)
        return vote;
      refuse = true;  // a different vote for the same step: a double sign
      return std::nullopt;
    }
    // Never go back to an earlier (round, step) of the height.
    if (vote.round > round || (vote.round == round && step_order(vote.type) > step_order(type))) {
      refuse = true;
    }
  }
  return std::nullopt;
}

void Replica::broadcast_vote(VoteType type, const Hash256& block_hash) {
  if (signer_ == nullptr || !validators().index_of(signer_->address()))
    return;
  bool refuse = false;
  std::optional<Vote> existing = signed_before(type, round_, block_hash, refuse);
  if (existing) {
    output_.messages.push_back(*existing);
    return;
  }
  if (refuse) {
    ++refused_signatures_;
    return;
  }
  Vote vote;
  vote.type = type;
  vote.height = height_;
  vote.round = round_;
  vote.block_hash = block_hash;
  vote.sign(chain_id_, *signer_);
  own_votes_.push_back(vote);
  mark_dirty();
  output_.messages.push_back(vote);
  handle_vote(vote);
}

void Replica::schedule(TimeoutKind kind, uint32_t round, uint64_t delay_ms) {
  output_.timeouts.push_back(TimeoutRequest{kind, height_, round, delay_ms});
}

void Replica::rebroadcast() {
  output_.messages.push_back(StatusMessage{height_, round_});
  for (const Vote& vote : own_votes_) {
    if (vote.round + 1 >= round_)
      output_.messages.push_back(vote);
  }
  auto current = rounds_.find(round_);
  if (current != rounds_.end() && current->second.proposal) {
    const Proposal& proposal = *current->second.proposal;
    // A validator that voted for the block has it: when all have, resending the whole block
    // (every transaction in it) helps no one. A restarted validator that lost it gets it from
    // the next round's re-proposal.
    if (!every_validator_voted_for(current->second, proposal.block.hash()))
      output_.messages.push_back(proposal);
    // A re-proposal is accepted only with the prevotes of its proof-of-lock round; whoever
    // holds them passes them on (a restarted proposer keeps its lock but not others' votes).
    if (proposal.proof_of_lock_round != kNoRound) {
      relay_prevotes_for(proposal.proof_of_lock_round, proposal.block.hash());
    }
  }
  // The paper's gossip relays what correct processes received, not only what they sent: the
  // prevotes behind our lock and our valid block let others accept a re-proposal (line 28).
  if (locked_round_ != kNoRound)
    relay_prevotes_for(locked_round_, locked_block_hash_);
  if (valid_round_ != kNoRound && valid_block_ && valid_round_ != locked_round_) {
    relay_prevotes_for(valid_round_, valid_block_->hash());
  }
}

bool Replica::every_validator_voted_for(const RoundState& state, const Hash256& block_hash) const {
  for (size_t index = 0; index < validators().size(); ++index) {
    if (!state.prevotes.by_block.contains({block_hash, index}) &&
        !state.precommits.by_block.contains({block_hash, index})) {
      return false;
    }
  }
  return true;
}

void Replica::relay_prevotes_for(uint32_t round, const Hash256& block_hash) {
  auto state = rounds_.find(round);
  if (state == rounds_.end())
    return;
  const auto& by_block = state->second.prevotes.by_block;
  for (auto vote = by_block.lower_bound({block_hash, 0});
       vote != by_block.end() && vote->first.first == block_hash; ++vote) {
    output_.messages.push_back(vote->second);
  }
}

ReplicaPersistentState Replica::persistent_state() const {
  ReplicaPersistentState state;
  state.height = height_;
  state.round = round_;
  state.step = step_;
  state.locked_round = locked_round_;
  state.locked_block_hash = locked_block_hash_;
  state.valid_round = valid_round_;
  state.valid_block = valid_block_;
  state.own_votes = own_votes_;
  state.own_proposal = own_proposal_;
  return state;
}

// --- Rules -----------------------------------------------------------------------------------

void Replica::run_rules() {
  if (!schedule_)
    return;
  for (int iteration = 0; !decided_; ++iteration) {
    TALLY_ASSERT_MSG(iteration < 1'000'000, "consensus rules did not settle");
    bool fired = rule_decide() || rule_round_skip() || rule_proposal_in_propose_step() ||
                 rule_prevote_timeout() || rule_polka_for_block() || rule_polka_for_nil() ||
                 rule_precommit_timeout();
    if (!fired)
      break;
  }
}

// Lines 22-33: the round's proposal, while in the propose step.
bool Replica::rule_proposal_in_propose_step() {
  if (step_ != Step::propose)
    return false;
  auto current = rounds_.find(round_);
  if (current == rounds_.end() || !current->second.proposal)
    return false;
  const Proposal& proposal = *current->second.proposal;
  Hash256 block_hash = proposal.block.hash();
  Validity validity = validity_of(block_hash);
  if (validity == Validity::pending)
    return false;
  bool valid = validity == Validity::valid;

  bool vote_for_block = false;
  if (proposal.proof_of_lock_round == kNoRound) {  // line 22
    vote_for_block = valid && (locked_round_ == kNoRound || locked_block_hash_ == block_hash);
  } else {  // line 28: needs +2/3 prevotes for the block in the proof-of-lock round
    auto lock_round = rounds_.find(proposal.proof_of_lock_round);
    if (lock_round == rounds_.end())
      return false;
    const auto& power = lock_round->second.prevotes.power_by_block;
    auto for_block = power.find(block_hash);
    if (for_block == power.end() || !validators().is_more_than_two_thirds(for_block->second)) {
      return false;
    }
    vote_for_block =
        valid && (as_signed(locked_round_) <= as_signed(proposal.proof_of_lock_round) ||
                  locked_block_hash_ == block_hash);
  }
  broadcast_vote(VoteType::prevote, vote_for_block ? block_hash : Hash256{});
  step_ = Step::prevote;
  mark_dirty();
  return true;
}

// Line 34: +2/3 prevotes of any kind start the prevote timeout.
bool Replica::rule_prevote_timeout() {
  if (step_ != Step::prevote)
    return false;
  RoundState& state = round_state(round_);
  if (state.prevote_timeout_scheduled ||
      !validators().is_more_than_two_thirds(state.prevotes.power)) {
    return false;
  }
  state.prevote_timeout_scheduled = true;
  schedule(TimeoutKind::prevote, round_, timeouts_.prevote(round_));
  return true;
}

// Line 36: +2/3 prevotes for the valid proposal: lock and precommit it, remember it as valid.
bool Replica::rule_polka_for_block() {
  if (step_ == Step::propose)
    return false;
  RoundState& state = round_state(round_);
  if (state.polka_handled || !state.proposal)
    return false;
  Hash256 block_hash = state.proposal->block.hash();
  auto power = state.prevotes.power_by_block.find(block_hash);
  if (power == state.prevotes.power_by_block.end() ||
      !validators().is_more_than_two_thirds(power->second)) {
    return false;
  }
  if (validity_of(block_hash) != Validity::valid)
    return false;
  state.polka_handled = true;
  if (step_ == Step::prevote) {
    locked_block_hash_ = block_hash;
    locked_round_ = round_;
    broadcast_vote(VoteType::precommit, block_hash);
    step_ = Step::precommit;
  }
  valid_block_ = state.proposal->block;
  valid_round_ = round_;
  mark_dirty();
  return true;
}

// Line 44: +2/3 prevotes for nil.
bool Replica::rule_polka_for_nil() {
  if (step_ != Step::prevote)
    return false;
  const auto& power = round_state(round_).prevotes.power_by_block;
  auto for_nil = power.find(Hash256{});
  if (for_nil == power.end() || !validators().is_more_than_two_thirds(for_nil->second)) {
    return false;
  }
  broadcast_vote(VoteType::precommit, Hash256{});
  step_ = Step::precommit;
  mark_dirty();
  return true;
}

// Line 47: +2/3 precommits of any kind start the precommit timeout.
bool Replica::rule_precommit_timeout() {
  RoundState& state = round_state(round_);
  if (state.precommit_timeout_scheduled ||
      !validators().is_more_than_two_thirds(state.precommits.power)) {
    return false;
  }
  state.precommit_timeout_scheduled = true;
  schedule(TimeoutKind::precommit, round_, timeouts_.precommit(round_));
  return true;
}

// Line 49: +2/3 precommits for a valid block in any round decide it.
bool Replica::rule_decide() {
  for (auto& [round, state] : rounds_) {
    for (const auto& [block_hash, power] : state.precommits.power_by_block) {
      if (block_hash.is_zero() || !validators().is_more_than_two_thirds(power))
        continue;
      auto block = blocks_.find(block_hash);
      if (block == blocks_.end())
        continue;  // gossip or catch-up will bring it
      if (validity_of(block_hash) != Validity::valid)
        continue;
      decide(block->second.block, round);
      return true;
    }
  }
  return false;
}

void Replica::decide(const Block& block, uint32_t round) {
  Commit commit;
  commit.height = height_;
  commit.round = round;
  commit.block_hash = block.hash();
  // Entries for one block are ordered by validator index, which follows address order, so the
  // signatures come out canonically sorted.
  const auto& by_block = rounds_.at(round).precommits.by_block;
  for (auto vote = by_block.lower_bound({commit.block_hash, 0});
       vote != by_block.end() && vote->first.first == commit.block_hash; ++vote) {
    commit.signatures.push_back(CommitSignature{vote->second.validator, vote->second.signature});
  }
  output_.decision = DecidedBlock{block, std::move(commit)};
  decided_ = true;
}

// Line 55: messages from more than 1/3 of the power at a higher round: jump to it.
bool Replica::rule_round_skip() {
  for (auto state = rounds_.rbegin(); state != rounds_.rend(); ++state) {
    if (state->first <= round_)
      break;
    if (validators().is_more_than_one_third(state->second.participant_power)) {
      start_round(state->first);
      return true;
    }
  }
  return false;
}

}  // namespace tally
