// The p2p wire format: hello, transcript, session keys, frame cipher, address messages. Layouts
// are checked against hand-written bytes and against libsodium called directly.

#include "p2p/protocol.h"

#include <gtest/gtest.h>
#include <sodium.h>

#include "core/codec.h"

namespace tally::p2p {
namespace {

template <size_t N>
FixedBytes<N> filled(uint8_t value) {
  FixedBytes<N> bytes;
  bytes.data.fill(value);
  return bytes;
}

TEST(ProtocolTest, HelloLayoutIsFixed) {
  Hello hello{"tally-test", filled<32>(0x11), filled<32>(0x22)};
  Bytes encoded = encode_hello(hello);
  std::string expected =
      "54414c4c59503250"  // "TALLYP2P"
      "01"                // version
      "0a000000"          // u32 length of the chain id
      "74616c6c792d74657374" +
      std::string(64, '1') + std::string(64, '2');
  EXPECT_EQ(to_hex(encoded), expected);
  EXPECT_EQ(encoded.size(), kMinHelloBytes + hello.chain_id.size());
  Result<Hello> decoded = decode_hello(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, hello);
}

TEST(ProtocolTest, HelloDecoderRejectsMalformedInput) {
  Hello hello{"chain", filled<32>(1), filled<32>(2)};
  Bytes good = encode_hello(hello);

  Bytes bad_magic = good;
  bad_magic[0] = 'X';
  EXPECT_EQ(decode_hello(bad_magic).error().code, "bad_magic");

  Bytes bad_version = good;
  bad_version[8] = 2;
  EXPECT_EQ(decode_hello(bad_version).error().code, "unsupported_version");

  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_EQ(decode_hello(trailing).error().code, "trailing_bytes");

  Bytes truncated(good.begin(), good.end() - 1);
  EXPECT_EQ(decode_hello(truncated).error().code, "truncated");
  EXPECT_EQ(decode_hello(Bytes(3, 'T')).error().code, "truncated");

  Hello long_chain{std::string(kMaxChainIdBytes + 1, 'c'), filled<32>(1), filled<32>(2)};
  EXPECT_EQ(decode_hello(encode_hello(long_chain)).error().code, "oversized");
  Hello longest{std::string(kMaxChainIdBytes, 'c'), filled<32>(1), filled<32>(2)};
  EXPECT_LE(encode_hello(longest).size(), kMaxHelloBytes);
  EXPECT_TRUE(decode_hello(encode_hello(longest)).ok());
}

TEST(ProtocolTest, SigningMessageIsTagThenTranscript) {
  Bytes dialer = {1, 2, 3};
  Bytes listener = {4, 5};
  Hash256 transcript = transcript_hash(dialer, listener);
  EXPECT_EQ(transcript, sha256(Bytes{1, 2, 3, 4, 5}));
  Bytes message = handshake_signing_message(transcript);
  Writer expected;
  expected.string("tally/p2p-handshake/v1");
  expected.fixed(transcript.span());
  EXPECT_EQ(message, expected.bytes());
  EXPECT_EQ(message.size(), 4u + 22 + 32);
}

TEST(ProtocolTest, SessionKeysPairUpAcrossTheConnection) {
  EphemeralKey dialer;
  EphemeralKey listener;
  Result<SessionKeys> dialer_keys = dialer.derive(listener.public_key(), true);
  Result<SessionKeys> listener_keys = listener.derive(dialer.public_key(), false);
  ASSERT_TRUE(dialer_keys.ok());
  ASSERT_TRUE(listener_keys.ok());
  EXPECT_EQ(dialer_keys->transmit, listener_keys->receive);
  EXPECT_EQ(dialer_keys->receive, listener_keys->transmit);
  EXPECT_NE(dialer_keys->transmit, dialer_keys->receive);
  // One use only.
  EXPECT_FALSE(dialer.derive(listener.public_key(), true).ok());
}

TEST(ProtocolTest, LowOrderEphemeralKeyIsRejected) {
  EphemeralKey key;
  Result<SessionKeys> keys = key.derive(KxPublicKey{}, true);  // the all-zero point
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.error().code, "handshake_failed");
}

TEST(ProtocolTest, FrameCipherMatchesTheSpecifiedNonceLayout) {
  SessionKey key = filled<32>(0x42);
  FrameCipher cipher(key);
  Bytes plaintext = {'a', 'b', 'c'};
  for (uint64_t counter = 0; counter < 3; ++counter) {
    Result<Bytes> frame = cipher.seal({plaintext});
    ASSERT_TRUE(frame.ok());
    ASSERT_EQ(frame->size(), 4 + plaintext.size() + kTagBytes);
    EXPECT_EQ(load_u32_le(frame->data()), plaintext.size() + kTagBytes);

    uint8_t nonce[kNonceBytes] = {};
    for (size_t index = 0; index < 8; ++index)
      nonce[index] = static_cast<uint8_t>(counter >> (8 * index));
    Bytes expected(plaintext.size() + kTagBytes);
    unsigned long long length = 0;
    ASSERT_EQ(crypto_aead_chacha20poly1305_ietf_encrypt(expected.data(), &length, plaintext.data(),
                                                        plaintext.size(), nullptr, 0, nullptr,
                                                        nonce, key.data.data()),
              0);
    EXPECT_EQ(Bytes(frame->begin() + 4, frame->end()), expected) << counter;
  }
  EXPECT_EQ(cipher.counter(), 3u);
}

TEST(ProtocolTest, FrameCipherRoundTripsAndRejectsTamperingAndReordering) {
  SessionKey key = filled<32>(7);
  FrameCipher sender(key);
  FrameCipher receiver(key);
  Bytes type = {1};
  Bytes payload = {9, 8, 7, 6};
  Bytes first = sender.seal({type, payload}).value();
  Bytes second = sender.seal({type, payload}).value();

  // Out of order: the second frame does not open under the first nonce.
  Bytes out_of_order(second.begin() + 4, second.end());
  EXPECT_EQ(receiver.open(out_of_order).error().code, "authentication_failed");

  Bytes body(first.begin() + 4, first.end());
  ASSERT_TRUE(receiver.open(body).ok());
  EXPECT_EQ(Bytes(body.begin(), body.begin() + 5), (Bytes{1, 9, 8, 7, 6}));

  Bytes tampered(second.begin() + 4, second.end());
  tampered[2] ^= 0x80;
  EXPECT_EQ(receiver.open(tampered).error().code, "authentication_failed");
  Bytes intact(second.begin() + 4, second.end());
  EXPECT_TRUE(receiver.open(intact).ok());  // the failure did not advance the counter

  FrameCipher other(filled<32>(8));
  Bytes foreign = sender.seal({payload}).value();
  Bytes foreign_body(foreign.begin() + 4, foreign.end());
  EXPECT_FALSE(other.open(foreign_body).ok());
  Bytes short_frame(kTagBytes - 1);
  EXPECT_FALSE(receiver.open(short_frame).ok());
}

TEST(ProtocolTest, AddressesRoundTrip) {
  AddressesMessage message;
  message.listen_port = 7101;
  message.entries.push_back(AddressEntry{"127.0.0.1", 7102, filled<32>(1)});
  message.entries.push_back(AddressEntry{"::1", 7103, filled<32>(2)});
  Bytes encoded = encode_addresses(message);
  Result<AddressesMessage> decoded = decode_addresses(encoded);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(*decoded, message);

  AddressesMessage empty;
  EXPECT_EQ(encode_addresses(empty), (Bytes{0, 0, 0, 0, 0, 0}));
  EXPECT_TRUE(decode_addresses(encode_addresses(empty)).ok());
}

TEST(ProtocolTest, AddressesDecoderRejectsHostileInput) {
  auto encode_one = [](const std::string& host, uint16_t port) {
    Writer writer;
    writer.u16(1);
    writer.u32(1);
    writer.string(host);
    writer.u16(port);
    writer.fixed(filled<32>(3).span());
    return writer.take();
  };
  EXPECT_TRUE(decode_addresses(encode_one("10.0.0.1", 1)).ok());
  EXPECT_EQ(decode_addresses(encode_one("localhost", 1)).error().code, "invalid_addresses");
  EXPECT_EQ(decode_addresses(encode_one("010.0.0.1", 1)).error().code, "invalid_addresses");
  EXPECT_EQ(decode_addresses(encode_one("::FFFF:1", 1)).error().code, "invalid_addresses");
  EXPECT_EQ(decode_addresses(encode_one("10.0.0.1", 0)).error().code, "invalid_addresses");
  EXPECT_EQ(decode_addresses(encode_one(std::string(kMaxHostBytes + 1, '1'), 1)).error().code,
            "oversized");

  Writer too_many;
  too_many.u16(0);
  too_many.u32(kMaxAddressesPerMessage + 1);
  EXPECT_EQ(decode_addresses(too_many.bytes()).error().code, "invalid_addresses");

  Writer huge_count;  // a count the payload cannot back: fails without allocating for it
  huge_count.u16(0);
  huge_count.u32(0xffffffff);
  EXPECT_FALSE(decode_addresses(huge_count.bytes()).ok());

  Bytes trailing = encode_one("10.0.0.1", 1);
  trailing.push_back(0);
  EXPECT_EQ(decode_addresses(trailing).error().code, "trailing_bytes");
}

}  // namespace
}  // namespace tally::p2p
