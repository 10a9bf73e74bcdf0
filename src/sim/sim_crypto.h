#pragma once
// A fast signature scheme for the simulator only. Ed25519 would make hundreds of seeds too slow,
// so each validator has a 32-byte secret, its address is SHA-256(secret), and a signature is
// SHA-256(secret || message) written twice (64 bytes). The checker knows every secret, which
// is fine inside one process: Byzantine wrappers only ever get their own SimSigner, so within
// the simulation nobody can sign for another validator. Never used outside the simulator.

#include <map>

#include "consensus/types.h"

namespace tally::sim {

class SimSigner final : public Signer {
 public:
  explicit SimSigner(const Hash256& secret);
  Address address() const override { return address_; }
  Signature sign(ByteSpan message) const override;

  const Hash256& secret() const { return secret_; }

 private:
  Hash256 secret_;
  Address address_;
};

class SimChecker final : public SignatureChecker {
 public:
  void add(const SimSigner& signer) { secrets_[signer.address()] = signer.secret(); }
  bool verify(const Address& signer, ByteSpan message, const Signature& signature) const override;

 private:
  std::map<Address, Hash256> secrets_;
};

Signature sim_signature(const Hash256& secret, ByteSpan message);

}  // namespace tally::sim
