#pragma once
// Validators with real Ed25519 keys and helpers to sign consensus messages as any of them.

#include <memory>
#include <vector>

#include "../ledger/test_chain.h"
#include "consensus/types.h"
#include "consensus/validator_set.h"

namespace tally::testing {

inline constexpr const char* kChainId = "tally-test";

struct TestValidators {
  std::vector<std::unique_ptr<Ed25519Signer>> signers;  // in validator-set (address) order
  ValidatorSet set;
  Ed25519Checker checker;

  const Signer& signer(size_t index) const { return *signers[index]; }
  const Address& address(size_t index) const { return set.at(index).address; }
};

inline TestValidators make_validators(const std::vector<uint64_t>& powers) {
  std::vector<Validator> validators;
  std::vector<std::unique_ptr<Ed25519Signer>> signers;
  for (uint32_t index = 0; index < powers.size(); ++index) {
    signers.push_back(std::make_unique<Ed25519Signer>(key_for(kValidatorKeyBase + index)));
    validators.push_back({signers.back()->address(), powers[index]});
  }
  ValidatorSet set = ValidatorSet::create(validators).value();
  // Order the signers like the set (by address).
  std::vector<std::unique_ptr<Ed25519Signer>> ordered;
  for (size_t position = 0; position < set.size(); ++position) {
    for (auto& signer : signers) {
      if (signer && signer->address() == set.at(position).address)
        ordered.push_back(std::move(signer));
    }
  }
  return TestValidators{std::move(ordered), std::move(set), {}};
}

inline Vote make_vote(const TestValidators& validators, size_t index, VoteType type,
                      uint64_t height, uint32_t round, const Hash256& block_hash) {
  Vote vote;
  vote.type = type;
  vote.height = height;
  vote.round = round;
  vote.block_hash = block_hash;
  vote.sign(kChainId, validators.signer(index));
  return vote;
}

// A structurally consistent block (roots match the body); ledger validity is the engine's.
inline Block make_block(uint64_t height, const Address& proposer, uint64_t time_ms) {
  Block block;
  block.header.chain_id = kChainId;
  block.header.height = height;
  block.header.time_ms = time_ms;
  block.header.proposer = proposer;
  block.header.transactions_root = transactions_root(block.transactions);
  block.header.last_commit_hash = block.last_commit.hash();
  block.header.evidence_hash = evidence_root(block.evidence);
  return block;
}

inline Proposal make_proposal(const TestValidators& validators, size_t proposer_index,
                              uint64_t height, uint32_t round, const Block& block,
                              uint32_t proof_of_lock_round = kNoRound) {
  Proposal proposal;
  proposal.height = height;
  proposal.round = round;
  proposal.proof_of_lock_round = proof_of_lock_round;
  proposal.block = block;
  proposal.sign(kChainId, validators.signer(proposer_index));
  return proposal;
}

}  // namespace tally::testing
