#include "sim/sim_crypto.h"

#include <algorithm>

namespace tally::sim {

Signature sim_signature(const Hash256& secret, ByteSpan message) {
  Hash256 digest = sha256_parts({secret.span(), message});
  Signature signature;
  std::copy(digest.data.begin(), digest.data.end(), signature.data.begin());
  std::copy(digest.data.begin(), digest.data.end(), signature.data.begin() + 32);
  return signature;
}

SimSigner::SimSigner(const Hash256& secret)
    : secret_(secret), address_(Address{sha256(secret.span())}) {}

Signature SimSigner::sign(ByteSpan message) const {
  return sim_signature(secret_, message);
}

bool SimChecker::verify(const Address& signer, ByteSpan message, const Signature& signature) const {
  auto found = secrets_.find(signer);
  if (found == secrets_.end())
    return false;
  return sim_signature(found->second, message) == signature;
}

}  // namespace tally::sim
