#pragma once
// An account address is an Ed25519 public key. Its text form is bech32m with the prefix
// "tally" ("tally1…"), so a mistyped address is rejected rather than sent funds.

#include <string>
#include <string_view>

#include "core/status.h"
#include "crypto/ed25519.h"

namespace tally {

inline constexpr std::string_view kAddressPrefix = "tally";

struct Address {
  PublicKey key;

  auto operator<=>(const Address&) const = default;
  bool operator==(const Address&) const = default;

  std::string to_string() const;
  // Error code "invalid_address", with a message that says what is wrong (checksum, prefix,
  // length, variant, case).
  static Result<Address> parse(std::string_view text);

  template <typename H>
  friend H AbslHashValue(H state, const Address& address) {
    return H::combine(std::move(state), address.key);
  }
};

struct AddressHasher {
  size_t operator()(const Address& address) const { return FixedBytesHasher<32>()(address.key); }
};

}  // namespace tally
