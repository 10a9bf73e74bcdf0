#pragma once
// An account: who holds how much, how many transactions it has sent, and who vouched for it.

#include <cstdint>

#include "core/amount.h"
#include "core/bytes.h"
#include "crypto/address.h"
#include "crypto/sha256.h"

namespace tally {

inline constexpr uint8_t kAccountEncodingVersion = 1;
inline constexpr size_t kAccountEncodedSize = 1 + 8 + 8 + 32 + 8;

struct Account {
  Amount balance;
  // The nonce the account's next transaction must carry; it only grows.
  uint64_t nonce = 0;
  // The account that endorsed this one by creating it. All zeros for genesis accounts.
  Address endorser;
  // Height of the block that created the account; 0 for genesis accounts.
  uint64_t created_height = 0;

  bool operator==(const Account&) const = default;
};

// Canonical bytes: u8 version, u64 balance, u64 nonce, 32-byte endorser, u64 created_height.
Bytes encode_account(const Account& account);
Result<Account> decode_account(ByteSpan bytes);

// Position of an account in the state tree: SHA-256 of the 32 address bytes.
Hash256 account_tree_key(const Address& address);
// Value committed in the state tree: SHA-256 of the canonical account bytes.
Hash256 account_value_hash(const Account& account);

}  // namespace tally
