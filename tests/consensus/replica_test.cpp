// The replica driven one message at a time, one test per rule of the algorithm (line numbers
// refer to Algorithm 1 of Buchman, Kwon, Milosevic 2018).

#include "consensus/replica.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <set>

#include "consensus_fixture.h"

namespace tally {
namespace {

using namespace testing;

class ReplicaTest : public ::testing::Test {
 protected:
  ReplicaTest() : validators_(make_validators({1, 1, 1, 1})) {}

  // The replica under test is validator `self`; at height 1 the proposer of round r is r % 4.
  void start(size_t self, uint64_t height = 1,
             std::optional<ReplicaPersistentState> restored = std::nullopt,
             bool validating = true) {
    self_ = self;
    replica_ = std::make_unique<Replica>(
        kChainId, timeouts_, validating ? &validators_.signer(self) : nullptr, validators_.checker);
    replica_->start_height(height, validators_.set, std::move(restored));
    collect();
  }

  // Moves the replica's output into the running record, answering nothing.
  ReplicaOutput collect() {
    ReplicaOutput out = replica_->take_output();
    for (const ConsensusMessage& message : out.messages) {
      if (const auto* vote = std::get_if<Vote>(&message))
        sent_votes_.push_back(*vote);
      if (const auto* proposal = std::get_if<Proposal>(&message))
        sent_proposals_.push_back(*proposal);
    }
    for (const ValidationRequest& request : out.validation_requests) {
      // The hashes come with the block, computed from it.
      EXPECT_EQ(request.transaction_hashes, transaction_hashes(request.block.transactions));
      validation_requests_.push_back(request.block.hash());
    }
    for (const TimeoutRequest& timeout : out.timeouts)
      timeouts_seen_.push_back(timeout);
    if (out.persistent_state)
      last_persisted_ = out.persistent_state;
    if (out.decision)
      decision_ = out.decision;
    for (auto& evidence : out.evidence)
      evidence_.push_back(evidence);
    if (out.build_request)
      build_request_ = out.build_request;
    return out;
  }

  Block block_named(const std::string& name, uint64_t height = 1) {
    // Different times make different blocks.
    return make_block(height, validators_.address(0), 1000 + std::hash<std::string>()(name) % 1000);
  }

  void deliver(const Proposal& proposal, std::optional<bool> valid = true) {
    replica_->on_proposal(proposal);
    collect();
    if (valid)
      validate(proposal.block.hash(), *valid);
  }
  void validate(const Hash256& block_hash, bool valid) {
    replica_->on_block_validated(block_hash, valid);
    collect();
  }
  void deliver_votes(std::vector<size_t> from, VoteType type, uint32_t round, const Hash256& hash,
                     uint64_t height = 1) {
    for (size_t index : from) {
      replica_->on_vote(make_vote(validators_, index, type, height, round, hash));
      collect();
    }
  }
  void fire(TimeoutKind kind, uint32_t round, uint64_t height = 1) {
    replica_->on_timeout(TimeoutRequest{kind, height, round, 0});
    collect();
  }

  // The vote this replica sent for (type, round), if any.
  std::optional<Vote> sent(VoteType type, uint32_t round) const {
    std::optional<Vote> found;
    for (const Vote& vote : sent_votes_) {
      if (vote.type == type && vote.round == round) {
        EXPECT_TRUE(!found || found->block_hash == vote.block_hash) << "conflicting votes sent";
        found = vote;
      }
    }
    return found;
  }

  TestValidators validators_;
  ConsensusTimeouts timeouts_;
  size_t self_ = 0;
  std::unique_ptr<Replica> replica_;
  std::vector<Vote> sent_votes_;
  std::vector<Proposal> sent_proposals_;
  std::vector<Hash256> validation_requests_;
  std::vector<TimeoutRequest> timeouts_seen_;
  std::optional<ReplicaPersistentState> last_persisted_;
  std::optional<DecidedBlock> decision_;
  std::vector<DuplicateVoteEvidence> evidence_;
  std::optional<BuildRequest> build_request_;
};

TEST_F(ReplicaTest, ProposerAsksForABlockThenProposesAndPrevotesIt) {  // lines 11-19, 22
  start(0);
  ASSERT_TRUE(build_request_.has_value());
  EXPECT_EQ(*build_request_, (BuildRequest{1, 0}));
  Block block = make_block(1, validators_.address(0), 1000);
  replica_->on_block_built(1, 0, block);
  collect();
  ASSERT_EQ(sent_proposals_.size(), 1u);
  EXPECT_TRUE(sent_proposals_[0].verify(kChainId, validators_.checker, validators_.address(0)));
  EXPECT_EQ(sent_proposals_[0].proof_of_lock_round, kNoRound);
  ASSERT_EQ(validation_requests_.size(), 1u);
  EXPECT_FALSE(sent(VoteType::prevote, 0)) << "no prevote before the block is validated";
  validate(block.hash(), true);
  ASSERT_TRUE(sent(VoteType::prevote, 0));
  EXPECT_EQ(sent(VoteType::prevote, 0)->block_hash, block.hash());
}

TEST_F(ReplicaTest, PrevotesAValidProposal) {  // line 22
  start(1);
  EXPECT_FALSE(build_request_.has_value());
  Block block = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, block));
  EXPECT_EQ(sent(VoteType::prevote, 0)->block_hash, block.hash());
  EXPECT_EQ(replica_->step(), Step::prevote);
}

TEST_F(ReplicaTest, PrevotesNilForAnInvalidProposal) {  // line 22, valid(v) false
  start(1);
  deliver(make_proposal(validators_, 0, 1, 0, block_named("A")), false);
  EXPECT_TRUE(sent(VoteType::prevote, 0)->is_nil());
}

TEST_F(ReplicaTest, PrevotesNilOnProposeTimeoutAndIgnoresALateProposal) {  // line 57
  start(1);
  fire(TimeoutKind::propose, 0);
  EXPECT_TRUE(sent(VoteType::prevote, 0)->is_nil());
  deliver(make_proposal(validators_, 0, 1, 0, block_named("A")));
  EXPECT_TRUE(sent(VoteType::prevote, 0)->is_nil());
}

TEST_F(ReplicaTest, IgnoresProposalsFromTheWrongProposerOrWithBadSignatures) {
  start(1);
  deliver(make_proposal(validators_, 2, 1, 0, block_named("A")), std::nullopt);
  Proposal forged = make_proposal(validators_, 0, 1, 0, block_named("B"));
  forged.signature.data[3] ^= 1;
  deliver(forged, std::nullopt);
  EXPECT_TRUE(validation_requests_.empty());
  EXPECT_FALSE(sent(VoteType::prevote, 0));
}

TEST_F(ReplicaTest, LocksAndPrecommitsOnTwoThirdsPrevotes) {  // line 36
  start(1);
  Block block = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, block));
  deliver_votes({0}, VoteType::prevote, 0, block.hash());
  EXPECT_FALSE(sent(VoteType::precommit, 0)) << "2 of 4 is not more than 2/3";
  deliver_votes({2}, VoteType::prevote, 0, block.hash());
  ASSERT_TRUE(sent(VoteType::precommit, 0));
  EXPECT_EQ(sent(VoteType::precommit, 0)->block_hash, block.hash());
  EXPECT_EQ(replica_->locked_round(), 0u);
  EXPECT_EQ(replica_->locked_block_hash(), block.hash());
  ASSERT_TRUE(last_persisted_.has_value());
  EXPECT_EQ(last_persisted_->locked_round, 0u);
}

TEST(ReplicaSevenValidators, LatePolkaAfterNilPrecommitKeepsTheLockButRecordsTheValidBlock) {
  TestValidators validators = make_validators({1, 1, 1, 1, 1, 1, 1});  // 2/3 needs 5 of 7
  ConsensusTimeouts timeouts;
  Replica replica(kChainId, timeouts, &validators.signer(1), validators.checker);
  replica.start_height(1, validators.set);
  Block block = make_block(1, validators.address(0), 1000);
  replica.on_proposal(make_proposal(validators, 0, 1, 0, block));
  replica.on_block_validated(block.hash(), true);  // the replica prevotes A
  for (size_t index : {2, 3, 4, 5}) {              // 5 of 7 prevotes, but split: 2 for A, 2 for nil
    Hash256 hash = index < 4 ? block.hash() : Hash256{};
    replica.on_vote(make_vote(validators, index, VoteType::prevote, 1, 0, hash));
  }
  replica.on_timeout(TimeoutRequest{TimeoutKind::prevote, 1, 0, 0});  // precommit nil
  ASSERT_EQ(replica.step(), Step::precommit);
  replica.on_vote(make_vote(validators, 6, VoteType::prevote, 1, 0, block.hash()));
  // Now A has 1 + 2 + 1 = 4 of 7; one more makes the polka, after the nil precommit.
  replica.on_vote(make_vote(validators, 0, VoteType::prevote, 1, 0, block.hash()));
  ReplicaOutput out = replica.take_output();
  EXPECT_EQ(replica.locked_round(), kNoRound)
      << "a polka seen after precommitting nil locks nothing";
  ASSERT_TRUE(out.persistent_state.has_value());
  EXPECT_EQ(out.persistent_state->valid_round, 0u);
  ASSERT_TRUE(out.persistent_state->valid_block.has_value());
  EXPECT_EQ(out.persistent_state->valid_block->hash(), block.hash());
  EXPECT_EQ(replica.refused_signatures(), 0u);
}

TEST_F(ReplicaTest, PrecommitsNilOnTwoThirdsNilPrevotes) {  // line 44
  start(1);
  fire(TimeoutKind::propose, 0);
  deliver_votes({0, 2}, VoteType::prevote, 0, Hash256{});
  EXPECT_TRUE(sent(VoteType::precommit, 0)->is_nil());
  EXPECT_EQ(replica_->locked_round(), kNoRound);
}

TEST_F(ReplicaTest, PrevoteTimeoutStartsOnAnyTwoThirdsAndLeadsToNilPrecommit) {  // 34, 61
  start(1);
  Block block = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, block));
  deliver_votes({0}, VoteType::prevote, 0, Hash256{});
  deliver_votes({2}, VoteType::prevote, 0, sha256(as_bytes("other")));
  bool scheduled = false;
  for (const TimeoutRequest& timeout : timeouts_seen_) {
    scheduled = scheduled || (timeout.kind == TimeoutKind::prevote && timeout.round == 0);
  }
  EXPECT_TRUE(scheduled);
  fire(TimeoutKind::prevote, 0);
  EXPECT_TRUE(sent(VoteType::precommit, 0)->is_nil());
}

TEST_F(ReplicaTest, PrecommitTimeoutMovesToTheNextRoundWithLongerTimeouts) {  // 47, 65
  start(1);
  fire(TimeoutKind::propose, 0);
  deliver_votes({0, 2, 3}, VoteType::precommit, 0, Hash256{});
  fire(TimeoutKind::precommit, 0);
  EXPECT_EQ(replica_->round(), 1u);
  EXPECT_EQ(replica_->step(), Step::propose);
  // Validator 1 proposes round 1.
  EXPECT_EQ(*build_request_, (BuildRequest{1, 1}));
  EXPECT_GT(timeouts_.propose(1), timeouts_.propose(0));
  EXPECT_EQ(timeouts_seen_.back().delay_ms, timeouts_.propose(1));
}

TEST_F(ReplicaTest, DecidesOnTwoThirdsPrecommitsWithACanonicalCommit) {  // line 49
  start(1);
  Block block = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, block));
  deliver_votes({3, 0}, VoteType::precommit, 0, block.hash());
  EXPECT_FALSE(decision_.has_value());
  deliver_votes({2}, VoteType::precommit, 0, block.hash());
  ASSERT_TRUE(decision_.has_value());
  EXPECT_EQ(decision_->block, block);
  EXPECT_TRUE(
      verify_commit(validators_.set, block.header, decision_->commit, validators_.checker).ok());
  EXPECT_TRUE(replica_->decided());
}

TEST_F(ReplicaTest, DecidesABlockPrecommittedInAnEarlierRound) {  // line 49 for any round
  start(1);
  Block block = block_named("A");
  deliver_votes({0, 2}, VoteType::prevote, 1, Hash256{});  // f+1 at round 1: skip to it
  EXPECT_EQ(replica_->round(), 1u);
  deliver(make_proposal(validators_, 0, 1, 0, block));
  deliver_votes({0, 2, 3}, VoteType::precommit, 0, block.hash());
  ASSERT_TRUE(decision_.has_value());
  EXPECT_EQ(decision_->commit.round, 0u);
}

TEST_F(ReplicaTest, DoesNotDecideWithoutTheBlockOrWithAnInvalidOne) {
  start(1);
  Block block = block_named("A");
  deliver_votes({0, 2, 3}, VoteType::precommit, 0, block.hash());
  EXPECT_FALSE(decision_.has_value()) << "the block itself has not arrived";
  deliver(make_proposal(validators_, 0, 1, 0, block), false);
  EXPECT_FALSE(decision_.has_value()) << "an invalid block is never decided";
}

TEST_F(ReplicaTest, SkipsToAHigherRoundOnMoreThanOneThird) {  // line 55
  start(1);
  deliver_votes({2}, VoteType::prevote, 5, Hash256{});
  EXPECT_EQ(replica_->round(), 0u) << "1 of 4 is not more than 1/3";
  deliver_votes({3}, VoteType::precommit, 5, Hash256{});
  EXPECT_EQ(replica_->round(), 5u);
}

TEST_F(ReplicaTest, LockedReplicaPrevotesNilForAnotherBlockWithoutProofOfLock) {  // line 22 lock
  start(3);
  Block a = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, a));
  deliver_votes({0, 1}, VoteType::prevote, 0, a.hash());
  ASSERT_EQ(replica_->locked_block_hash(), a.hash());
  deliver_votes({0, 2}, VoteType::prevote, 2, Hash256{});  // skip to round 2 (proposer 2)
  ASSERT_EQ(replica_->round(), 2u);
  Block b = block_named("B");
  deliver(make_proposal(validators_, 2, 1, 2, b));
  EXPECT_TRUE(sent(VoteType::prevote, 2)->is_nil());
}

TEST_F(ReplicaTest, LockedReplicaPrevotesItsLockedBlockWhenProposedAgain) {
  start(3);
  Block a = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, a));
  deliver_votes({0, 1}, VoteType::prevote, 0, a.hash());
  deliver_votes({0, 2}, VoteType::prevote, 2, Hash256{});
  deliver(make_proposal(validators_, 2, 1, 2, a, /*proof_of_lock_round=*/0));
  EXPECT_EQ(sent(VoteType::prevote, 2)->block_hash, a.hash());
}

TEST_F(ReplicaTest, UnlocksOnAProofOfLockFromALaterRound) {  // line 28, lockedRound <= vr
  start(3);
  Block a = block_named("A");
  Block b = block_named("B");
  deliver(make_proposal(validators_, 0, 1, 0, a));
  deliver_votes({0, 1}, VoteType::prevote, 0, a.hash());
  ASSERT_EQ(replica_->locked_round(), 0u);
  deliver_votes({0, 1, 2}, VoteType::prevote, 1, b.hash());  // a polka for B in round 1
  deliver_votes({0, 2}, VoteType::precommit, 2, Hash256{});  // reach round 2
  ASSERT_EQ(replica_->round(), 2u);
  deliver(make_proposal(validators_, 2, 1, 2, b, /*proof_of_lock_round=*/1));
  EXPECT_EQ(sent(VoteType::prevote, 2)->block_hash, b.hash());
}

TEST_F(ReplicaTest, KeepsALaterLockAgainstAnOlderProofOfLock) {  // line 28, lockedRound > vr
  start(3);
  Block a = block_named("A");
  Block b = block_named("B");
  fire(TimeoutKind::propose, 0);                             // prevote nil in round 0
  deliver_votes({0, 1, 2}, VoteType::prevote, 0, b.hash());  // a polka for B in round 0
  deliver_votes({0, 1, 2}, VoteType::precommit, 0, Hash256{});
  fire(TimeoutKind::precommit, 0);
  ASSERT_EQ(replica_->round(), 1u);
  deliver(make_proposal(validators_, 1, 1, 1, a));
  deliver_votes({0, 1}, VoteType::prevote, 1, a.hash());
  ASSERT_EQ(replica_->locked_round(), 1u);
  deliver_votes({0, 2}, VoteType::prevote, 2, Hash256{});
  ASSERT_EQ(replica_->round(), 2u);
  deliver(make_proposal(validators_, 2, 1, 2, b, /*proof_of_lock_round=*/0));
  EXPECT_TRUE(sent(VoteType::prevote, 2)->is_nil());
}

TEST_F(ReplicaTest, WaitsForTheProofOfLockPrevotes) {  // line 28 needs 2f+1 prevotes in vr
  start(3);
  Block b = block_named("B");
  deliver_votes({0, 2}, VoteType::precommit, 2, Hash256{});
  deliver(make_proposal(validators_, 2, 1, 2, b, /*proof_of_lock_round=*/1));
  EXPECT_FALSE(sent(VoteType::prevote, 2)) << "no polka for B in round 1 yet";
  deliver_votes({0, 1, 2}, VoteType::prevote, 1, b.hash());
  EXPECT_EQ(sent(VoteType::prevote, 2)->block_hash, b.hash());
}

TEST_F(ReplicaTest, ProposerReproposesItsValidBlockWithProofOfLockRound) {  // lines 14-15
  start(1);
  Block a = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, a));
  deliver_votes({0, 2}, VoteType::prevote, 0, a.hash());  // lock and valid = A at round 0
  deliver_votes({0, 2, 3}, VoteType::precommit, 0, Hash256{});
  fire(TimeoutKind::precommit, 0);
  ASSERT_EQ(replica_->round(), 1u);  // validator 1 proposes round 1
  ASSERT_EQ(sent_proposals_.size(), 1u);
  EXPECT_EQ(sent_proposals_[0].block, a);
  EXPECT_EQ(sent_proposals_[0].proof_of_lock_round, 0u);
  EXPECT_EQ(sent(VoteType::prevote, 1)->block_hash, a.hash());
}

TEST_F(ReplicaTest, ReportsDoubleVotesAsEvidence) {
  start(1);
  Vote first = make_vote(validators_, 2, VoteType::prevote, 1, 0, sha256(as_bytes("x")));
  Vote second = make_vote(validators_, 2, VoteType::prevote, 1, 0, Hash256{});
  replica_->on_vote(first);
  replica_->on_vote(second);
  collect();
  ASSERT_EQ(evidence_.size(), 1u);
  EXPECT_EQ(evidence_[0], DuplicateVoteEvidence::from_votes(first, second));
  EXPECT_TRUE(evidence_[0].verify(kChainId, validators_.checker).ok());
}

TEST_F(ReplicaTest, AnEquivocatorCountsOnceForEachBlockNeverTwiceForOne) {
  // Validator 2 prevotes nil, then A. A polka for A then needs validators 0 and 3 as well:
  // 2's vote for A counts (another honest node may have seen only that one), once.
  start(1);
  Block a = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, a));  // the replica prevotes A
  deliver_votes({2}, VoteType::prevote, 0, Hash256{});
  deliver_votes({2}, VoteType::prevote, 0, a.hash());
  deliver_votes({2}, VoteType::prevote, 0, a.hash());  // repeated: no double count
  EXPECT_FALSE(sent(VoteType::precommit, 0)) << "1 + 1 of 4 is not a polka";
  EXPECT_EQ(replica_->step(), Step::prevote) << "the nil vote still counts as participation";
  deliver_votes({3}, VoteType::prevote, 0, a.hash());
  EXPECT_EQ(sent(VoteType::precommit, 0)->block_hash, a.hash());
}

TEST_F(ReplicaTest, GossipRelaysThePrevotesBehindTheLock) {
  start(3);
  Block a = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, a));
  deliver_votes({0, 1}, VoteType::prevote, 0, a.hash());
  ASSERT_EQ(replica_->locked_round(), 0u);
  deliver_votes({0, 2}, VoteType::precommit, 1, Hash256{});  // move on to round 1
  ASSERT_EQ(replica_->round(), 1u);
  replica_->on_timeout(TimeoutRequest{TimeoutKind::gossip, 1, 1, 0});
  ReplicaOutput out = collect();
  std::set<Address> relayed;
  for (const ConsensusMessage& message : out.messages) {
    if (const auto* vote = std::get_if<Vote>(&message)) {
      if (vote->round == 0 && vote->type == VoteType::prevote && vote->block_hash == a.hash()) {
        relayed.insert(vote->validator);
      }
    }
  }
  EXPECT_EQ(relayed.size(), 3u) << "the three prevotes of the proof of lock, not just our own";
}

TEST_F(ReplicaTest, RestartResendsWhatWasSignedAndRefusesToContradictIt) {
  start(1);
  Block a = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, a));
  ASSERT_TRUE(last_persisted_.has_value());
  ASSERT_EQ(last_persisted_->own_votes.size(), 1u);

  // Simulate a crash that lost the step but not the signature: the guard must hold anyway.
  ReplicaPersistentState persisted = *last_persisted_;
  persisted.step = Step::propose;
  sent_votes_.clear();
  start(1, 1, persisted);
  ASSERT_EQ(sent_votes_.size(), 1u) << "the signed prevote is sent again after the restart";
  EXPECT_EQ(sent_votes_[0].block_hash, a.hash());
  fire(TimeoutKind::propose, 0);  // would prevote nil: a double sign
  EXPECT_EQ(replica_->refused_signatures(), 1u);
  for (const Vote& vote : sent_votes_)
    EXPECT_EQ(vote.block_hash, a.hash());
}

TEST_F(ReplicaTest, PersistentStateRoundTrips) {
  start(1);
  Block a = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, a));
  deliver_votes({0, 2}, VoteType::prevote, 0, a.hash());
  ASSERT_TRUE(last_persisted_.has_value());
  ASSERT_TRUE(last_persisted_->valid_block.has_value());
  Bytes bytes = last_persisted_->encode();
  Result<ReplicaPersistentState> decoded = ReplicaPersistentState::decode(bytes);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(*decoded, *last_persisted_);
  bytes.push_back(0);
  EXPECT_FALSE(ReplicaPersistentState::decode(bytes).ok());
}

TEST_F(ReplicaTest, StateFromAnotherHeightIsNotRestored) {
  ReplicaPersistentState stale;
  stale.height = 1;
  stale.round = 7;
  start(1, 2, stale);
  EXPECT_EQ(replica_->round(), 0u);
}

TEST_F(ReplicaTest, BuffersTheNextHeightsMessagesUntilItStarts) {
  start(1);
  Block next = block_named("N", 2);
  // Height 2, round 0: proposer index (2 - 1 + 0) % 4 = 1 is the replica itself, so use a
  // proposal for round 1 (proposer 2) and precommits for it.
  Proposal proposal = make_proposal(validators_, 2, 2, 1, next);
  replica_->on_proposal(proposal);
  deliver_votes({0, 2, 3}, VoteType::precommit, 1, next.hash(), 2);
  EXPECT_FALSE(decision_.has_value());
  replica_->start_height(2, validators_.set);
  collect();
  ASSERT_EQ(validation_requests_.size(), 1u);
  validate(next.hash(), true);
  ASSERT_TRUE(decision_.has_value());
  EXPECT_EQ(decision_->block.header.height, 2u);
}

TEST_F(ReplicaTest, NonValidatorFollowsWithoutSigning) {
  start(1, 1, std::nullopt, /*validating=*/false);
  Block a = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, a));
  deliver_votes({0, 2, 3}, VoteType::prevote, 0, a.hash());
  deliver_votes({0, 2, 3}, VoteType::precommit, 0, a.hash());
  EXPECT_TRUE(sent_votes_.empty());
  ASSERT_TRUE(decision_.has_value());
}

TEST_F(ReplicaTest, GossipTickResendsStatusOwnVotesAndTheProposal) {
  start(1);
  Block a = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, a));
  sent_votes_.clear();
  replica_->on_timeout(TimeoutRequest{TimeoutKind::gossip, 1, 0, 0});
  ReplicaOutput out = collect();
  bool status = false;
  bool proposal = false;
  for (const ConsensusMessage& message : out.messages) {
    status = status || std::holds_alternative<StatusMessage>(message);
    proposal = proposal || std::holds_alternative<Proposal>(message);
  }
  EXPECT_TRUE(status);
  EXPECT_TRUE(proposal);
  EXPECT_EQ(sent_votes_.size(), 1u);
}

// Whether a gossip tick at (height 1, round 0) resends the proposal.
bool tick_resends_proposal(Replica& replica, const std::function<ReplicaOutput()>& collect) {
  replica.on_timeout(TimeoutRequest{TimeoutKind::gossip, 1, 0, 0});
  ReplicaOutput out = collect();
  return std::any_of(out.messages.begin(), out.messages.end(),
                     [](const ConsensusMessage& m) { return std::holds_alternative<Proposal>(m); });
}

TEST_F(ReplicaTest, GossipTickLeavesOutTheProposalOnceEveryValidatorVotedForIt) {
  start(1);
  Block a = block_named("A");
  deliver(make_proposal(validators_, 0, 1, 0, a));  // the replica prevotes A
  deliver_votes({0, 2}, VoteType::prevote, 0, a.hash());
  auto collect_output = [this] { return collect(); };
  EXPECT_TRUE(tick_resends_proposal(*replica_, collect_output)) << "validator 3 may lack it";
  deliver_votes({3}, VoteType::prevote, 0, Hash256{});
  EXPECT_TRUE(tick_resends_proposal(*replica_, collect_output)) << "a nil vote says nothing";
  deliver_votes({3}, VoteType::precommit, 0, a.hash());
  EXPECT_FALSE(tick_resends_proposal(*replica_, collect_output)) << "all four have the block";
}

}  // namespace
}  // namespace tally
