#pragma once
// Ed25519 signatures (RFC 8032) from libsodium. Verification uses libsodium's strict checks
// (canonical encodings, no small-order keys), so a signature cannot be altered into another
// valid one by a third party.

#include "core/bytes.h"

namespace tally {

using PublicKey = FixedBytes<32>;
using Signature = FixedBytes<64>;
using Seed = FixedBytes<32>;

// Initialises libsodium once; safe to call from any thread, any number of times.
void ensure_crypto_initialized();

class SecretKey {
 public:
  // A new key from the operating system's random source.
  static SecretKey generate();
  static SecretKey from_seed(const Seed& seed);

  SecretKey(const SecretKey& other);
  SecretKey& operator=(const SecretKey& other);
  ~SecretKey();  // wipes the secret bytes

  const PublicKey& public_key() const { return public_key_; }
  Seed seed() const;
  Signature sign(ByteSpan message) const;

 private:
  SecretKey() = default;
  FixedBytes<64> secret_;  // libsodium layout: seed || public key
  PublicKey public_key_;
};

bool verify_signature(const PublicKey& public_key, ByteSpan message, const Signature& signature);

}  // namespace tally
