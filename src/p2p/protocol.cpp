#include "p2p/protocol.h"

#include <sodium.h>

#include <algorithm>
#include <asio/ip/address.hpp>
#include <cstring>
#include <limits>

#include "core/codec.h"

namespace tally::p2p {
namespace {

static_assert(crypto_kx_PUBLICKEYBYTES == KxPublicKey::kSize);
static_assert(crypto_kx_SECRETKEYBYTES == 32);
static_assert(crypto_kx_SESSIONKEYBYTES == SessionKey::kSize);
static_assert(crypto_aead_chacha20poly1305_ietf_KEYBYTES == SessionKey::kSize);
static_assert(crypto_aead_chacha20poly1305_ietf_NPUBBYTES == kNonceBytes);
static_assert(crypto_aead_chacha20poly1305_ietf_ABYTES == kTagBytes);

std::array<uint8_t, kNonceBytes> make_nonce(uint64_t counter) {
  std::array<uint8_t, kNonceBytes> nonce{};
  for (size_t index = 0; index < 8; ++index) {
    nonce[index] = static_cast<uint8_t>(counter >> (8 * index));
  }
  return nonce;
}

// The last counter value is never used, so a counter can never wrap around to a used nonce.
constexpr uint64_t kLastUsableCounter = std::numeric_limits<uint64_t>::max() - 1;

}  // namespace

uint32_t load_u32_le(const uint8_t* bytes) {
  return static_cast<uint32_t>(bytes[0]) | (static_cast<uint32_t>(bytes[1]) << 8) |
         (static_cast<uint32_t>(bytes[2]) << 16) | (static_cast<uint32_t>(bytes[3]) << 24);
}

Bytes encode_hello(const Hello& hello) {
  Writer writer;
  writer.reserve(kMinHelloBytes + hello.chain_id.size());
  writer.fixed(as_bytes(kMagic));
  writer.u8(kProtocolVersion);
  writer.string(hello.chain_id);
  writer.fixed(hello.ephemeral_key.span());
  writer.fixed(hello.node_key.span());
  return writer.take();
}

Result<Hello> decode_hello(ByteSpan body) {
  Reader reader(body);
  FixedBytes<kMagic.size()> magic = reader.fixed_bytes<kMagic.size()>();
  if (reader.failed())
    return reader.finish().error();
  if (!std::equal(magic.data.begin(), magic.data.end(), kMagic.begin())) {
    return make_error("bad_magic", "not a Tally peer (bad magic bytes)");
  }
  uint8_t version = reader.u8();
  if (!reader.failed() && version != kProtocolVersion) {
    return make_error("unsupported_version",
                      "unsupported protocol version " + std::to_string(version));
  }
  Hello hello;
  hello.chain_id = reader.string(kMaxChainIdBytes);
  hello.ephemeral_key = reader.fixed_bytes<32>();
  hello.node_key = reader.fixed_bytes<32>();
  TALLY_TRY(reader.finish());
  return hello;
}

Hash256 transcript_hash(ByteSpan dialer_hello, ByteSpan listener_hello) {
  return sha256_parts({dialer_hello, listener_hello});
}

Bytes handshake_signing_message(const Hash256& transcript) {
  Writer writer;
  writer.string(kHandshakeTag);
  writer.fixed(transcript.span());
  return writer.take();
}

SessionKeys::SessionKeys(SessionKeys&& other) noexcept
    : receive(other.receive), transmit(other.transmit) {
  sodium_memzero(other.receive.data.data(), other.receive.data.size());
  sodium_memzero(other.transmit.data.data(), other.transmit.data.size());
}

SessionKeys::~SessionKeys() {
  sodium_memzero(receive.data.data(), receive.data.size());
  sodium_memzero(transmit.data.data(), transmit.data.size());
}

EphemeralKey::EphemeralKey() {
  ensure_crypto_initialized();
  TALLY_ASSERT(crypto_kx_keypair(public_key_.data.data(), secret_key_.data.data()) == 0);
}

EphemeralKey::~EphemeralKey() {
  sodium_memzero(secret_key_.data.data(), secret_key_.data.size());
}

Result<SessionKeys> EphemeralKey::derive(const KxPublicKey& peer_key, bool dialer) {
  if (used_)
    return make_error("handshake_failed", "ephemeral key already used");
  used_ = true;
  SessionKeys keys;
  int result = dialer ? crypto_kx_client_session_keys(
                            keys.receive.data.data(), keys.transmit.data.data(),
                            public_key_.data.data(), secret_key_.data.data(), peer_key.data.data())
                      : crypto_kx_server_session_keys(
                            keys.receive.data.data(), keys.transmit.data.data(),
                            public_key_.data.data(), secret_key_.data.data(), peer_key.data.data());
  sodium_memzero(secret_key_.data.data(), secret_key_.data.size());
  if (result != 0)
    return make_error("handshake_failed", "peer's ephemeral key was rejected");
  return keys;
}

Result<Bytes> FrameCipher::seal(std::initializer_list<ByteSpan> parts) {
  TALLY_ASSERT_MSG(keyed_, "FrameCipher used without a key");
  if (counter_ > kLastUsableCounter)
    return make_error("nonce_exhausted", "frame counter exhausted");
  size_t plaintext_size = 0;
  for (ByteSpan part : parts)
    plaintext_size += part.size();
  size_t ciphertext_size = plaintext_size + kTagBytes;
  TALLY_ASSERT_MSG(ciphertext_size <= std::numeric_limits<uint32_t>::max(), "frame too large");

  Bytes frame(kLengthPrefixBytes + ciphertext_size);
  for (size_t index = 0; index < kLengthPrefixBytes; ++index) {
    frame[index] = static_cast<uint8_t>(ciphertext_size >> (8 * index));
  }
  uint8_t* text = frame.data() + kLengthPrefixBytes;
  size_t offset = 0;
  for (ByteSpan part : parts) {
    if (!part.empty())
      std::memcpy(text + offset, part.data(), part.size());
    offset += part.size();
  }
  auto nonce = make_nonce(counter_);
  // In place: libsodium's detached AEAD accepts identical message and ciphertext pointers.
  TALLY_ASSERT(crypto_aead_chacha20poly1305_ietf_encrypt_detached(
                   text, text + plaintext_size, nullptr, text, plaintext_size, nullptr, 0, nullptr,
                   nonce.data(), key_.data.data()) == 0);
  ++counter_;
  return frame;
}

Status FrameCipher::open(std::span<uint8_t> frame) {
  TALLY_ASSERT_MSG(keyed_, "FrameCipher used without a key");
  if (counter_ > kLastUsableCounter)
    return make_error("nonce_exhausted", "frame counter exhausted");
  if (frame.size() < kTagBytes)
    return make_error("authentication_failed", "frame shorter than its tag");
  size_t plaintext_size = frame.size() - kTagBytes;
  auto nonce = make_nonce(counter_);
  if (crypto_aead_chacha20poly1305_ietf_decrypt_detached(
          frame.data(), nullptr, frame.data(), plaintext_size, frame.data() + plaintext_size,
          nullptr, 0, nonce.data(), key_.data.data()) != 0) {
    return make_error("authentication_failed", "frame failed authentication");
  }
  ++counter_;
  return Status::success();
}

void FrameCipher::wipe() {
  sodium_memzero(key_.data.data(), key_.data.size());
}

std::optional<std::string> canonical_ip(std::string_view host) {
  asio::error_code error;
  asio::ip::address address = asio::ip::make_address(std::string(host), error);
  if (error)
    return std::nullopt;
  return address.to_string();
}

Bytes encode_addresses(const AddressesMessage& message) {
  TALLY_ASSERT_MSG(message.entries.size() <= kMaxAddressesPerMessage, "too many addresses");
  Writer writer;
  writer.u16(message.listen_port);
  writer.u32(static_cast<uint32_t>(message.entries.size()));
  for (const AddressEntry& entry : message.entries) {
    writer.string(entry.host);
    writer.u16(entry.port);
    writer.fixed(entry.node_id.span());
  }
  return writer.take();
}

Result<AddressesMessage> decode_addresses(ByteSpan payload) {
  Reader reader(payload);
  AddressesMessage message;
  message.listen_port = reader.u16();
  uint32_t count = reader.u32();
  if (!reader.failed() && count > kMaxAddressesPerMessage) {
    return make_error("invalid_addresses", std::to_string(count) + " addresses, more than " +
                                               std::to_string(kMaxAddressesPerMessage));
  }
  for (uint32_t index = 0; index < count && !reader.failed(); ++index) {
    AddressEntry entry;
    entry.host = reader.string(kMaxHostBytes);
    entry.port = reader.u16();
    entry.node_id = reader.fixed_bytes<32>();
    if (reader.failed())
      break;
    std::optional<std::string> canonical = canonical_ip(entry.host);
    if (!canonical || *canonical != entry.host) {
      return make_error("invalid_addresses", "address host is not a canonical IP literal");
    }
    if (entry.port == 0)
      return make_error("invalid_addresses", "address with port 0");
    message.entries.push_back(std::move(entry));
  }
  TALLY_TRY(reader.finish());
  return message;
}

}  // namespace tally::p2p
