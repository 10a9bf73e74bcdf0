#include "crypto/ed25519.h"

#include <sodium.h>

#include "core/assert.h"

namespace tally {
namespace {

static_assert(crypto_sign_PUBLICKEYBYTES == PublicKey::kSize);
static_assert(crypto_sign_SECRETKEYBYTES == 64);
static_assert(crypto_sign_SEEDBYTES == Seed::kSize);
static_assert(crypto_sign_BYTES == Signature::kSize);

// An empty span may have a null data pointer; libsodium is given a valid one regardless.
const uint8_t* message_pointer(ByteSpan message) {
  static const uint8_t kEmpty = 0;
  return message.empty() ? &kEmpty : message.data();
}

}  // namespace

void ensure_crypto_initialized() {
  // A function-local static is initialised exactly once, and other threads wait for it.
  static const bool initialized = [] {
    int result = sodium_init();  // 0: initialised now, 1: already initialised
    TALLY_ASSERT_MSG(result != -1, "sodium_init failed");
    return true;
  }();
  (void)initialized;
}

SecretKey SecretKey::generate() {
  ensure_crypto_initialized();
  Seed seed;
  randombytes_buf(seed.data.data(), seed.data.size());
  SecretKey key = from_seed(seed);
  sodium_memzero(seed.data.data(), seed.data.size());
  return key;
}

SecretKey SecretKey::from_seed(const Seed& seed) {
  ensure_crypto_initialized();
  SecretKey key;
  TALLY_ASSERT(crypto_sign_seed_keypair(key.public_key_.data.data(), key.secret_.data.data(),
                                        seed.data.data()) == 0);
  return key;
}

SecretKey::SecretKey(const SecretKey& other)
    : secret_(other.secret_), public_key_(other.public_key_) {}

SecretKey& SecretKey::operator=(const SecretKey& other) {
  if (this != &other) {
    secret_ = other.secret_;
    public_key_ = other.public_key_;
  }
  return *this;
}

SecretKey::~SecretKey() {
  sodium_memzero(secret_.data.data(), secret_.data.size());
}

Seed SecretKey::seed() const {
  Seed seed;
  TALLY_ASSERT(crypto_sign_ed25519_sk_to_seed(seed.data.data(), secret_.data.data()) == 0);
  return seed;
}

Signature SecretKey::sign(ByteSpan message) const {
  Signature signature;
  TALLY_ASSERT(crypto_sign_detached(signature.data.data(), nullptr, message_pointer(message),
                                    message.size(), secret_.data.data()) == 0);
  return signature;
}

bool verify_signature(const PublicKey& public_key, ByteSpan message, const Signature& signature) {
  ensure_crypto_initialized();
  return crypto_sign_verify_detached(signature.data.data(), message_pointer(message),
                                     message.size(), public_key.data.data()) == 0;
}

}  // namespace tally
