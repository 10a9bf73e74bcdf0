#pragma once
// The genesis of a chain: its id, the fixed total supply and who holds it at height 0, the
// first validator set, and the chain parameters. Loaded from genesis.json (format in
// docs/protocol.md); loading rejects anything ambiguous, including unknown fields.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/amount.h"
#include "core/status.h"
#include "crypto/address.h"
#include "crypto/sha256.h"

namespace tally {

inline constexpr size_t kMaxChainIdLength = 64;
// Total voting power is kept below 2^60 so that thresholds like 3 * power cannot overflow.
inline constexpr uint64_t kMaxTotalVotingPower = uint64_t{1} << 60;
inline constexpr uint64_t kDefaultTotalSupplyUnits = 1'000'000'000'000'000'000ULL;

struct ChainParams {
  Amount min_fee = Amount{1000};
  uint32_t max_block_txs = 10'000;
  uint32_t max_block_bytes = 4 * 1024 * 1024;
  uint32_t max_tx_bytes = 1024;

  bool operator==(const ChainParams&) const = default;
};

struct GenesisAllocation {
  Address address;
  Amount balance;

  bool operator==(const GenesisAllocation&) const = default;
};

struct GenesisValidator {
  // The validator's consensus key; block fees are credited to the account with this address.
  Address address;
  uint64_t power = 0;
  std::string name;

  bool operator==(const GenesisValidator&) const = default;
};

struct Genesis {
  std::string chain_id;
  // Informational start time of the chain (Unix milliseconds); blocks carry their own time.
  uint64_t genesis_time_ms = 0;
  Amount total_supply;
  ChainParams params;
  std::vector<GenesisAllocation> accounts;
  std::vector<GenesisValidator> validators;

  bool operator==(const Genesis&) const = default;

  // Every rule a genesis must satisfy: a valid chain id, allocations that sum exactly to the
  // total supply, no duplicate addresses, at least one validator with positive power, total
  // power below kMaxTotalVotingPower, and consistent parameters. Error code "invalid_genesis".
  Status validate() const;

  // Parses and validates.
  static Result<Genesis> from_json(std::string_view text);
  static Result<Genesis> load(const std::filesystem::path& path);
  std::string to_json() const;
  Status save(const std::filesystem::path& path) const;

  // SHA-256 of the canonical binary encoding; nodes compare it to be sure they share a chain.
  Hash256 hash() const;
};

// Chain ids are 1-64 characters of [a-z0-9._-].
Status validate_chain_id(std::string_view chain_id);

}  // namespace tally
