#include "consensus/validator_set.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <map>

#include "consensus_fixture.h"

namespace tally {
namespace {

using namespace testing;

TEST(ValidatorSet, ThresholdsAreStrictAndInteger) {
  TestValidators validators = make_validators({1, 1, 1});   // total 3
  EXPECT_FALSE(validators.set.is_more_than_two_thirds(2));  // exactly 2/3 is not enough
  EXPECT_TRUE(validators.set.is_more_than_two_thirds(3));
  EXPECT_FALSE(validators.set.is_more_than_one_third(1));  // exactly 1/3 is not enough
  EXPECT_TRUE(validators.set.is_more_than_one_third(2));

  TestValidators four = make_validators({1, 1, 1, 1});  // total 4: 3 > 8/3, 2 > 4/3
  EXPECT_FALSE(four.set.is_more_than_two_thirds(2));
  EXPECT_TRUE(four.set.is_more_than_two_thirds(3));
  EXPECT_TRUE(four.set.is_more_than_one_third(2));
  EXPECT_FALSE(four.set.is_more_than_one_third(1));
}

TEST(ValidatorSet, RejectsBadSets) {
  EXPECT_FALSE(ValidatorSet::create({}).ok());
  Address address = address_for(1);
  EXPECT_FALSE(ValidatorSet::create({{address, 1}, {address, 2}}).ok());
  EXPECT_FALSE(ValidatorSet::create({{address, 0}}).ok());
  EXPECT_FALSE(ValidatorSet::create({{address, uint64_t{1} << 60}}).ok());
}

TEST(ValidatorSet, HashDependsOnMembersAndPowerNotOrder) {
  ValidatorSet one = ValidatorSet::create({{address_for(1), 1}, {address_for(2), 2}}).value();
  ValidatorSet same = ValidatorSet::create({{address_for(2), 2}, {address_for(1), 1}}).value();
  ValidatorSet other = ValidatorSet::create({{address_for(1), 1}, {address_for(2), 3}}).value();
  EXPECT_EQ(one.hash(), same.hash());
  EXPECT_NE(one.hash(), other.hash());
}

TEST(ProposerSchedule, EqualPowerRotatesInAddressOrder) {
  TestValidators validators = make_validators({1, 1, 1, 1});
  ProposerSchedule schedule(validators.set);
  for (uint64_t height = 1; height <= 8; ++height) {
    EXPECT_EQ(schedule.proposer_index(height, 0), (height - 1) % 4);
  }
  // Round r at height h is step h - 1 + r of the sequence.
  EXPECT_EQ(schedule.proposer_index(3, 1), 3u);
  EXPECT_EQ(schedule.proposer_index(3, 2), 0u);
}

TEST(ProposerSchedule, WorkedExampleWithUnequalPower) {
  // Powers 3, 1 (total 4), by hand:
  //   step 1: priorities (3, 1)  -> index 0 proposes -> (-1, 1)
  //   step 2: (2, 2)             -> tie, lower index 0 -> (-2, 2)
  //   step 3: (1, 3)             -> index 1 -> (1, -1)
  //   step 4: (4, 0)             -> index 0 -> (0, 0): back to the start
  ValidatorSet set = ValidatorSet::create({{address_for(1), 3}, {address_for(2), 1}}).value();
  size_t heavy = set.at(0).power == 3 ? 0 : 1;
  ProposerSchedule schedule(set);
  std::vector<size_t> expected = {heavy, heavy, 1 - heavy, heavy};
  for (uint64_t height = 1; height <= 8; ++height) {
    EXPECT_EQ(schedule.proposer_index(height, 0), expected[(height - 1) % 4]) << height;
  }
}

RC_GTEST_PROP(ProposerScheduleProperty, EachValidatorProposesInProportionToPower, ()) {
  auto powers = *rc::gen::container<std::vector<uint64_t>>(*rc::gen::inRange<size_t>(1, 8),
                                                           rc::gen::inRange<uint64_t>(1, 20));
  std::vector<Validator> members;
  uint64_t total = 0;
  for (uint32_t index = 0; index < powers.size(); ++index) {
    members.push_back({address_for(index), powers[index]});
    total += powers[index];
  }
  ValidatorSet set = ValidatorSet::create(members).value();
  ProposerSchedule schedule(set);
  std::map<size_t, uint64_t> counts;
  // Any window of total_power consecutive steps, starting anywhere.
  uint64_t start = *rc::gen::inRange<uint64_t>(1, 50);
  for (uint64_t step = 0; step < total; ++step)
    counts[schedule.proposer_index(start + step, 0)]++;
  for (size_t index = 0; index < set.size(); ++index)
    RC_ASSERT(counts[index] == set.at(index).power);
  // Deterministic and a pure function of (height, round): a fresh schedule agrees.
  ProposerSchedule fresh(set);
  uint64_t height = *rc::gen::inRange<uint64_t>(1, 100);
  uint32_t round = *rc::gen::inRange<uint32_t>(0, 10);
  RC_ASSERT(fresh.proposer_index(height, round) == schedule.proposer_index(height, round));
  RC_ASSERT(schedule.proposer_index(height, round) == schedule.proposer_index(height + round, 0));
}

class VerifyCommitTest : public ::testing::Test {
 protected:
  VerifyCommitTest() : validators_(make_validators({1, 1, 1, 1})) {
    block_ = make_block(7, validators_.address(0), 1000);
  }
  Commit commit_signed_by(std::vector<size_t> indices) {
    Commit commit{7, 0, block_.hash(), {}};
    for (size_t index : indices) {
      Vote vote = make_vote(validators_, index, VoteType::precommit, 7, 0, block_.hash());
      commit.signatures.push_back({vote.validator, vote.signature});
    }
    return commit;
  }
  TestValidators validators_;
  Block block_;
};

TEST_F(VerifyCommitTest, AcceptsMoreThanTwoThirds) {
  EXPECT_TRUE(verify_commit(validators_.set, block_.header, commit_signed_by({0, 1, 2}),
                            validators_.checker)
                  .ok());
}

TEST_F(VerifyCommitTest, RejectsExactlyTwoThirdsOrLess) {
  Status status =
      verify_commit(validators_.set, block_.header, commit_signed_by({0, 1}), validators_.checker);
  ASSERT_FALSE(status.ok());
  EXPECT_NE(status.error().message.find("more than 2/3"), std::string::npos);
}

TEST_F(VerifyCommitTest, RejectsDuplicatesForgeriesStrangersAndOtherBlocks) {
  Commit duplicate = commit_signed_by({0, 1, 1});
  EXPECT_FALSE(verify_commit(validators_.set, block_.header, duplicate, validators_.checker).ok());
  Commit forged = commit_signed_by({0, 1, 2});
  forged.signatures[2].signature.data[5] ^= 1;
  EXPECT_FALSE(verify_commit(validators_.set, block_.header, forged, validators_.checker).ok());
  Commit stranger = commit_signed_by({0, 1, 2});
  stranger.signatures[0].validator = address_for(999);
  EXPECT_FALSE(verify_commit(validators_.set, block_.header, stranger, validators_.checker).ok());
  BlockHeader other = block_.header;
  other.time_ms += 1;
  EXPECT_FALSE(
      verify_commit(validators_.set, other, commit_signed_by({0, 1, 2}), validators_.checker).ok());
}

}  // namespace
}  // namespace tally
