#include "consensus/validator_set.h"

#include <algorithm>

#include "core/codec.h"

namespace tally {
namespace {

Error invalid_set(std::string message) {
  return make_error("invalid_validator_set", std::move(message));
}

}  // namespace

Result<ValidatorSet> ValidatorSet::create(std::vector<Validator> validators) {
  if (validators.empty())
    return invalid_set("a validator set cannot be empty");
  if (validators.size() > kMaxValidators) {
    return invalid_set("more than " + std::to_string(kMaxValidators) + " validators");
  }
  std::sort(
      validators.begin(), validators.end(),
      [](const Validator& left, const Validator& right) { return left.address < right.address; });
  ValidatorSet set;
  for (size_t index = 0; index < validators.size(); ++index) {
    if (index > 0 && validators[index].address == validators[index - 1].address) {
      return invalid_set("duplicate validator " + validators[index].address.to_string());
    }
    if (validators[index].power == 0)
      return invalid_set("a validator's power must be positive");
    if (validators[index].power >= kMaxTotalVotingPower - set.total_power_) {
      return invalid_set("total voting power must stay below 2^60");
    }
    set.total_power_ += validators[index].power;
  }
  set.validators_ = std::move(validators);
  return set;
}

Result<ValidatorSet> ValidatorSet::from_genesis(const Genesis& genesis) {
  std::vector<Validator> validators;
  for (const GenesisValidator& validator : genesis.validators) {
    validators.push_back({validator.address, validator.power});
  }
  return create(std::move(validators));
}

std::optional<size_t> ValidatorSet::index_of(const Address& address) const {
  auto found = std::lower_bound(
      validators_.begin(), validators_.end(), address,
      [](const Validator& validator, const Address& wanted) { return validator.address < wanted; });
  if (found == validators_.end() || found->address != address)
    return std::nullopt;
  return static_cast<size_t>(found - validators_.begin());
}

Hash256 ValidatorSet::hash() const {
  Writer writer;
  writer.string("tally/validators/v1");
  writer.u32(static_cast<uint32_t>(validators_.size()));
  for (const Validator& validator : validators_) {
    writer.fixed(validator.address.key.span());
    writer.u64(validator.power);
  }
  return sha256(writer.bytes());
}

ProposerSchedule::ProposerSchedule(ValidatorSet validators)
    : validators_(std::move(validators)), priorities_(validators_.size(), 0) {}

size_t ProposerSchedule::step(std::vector<int64_t>& priorities) const {
  size_t chosen = 0;
  for (size_t index = 0; index < priorities.size(); ++index) {
    priorities[index] += static_cast<int64_t>(validators_.at(index).power);
    // Strictly greater: on a tie the lower index (lower address) wins.
    if (priorities[index] > priorities[chosen])
      chosen = index;
  }
  priorities[chosen] -= static_cast<int64_t>(validators_.total_power());
  return chosen;
}

size_t ProposerSchedule::proposer_index(uint64_t height, uint32_t round) {
  TALLY_ASSERT(height >= 1);
  if (height < height_) {
    std::fill(priorities_.begin(), priorities_.end(), 0);
    height_ = 1;
  }
  // The sequence repeats every total_power steps, so far jumps cost at most one period.
  uint64_t period = validators_.total_power();
  uint64_t steps = (height - height_) % period;
  for (uint64_t count = 0; count < steps; ++count)
    step(priorities_);
  height_ = height;

  std::vector<int64_t> scratch = priorities_;
  uint64_t round_steps = round % period;
  for (uint64_t count = 0; count < round_steps; ++count)
    step(scratch);
  size_t chosen = step(scratch);

  // Smooth weighted round-robin keeps the priorities summing to zero.
  int64_t sum = 0;
  for (int64_t priority : scratch)
    sum += priority;
  TALLY_ASSERT_MSG(sum == 0, "proposer priorities must sum to zero");
  return chosen;
}

Status verify_commit(const ValidatorSet& validators, const BlockHeader& header,
                     const Commit& commit, const SignatureChecker& checker) {
  auto invalid = [](std::string message) {
    return make_error("invalid_commit", std::move(message));
  };
  if (commit.height != header.height) {
    return invalid("the commit is for height " + std::to_string(commit.height) +
                   ", the header for height " + std::to_string(header.height));
  }
  if (commit.block_hash != header.hash())
    return invalid("the commit is for another block");
  uint64_t signed_power = 0;
  for (size_t index = 0; index < commit.signatures.size(); ++index) {
    const CommitSignature& entry = commit.signatures[index];
    if (index > 0 && !(commit.signatures[index - 1].validator < entry.validator)) {
      return invalid("signatures must be in strictly increasing address order");
    }
    std::optional<size_t> position = validators.index_of(entry.validator);
    if (!position)
      return invalid(entry.validator.to_string() + " is not a validator");
    if (!commit.vote_of(entry).verify(header.chain_id, checker)) {
      return invalid("the signature of " + entry.validator.to_string() + " is invalid");
    }
    signed_power += validators.at(*position).power;
  }
  if (!validators.is_more_than_two_thirds(signed_power)) {
    return invalid("the signatures carry " + std::to_string(signed_power) + " of " +
                   std::to_string(validators.total_power()) +
                   " voting power; more than 2/3 is needed");
  }
  return Status::success();
}

}  // namespace tally
