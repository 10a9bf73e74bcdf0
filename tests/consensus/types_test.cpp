#include "consensus/types.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "consensus/messages.h"
#include "consensus_fixture.h"

namespace tally {
namespace {

using namespace testing;

TEST(ConsensusTypes, VoteSignatureIsDomainSeparatedAndBindsEveryField) {
  TestValidators validators = make_validators({1, 1, 1, 1});
  Hash256 block_hash = sha256(as_bytes("block"));
  Vote vote = make_vote(validators, 0, VoteType::prevote, 5, 2, block_hash);
  EXPECT_TRUE(vote.verify(kChainId, validators.checker));
  EXPECT_FALSE(vote.verify("tally-other", validators.checker));
  for (int field = 0; field < 4; ++field) {
    Vote altered = vote;
    if (field == 0)
      altered.type = VoteType::precommit;
    if (field == 1)
      altered.height += 1;
    if (field == 2)
      altered.round += 1;
    if (field == 3)
      altered.block_hash = Hash256{};
    EXPECT_FALSE(altered.verify(kChainId, validators.checker)) << "field " << field;
  }
  // A vote can never be replayed as a transaction signature or vice versa: different tags.
  Bytes message = vote.signing_message(kChainId);
  EXPECT_EQ(std::string(message.begin() + 4, message.begin() + 4 + 13), "tally/vote/v1");
}

TEST(ConsensusTypes, HeaderHashCoversEveryField) {
  Block block = make_block(3, Address{}, 1000);
  Hash256 original = block.hash();
  BlockHeader changed = block.header;
  changed.state_root.data[0] ^= 1;
  EXPECT_NE(changed.hash(), original);
  changed = block.header;
  changed.time_ms += 1;
  EXPECT_NE(changed.hash(), original);
  changed = block.header;
  changed.proposer.key.data[31] ^= 1;
  EXPECT_NE(changed.hash(), original);
}

TEST(ConsensusTypes, BlockBodyMustMatchHeader) {
  Block block = make_block(1, Address{}, 1000);
  EXPECT_TRUE(block.check_body_matches_header().ok());
  block.transactions.push_back(signed_transfer(0, address_for(1), 1, 1, 0));
  EXPECT_EQ(block.check_body_matches_header().error().code, "invalid_block");
}

TEST(ConsensusTypes, BodyCheckFromPrecomputedHashesAgreesWithHashingTheTransactions) {
  Block block = make_block(1, Address{}, 1000);
  block.transactions = {signed_transfer(0, address_for(1), 1, 1, 0),
                        signed_transfer(1, address_for(2), 2, 1, 0)};
  std::vector<Hash256> hashes = transaction_hashes(block.transactions);
  ASSERT_EQ(hashes.size(), 2u);
  EXPECT_EQ(hashes[0], block.transactions[0].hash());
  EXPECT_EQ(hashes[1], block.transactions[1].hash());
  block.header.transactions_root = transactions_root(block.transactions);
  EXPECT_TRUE(block.check_body_matches_header(hashes).ok());
  EXPECT_TRUE(block.check_body_matches_header().ok());
  // The root commits to the order of the hashes.
  std::swap(hashes[0], hashes[1]);
  EXPECT_EQ(block.check_body_matches_header(hashes).error().code, "invalid_block");
}

TEST(ConsensusTypes, MessagesRoundTripThroughTheCodec) {
  TestValidators validators = make_validators({1, 1, 1, 1});
  Block block = make_block(2, validators.address(1), 5000);
  block.transactions.push_back(signed_transfer(0, address_for(1), 1, 10, 0));
  block.header.transactions_root = transactions_root(block.transactions);
  Vote first = make_vote(validators, 2, VoteType::precommit, 1, 0, sha256(as_bytes("a")));
  Vote second = make_vote(validators, 2, VoteType::precommit, 1, 0, sha256(as_bytes("b")));
  Commit commit{1, 0, block.hash(), {{first.validator, first.signature}}};

  std::vector<Message> messages = {
      make_proposal(validators, 1, 2, 0, block),
      first,
      StatusMessage{7, 3},
      BlockRequest{9},
      DecidedBlock{block, commit},
      DuplicateVoteEvidence::from_votes(first, second),
      TransactionsMessage{{signed_transfer(0, address_for(1), 1, 10, 0)}},
      SnapshotListRequest{},
      SnapshotList{{1000, 2000}},
      SnapshotManifestRequest{2000},
      SnapshotManifestData{2000, Bytes{1, 2, 3}},
      SnapshotChunkRequest{2000, 7},
      SnapshotChunkData{2000, 7, Bytes(100, 9)},
      TransactionHashesMessage{{sha256(as_bytes("x")), sha256(as_bytes("y"))}},
      TransactionRequest{{sha256(as_bytes("x"))}},
  };
  for (const Message& message : messages) {
    Bytes bytes = encode_message(message);
    Result<Message> decoded = decode_message(bytes, 100);
    ASSERT_TRUE(decoded.ok()) << kind_name(kind_of(message)) << ": " << decoded.error().message;
    EXPECT_EQ(encode_message(*decoded), bytes);
    EXPECT_EQ(kind_of(*decoded), kind_of(message));
  }
}

TEST(ConsensusTypes, DecoderEnforcesBoundsAndCanonicalForm) {
  EXPECT_EQ(decode_message(Bytes{99}, 10).error().code, "unknown_message");
  EXPECT_EQ(decode_message(Bytes{}, 10).error().code, "truncated");
  Bytes status = encode_message(StatusMessage{1, 1});
  status.push_back(0);
  EXPECT_EQ(decode_message(status, 10).error().code, "trailing_bytes");

  TestValidators validators = make_validators({1, 1, 1, 1});
  Block block = make_block(2, validators.address(1), 5000);
  for (int index = 0; index < 3; ++index) {
    block.transactions.push_back(signed_transfer(0, address_for(1), 1, 10, index));
  }
  block.header.transactions_root = transactions_root(block.transactions);
  Bytes proposal = encode_message(make_proposal(validators, 1, 2, 0, block));
  EXPECT_TRUE(decode_message(proposal, 3).ok());
  EXPECT_EQ(decode_message(proposal, 2).error().code, "oversized");

  // Announcements and requests carry at most kMaxTransactionsPerMessage hashes.
  TransactionHashesMessage most{std::vector<Hash256>(kMaxTransactionsPerMessage)};
  EXPECT_TRUE(decode_message(encode_message(most), 10).ok());
  most.hashes.emplace_back();
  EXPECT_EQ(decode_message(encode_message(most), 10).error().code, "oversized");
  EXPECT_EQ(decode_message(encode_message(TransactionRequest{most.hashes}), 10).error().code,
            "oversized");
  Bytes cut = encode_message(TransactionRequest{{sha256(as_bytes("x"))}});
  cut.pop_back();
  EXPECT_EQ(decode_message(cut, 10).error().code, "truncated");

  // Commit signatures out of address order are not canonical.
  Vote low = make_vote(validators, 0, VoteType::precommit, 1, 0, block.hash());
  Vote high = make_vote(validators, 1, VoteType::precommit, 1, 0, block.hash());
  Commit unordered{
      1, 0, block.hash(), {{high.validator, high.signature}, {low.validator, low.signature}}};
  EXPECT_EQ(decode_message(encode_message(DecidedBlock{block, unordered}), 10).error().code,
            "non_canonical");
}

RC_GTEST_PROP(ConsensusTypesProperty, RandomBytesNeverCrashAndDecodeOnlyCanonically,
              (std::vector<uint8_t> bytes)) {
  Result<Message> decoded = decode_message(bytes, 16);
  if (decoded.ok())
    RC_ASSERT(encode_message(*decoded) == bytes);
}

TEST(ConsensusTypes, EvidenceRequiresTwoDifferentSignedVotesOfOneValidatorAndStep) {
  TestValidators validators = make_validators({1, 1, 1, 1});
  Vote first = make_vote(validators, 0, VoteType::prevote, 4, 1, sha256(as_bytes("x")));
  Vote second = make_vote(validators, 0, VoteType::prevote, 4, 1, Hash256{});
  DuplicateVoteEvidence evidence = DuplicateVoteEvidence::from_votes(first, second);
  EXPECT_TRUE(evidence.verify(kChainId, validators.checker).ok());
  EXPECT_LT(evidence.first.block_hash, evidence.second.block_hash);

  DuplicateVoteEvidence other_validator = evidence;
  other_validator.second = make_vote(validators, 1, VoteType::prevote, 4, 1, Hash256{});
  EXPECT_FALSE(other_validator.verify(kChainId, validators.checker).ok());
  DuplicateVoteEvidence other_round = DuplicateVoteEvidence::from_votes(
      first, make_vote(validators, 0, VoteType::prevote, 4, 2, Hash256{}));
  EXPECT_FALSE(other_round.verify(kChainId, validators.checker).ok());
  DuplicateVoteEvidence forged = evidence;
  forged.second.signature.data[0] ^= 1;
  EXPECT_FALSE(forged.verify(kChainId, validators.checker).ok());
  DuplicateVoteEvidence same = DuplicateVoteEvidence::from_votes(first, first);
  EXPECT_FALSE(same.verify(kChainId, validators.checker).ok());
}

}  // namespace
}  // namespace tally
