#include "crypto/sha256.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace tally {
namespace {

std::string digest_hex(std::string_view text) {
  return sha256(as_bytes(text)).hex();
}

// FIPS 180-2 appendix B and the NIST example values.
TEST(Sha256Test, EmptyMessage) {
  EXPECT_EQ(digest_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, Abc) {
  EXPECT_EQ(digest_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(Sha256Test, TwoBlockMessage448Bits) {
  EXPECT_EQ(digest_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(Sha256Test, Message896Bits) {
  EXPECT_EQ(
      digest_hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmn"
                 "opqklmnopqrlmnopqrsmnopqrstnopqrstu"),
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

TEST(Sha256Test, OneMillionA) {
  std::string message(1'000'000, 'a');
  EXPECT_EQ(digest_hex(message),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, PartsOfKnownVector) {
  std::string_view first = "abcdbcdecdefdefgefghfghighijhijk";
  std::string_view second = "ijkljklmklmnlmnomnopnopq";
  EXPECT_EQ(sha256_parts({as_bytes(first), as_bytes(second)}).hex(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256_parts({}).hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(sha256_parts({ByteSpan(), as_bytes("abc"), ByteSpan()}).hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

RC_GTEST_PROP(Sha256Property, PartsEqualsDigestOfConcatenation,
              (const std::vector<uint8_t>& first, const std::vector<uint8_t>& second,
               const std::vector<uint8_t>& third)) {
  Bytes concatenation = first;
  concatenation.insert(concatenation.end(), second.begin(), second.end());
  concatenation.insert(concatenation.end(), third.begin(), third.end());
  RC_ASSERT(sha256_parts({first, second, third}) == sha256(concatenation));
  RC_ASSERT(sha256_parts({concatenation}) == sha256(concatenation));
}

RC_GTEST_PROP(Sha256Property, DifferentMessagesGiveDifferentDigests,
              (const std::vector<uint8_t>& message, uint8_t extra)) {
  Bytes longer = message;
  longer.push_back(extra);
  RC_ASSERT(sha256(message) != sha256(longer));
}

// The context is reused per thread: each digest must start from a clean state, whatever came
// before (including a digest of parts, or a long message).
TEST(Sha256Test, ManyDigestsInARowStayIndependent) {
  const std::string abc_digest = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
  std::vector<Hash256> forward;
  for (int index = 0; index < 500; ++index) {
    std::string message(static_cast<size_t>(index), static_cast<char>('a' + index % 26));
    forward.push_back(sha256(as_bytes(message)));
    ASSERT_EQ(digest_hex("abc"), abc_digest) << index;
  }
  for (int index = 499; index >= 0; --index) {
    std::string message(static_cast<size_t>(index), static_cast<char>('a' + index % 26));
    ASSERT_EQ(sha256(as_bytes(message)), forward[static_cast<size_t>(index)]) << index;
    ASSERT_EQ(sha256_parts({as_bytes(message), as_bytes("abc")}), sha256(as_bytes(message + "abc")))
        << index;
  }
  std::string long_message(100'000, 'x');
  (void)sha256(as_bytes(long_message));
  EXPECT_EQ(digest_hex("abc"), abc_digest);
  EXPECT_EQ(digest_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Sha256Test, ThreadsDoNotShareState) {
  const Hash256 expected = sha256(as_bytes("abc"));
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (size_t thread = 0; thread < failures.size(); ++thread) {
    threads.emplace_back([&, thread] {
      std::string filler(static_cast<size_t>(1000 + thread), 'z');
      for (int round = 0; round < 500; ++round) {
        (void)sha256(as_bytes(filler));
        if (sha256(as_bytes("abc")) != expected) {
          ++failures[thread];
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  for (int count : failures) {
    EXPECT_EQ(count, 0);
  }
}

}  // namespace
}  // namespace tally
