#pragma once
// The wire format of the peer-to-peer transport (docs/protocol.md §11, src/p2p/README.md):
// the clear-text hello, the handshake transcript and signature, the per-direction
// ChaCha20-Poly1305 frame cipher, and the envelope carried inside encrypted frames. Pure
// functions and small value types, no sockets: the Transport drives them, and tests (or another
// implementation) can build every byte of a session from them.

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/bytes.h"
#include "core/status.h"
#include "crypto/ed25519.h"
#include "crypto/sha256.h"

namespace tally::p2p {

inline constexpr std::string_view kMagic = "TALLYP2P";
inline constexpr uint8_t kProtocolVersion = 1;
inline constexpr size_t kMaxChainIdBytes = 128;
// Every frame starts with a u32 little-endian length of what follows.
inline constexpr size_t kLengthPrefixBytes = 4;
// magic ‖ u8 version ‖ string chain_id ‖ bytes32 ephemeral key ‖ bytes32 node key.
inline constexpr size_t kMinHelloBytes = 8 + 1 + 4 + 32 + 32;
inline constexpr size_t kMaxHelloBytes = 256;
static_assert(kMinHelloBytes + kMaxChainIdBytes <= kMaxHelloBytes);
inline constexpr size_t kTagBytes = 16;  // Poly1305 tag
inline constexpr size_t kNonceBytes = 12;
// The first encrypted frame of each direction: a 64-byte signature (no envelope byte).
inline constexpr size_t kSignatureFrameBytes = 64 + kTagBytes;
inline constexpr std::string_view kHandshakeTag = "tally/p2p-handshake/v1";
inline constexpr size_t kMaxAddressesPerMessage = 32;
inline constexpr size_t kMaxHostBytes = 64;  // hosts in address messages are IP literals

using KxPublicKey = FixedBytes<32>;
using SessionKey = FixedBytes<32>;

struct Hello {
  std::string chain_id;
  KxPublicKey ephemeral_key;
  PublicKey node_key;

  bool operator==(const Hello&) const = default;
};

// The hello body (without the length prefix).
Bytes encode_hello(const Hello& hello);
// Error codes: "bad_magic", "unsupported_version", and the codec's ("truncated", "oversized",
// "trailing_bytes"); a chain id longer than kMaxChainIdBytes is "oversized".
Result<Hello> decode_hello(ByteSpan body);

// SHA-256(dialer hello body ‖ listener hello body).
Hash256 transcript_hash(ByteSpan dialer_hello, ByteSpan listener_hello);
// string("tally/p2p-handshake/v1") ‖ bytes32 transcript hash: what each side signs.
Bytes handshake_signing_message(const Hash256& transcript);

// One direction's key: the dialer's transmit key is the listener's receive key and vice versa.
struct SessionKeys {
  SessionKey receive;
  SessionKey transmit;

  SessionKeys() = default;
  SessionKeys(const SessionKeys&) = delete;
  SessionKeys& operator=(const SessionKeys&) = delete;
  SessionKeys(SessionKeys&& other) noexcept;
  SessionKeys& operator=(SessionKeys&&) = delete;
  ~SessionKeys();  // wipes both keys
};

// An ephemeral X25519 key pair (libsodium crypto_kx). The secret half is wiped as soon as the
// session keys are derived, and on destruction.
class EphemeralKey {
 public:
  EphemeralKey();  // generates a fresh pair
  ~EphemeralKey();
  EphemeralKey(const EphemeralKey&) = delete;
  EphemeralKey& operator=(const EphemeralKey&) = delete;

  const KxPublicKey& public_key() const { return public_key_; }
  // crypto_kx_client_session_keys for the dialer, crypto_kx_server_session_keys for the
  // listener. One use only: the secret is wiped afterwards. Error code "handshake_failed" for a
  // peer key libsodium rejects (e.g. a low-order point) or a second call.
  Result<SessionKeys> derive(const KxPublicKey& peer_key, bool dialer);

 private:
  KxPublicKey public_key_;
  FixedBytes<32> secret_key_;
  bool used_ = false;
};

// One direction of the encrypted channel: ChaCha20-Poly1305 (IETF) under a fixed key, with the
// 96-bit nonce u64le(counter) ‖ 0x00000000 and the counter starting at 0, incremented after
// every frame. No associated data. A counter that would reach 2^64 - 1 is never used.
class FrameCipher {
 public:
  FrameCipher() = default;
  explicit FrameCipher(const SessionKey& key) : key_(key), keyed_(true) {}
  ~FrameCipher() { wipe(); }
  FrameCipher(const FrameCipher&) = delete;
  FrameCipher& operator=(const FrameCipher&) = delete;

  // Encrypts the concatenation of `parts` into a whole frame: u32le(ciphertext length) ‖
  // ciphertext ‖ tag. Error "nonce_exhausted" once the counter is used up.
  Result<Bytes> seal(std::initializer_list<ByteSpan> parts);
  // Decrypts `frame` (ciphertext ‖ tag, without the length prefix) in place; on success the
  // plaintext is its first size() - kTagBytes bytes. Errors "authentication_failed" (tampered,
  // truncated, wrong key or out of order) and "nonce_exhausted".
  Status open(std::span<uint8_t> frame);

  uint64_t counter() const { return counter_; }
  void wipe();

 private:
  SessionKey key_;
  bool keyed_ = false;
  uint64_t counter_ = 0;
};

// The first byte of every encrypted frame after the handshake.
enum class MessageType : uint8_t {
  kApplication = 1,  // payload: the application's message, opaque
  kPing = 2,         // payload: empty
  kPong = 3,         // payload: empty
  kAddresses = 4,    // payload: AddressesMessage
};

struct AddressEntry {
  std::string host;  // an IP literal in canonical text form
  uint16_t port = 0;
  PublicKey node_id;

  bool operator==(const AddressEntry&) const = default;
};

struct AddressesMessage {
  uint16_t listen_port = 0;  // the sender's own listening port; 0 = not listening
  std::vector<AddressEntry> entries;

  bool operator==(const AddressesMessage&) const = default;
};

// u16 listen_port ‖ u32 n (≤ 32) ‖ n × (string host ‖ u16 port ‖ bytes32 node_id).
Bytes encode_addresses(const AddressesMessage& message);
// Rejects more than kMaxAddressesPerMessage entries, hosts that are not canonical IP literals,
// port 0, and the codec's usual errors. Error code "invalid_addresses" or the codec's codes.
Result<AddressesMessage> decode_addresses(ByteSpan payload);

// The canonical text of an IP address literal, or nothing if `host` is not one.
std::optional<std::string> canonical_ip(std::string_view host);

uint32_t load_u32_le(const uint8_t* bytes);

}  // namespace tally::p2p
