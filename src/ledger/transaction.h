#pragma once
// Transactions. Version 1 has one kind, a transfer, which may also create the recipient's
// account: the sender then endorses the new account (the web of trust behind Sybil resistance).
//
// Layout (docs/protocol.md): u8 version, u8 kind, 32-byte from, 32-byte to, u64 amount, u64 fee,
// u64 nonce, u8 create (0/1), then the 64-byte Ed25519 signature by `from` over
// signing_message(chain_id, body).

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/amount.h"
#include "core/bytes.h"
#include "core/status.h"
#include "crypto/address.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"

namespace tally {

inline constexpr uint8_t kTransactionVersion = 1;
inline constexpr uint8_t kTransactionKindTransfer = 1;
inline constexpr size_t kTransferBodySize = 1 + 1 + 32 + 32 + 8 + 8 + 8 + 1;
inline constexpr size_t kTransactionEncodedSize = kTransferBodySize + 64;
inline constexpr std::string_view kTransactionSigningTag = "tally/transaction/v1";

// A transaction's canonical encoding: the body, then the signature.
using EncodedTransaction = std::array<uint8_t, kTransactionEncodedSize>;

struct Transfer {
  Address from;
  Address to;
  Amount amount;
  Amount fee;
  uint64_t nonce = 0;
  // Endorse `to` as a new account, created with a zero balance before `amount` arrives.
  bool create = false;

  bool operator==(const Transfer&) const = default;
};

struct Transaction {
  Transfer transfer;
  Signature signature;

  bool operator==(const Transaction&) const = default;

  Bytes encode() const;
  // The same bytes without allocating: hashing and message encoding use it on hot paths.
  EncodedTransaction encode_fixed() const;
  // Rejects every byte string that is not the canonical encoding of a transaction.
  static Result<Transaction> decode(ByteSpan bytes);
  // SHA-256 of the encoded transaction, signature included: the id clients track.
  Hash256 hash() const;
};

Bytes encode_transfer_body(const Transfer& transfer);

// The signed message: u32-length-prefixed tag, u32-length-prefixed chain id, body bytes. The
// tag keeps transaction signatures apart from every other signature a key makes; the chain id
// keeps a transaction from being replayed on another chain.
Bytes transaction_signing_message(std::string_view chain_id, const Transfer& transfer);

Transaction sign_transfer(const Transfer& transfer, const SecretKey& key,
                          std::string_view chain_id);

bool verify_transaction_signature(const Transaction& transaction, std::string_view chain_id);

}  // namespace tally
