#pragma once
// Helpers for ledger tests: deterministic keys and small genesis files.

#include <string>
#include <vector>

#include "crypto/ed25519.h"
#include "ledger/genesis.h"
#include "ledger/transaction.h"

namespace tally::testing {

inline SecretKey key_for(uint32_t index) {
  Seed seed;
  seed.data[0] = 0x7a;
  for (int byte = 0; byte < 4; ++byte)
    seed.data[1 + byte] = static_cast<uint8_t>(index >> (8 * byte));
  return SecretKey::from_seed(seed);
}

inline Address address_for(uint32_t index) {
  return Address{key_for(index).public_key()};
}

inline constexpr uint32_t kValidatorKeyBase = 1'000'000;

// `balances[i]` goes to address_for(i); one validator per entry of `powers`, with keys
// key_for(kValidatorKeyBase + j). Total supply is the sum of the balances.
inline Genesis make_genesis(const std::vector<uint64_t>& balances,
                            const std::vector<uint64_t>& powers = {10},
                            uint64_t min_fee_units = 10) {
  Genesis genesis;
  genesis.chain_id = "tally-test";
  genesis.genesis_time_ms = 1'700'000'000'000;
  genesis.params.min_fee = Amount{min_fee_units};
  uint64_t supply = 0;
  for (uint32_t index = 0; index < balances.size(); ++index) {
    genesis.accounts.push_back({address_for(index), Amount{balances[index]}});
    supply += balances[index];
  }
  genesis.total_supply = Amount{supply};
  for (uint32_t index = 0; index < powers.size(); ++index) {
    genesis.validators.push_back({address_for(kValidatorKeyBase + index), powers[index],
                                  "validator" + std::to_string(index)});
  }
  return genesis;
}

inline Transaction signed_transfer(uint32_t from_index, const Address& to, uint64_t amount,
                                   uint64_t fee, uint64_t nonce, bool create = false,
                                   const std::string& chain_id = "tally-test") {
  Transfer transfer;
  transfer.from = address_for(from_index);
  transfer.to = to;
  transfer.amount = Amount{amount};
  transfer.fee = Amount{fee};
  transfer.nonce = nonce;
  transfer.create = create;
  return sign_transfer(transfer, key_for(from_index), chain_id);
}

}  // namespace tally::testing
