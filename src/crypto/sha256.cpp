#include "crypto/sha256.h"

#include <openssl/evp.h>

#include "core/assert.h"

namespace tally {
namespace {

// Fetching the algorithm is the expensive part of an EVP digest on OpenSSL 3; do it once.
const EVP_MD* sha256_algorithm() {
  static const EVP_MD* algorithm = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    TALLY_ASSERT_MSG(fetched != nullptr, "OpenSSL has no SHA256");
    return fetched;
  }();
  return algorithm;
}

// One context per thread, re-initialised for every digest (EVP_DigestInit_ex2 resets it fully).
struct ContextHolder {
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  ~ContextHolder() { EVP_MD_CTX_free(context); }
};

EVP_MD_CTX* fresh_context() {
  thread_local ContextHolder holder;
  TALLY_ASSERT_MSG(holder.context != nullptr, "EVP_MD_CTX_new failed");
  TALLY_ASSERT(EVP_DigestInit_ex2(holder.context, sha256_algorithm(), nullptr) == 1);
  return holder.context;
}

Hash256 finish(EVP_MD_CTX* context) {
  Hash256 digest;
  unsigned int length = 0;
  TALLY_ASSERT(EVP_DigestFinal_ex(context, digest.data.data(), &length) == 1);
  TALLY_ASSERT(length == Hash256::kSize);
  return digest;
}

}  // namespace

Hash256 sha256(ByteSpan data) {
  EVP_MD_CTX* context = fresh_context();
  TALLY_ASSERT(EVP_DigestUpdate(context, data.data(), data.size()) == 1);
  return finish(context);
}

Hash256 sha256_parts(std::initializer_list<ByteSpan> parts) {
  EVP_MD_CTX* context = fresh_context();
  for (ByteSpan part : parts) {
    TALLY_ASSERT(EVP_DigestUpdate(context, part.data(), part.size()) == 1);
  }
  return finish(context);
}

}  // namespace tally
