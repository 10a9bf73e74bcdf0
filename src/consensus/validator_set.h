#pragma once
// The validators of a height with their voting power, the thresholds computed on it, the
// weighted round-robin proposer schedule, and stand-alone verification of a commit.

#include <cstdint>
#include <optional>
#include <vector>

#include "consensus/types.h"
#include "ledger/genesis.h"

namespace tally {

struct Validator {
  Address address;
  uint64_t power = 0;
  bool operator==(const Validator&) const = default;
};

class ValidatorSet {
 public:
  // Sorts by address; rejects an empty set, duplicates, zero power, more than kMaxValidators
  // and a total power of 2^60 or more (error code "invalid_validator_set").
  static Result<ValidatorSet> create(std::vector<Validator> validators);
  static Result<ValidatorSet> from_genesis(const Genesis& genesis);

  size_t size() const { return validators_.size(); }
  const Validator& at(size_t index) const { return validators_[index]; }
  const std::vector<Validator>& validators() const { return validators_; }
  std::optional<size_t> index_of(const Address& address) const;
  uint64_t total_power() const { return total_power_; }

  // Strictly more than 2/3 of the total power, in integers: 3 * power > 2 * total.
  bool is_more_than_two_thirds(uint64_t power) const { return 3 * power > 2 * total_power_; }
  // Strictly more than 1/3 (the f+1 of the paper): 3 * power > total.
  bool is_more_than_one_third(uint64_t power) const { return 3 * power > total_power_; }

  // SHA-256 over (address, power) in address order.
  Hash256 hash() const;

 private:
  std::vector<Validator> validators_;
  uint64_t total_power_ = 0;
};

// Weighted round-robin by proposer priority: at each step every validator's priority grows by
// its power, the highest (ties: lowest address) proposes and pays back the total. Over any
// window of total_power steps each validator proposes exactly `power` times. Step k of the
// sequence is the proposer of (height, round) with k = height - 1 + round, so the schedule is a
// pure function of the validator set, the height and the round.
class ProposerSchedule {
 public:
  explicit ProposerSchedule(ValidatorSet validators);

  const ValidatorSet& validators() const { return validators_; }
  // Index into validators() of the proposer; REQUIRES height >= 1. Moves forward cheaply from
  // the last height asked; asking for an earlier height recomputes from the start.
  size_t proposer_index(uint64_t height, uint32_t round);
  Address proposer(uint64_t height, uint32_t round) {
    return validators_.at(proposer_index(height, round)).address;
  }

 private:
  size_t step(std::vector<int64_t>& priorities) const;

  ValidatorSet validators_;
  std::vector<int64_t> priorities_;  // state before the first step of `height_`
  uint64_t height_ = 1;
};

// Checks that `commit` proves `header`: same height and block hash, signatures from distinct
// members of `validators`, each valid, together more than 2/3 of the voting power. Needs
// nothing but the header, the commit and the validator set. Error code "invalid_commit".
Status verify_commit(const ValidatorSet& validators, const BlockHeader& header,
                     const Commit& commit, const SignatureChecker& checker);

}  // namespace tally
