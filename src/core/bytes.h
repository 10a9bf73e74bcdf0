#pragma once
// Byte containers and hex text. Fixed-size values (keys, hashes, signatures) use FixedBytes<N>
// so their size is part of the type and cannot be confused at runtime.

#include <array>
#include <bit>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace tally {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

inline ByteSpan as_bytes(std::string_view text) {
  return ByteSpan(reinterpret_cast<const uint8_t*>(text.data()), text.size());
}

// Lowercase hex.
std::string to_hex(ByteSpan bytes);
// The same, appended to `out` (no string per value where many are written).
void append_hex(std::string& out, ByteSpan bytes);

// Accepts upper or lower case; rejects odd length and non-hex characters.
Result<Bytes> from_hex(std::string_view text);

// Parses exactly `out.size()` bytes of hex into `out`.
Status from_hex_into(std::string_view text, std::span<uint8_t> out);

// The 8 bytes at `bytes` as a word in the machine's byte order (no alignment needed).
inline uint64_t load_u64(const uint8_t* bytes) {
  uint64_t word;
  std::memcpy(&word, bytes, sizeof(word));
  return word;
}

// The 8 bytes at `bytes` as a big-endian word: comparing such words compares the bytes in
// lexicographic order.
inline uint64_t load_u64_big_endian(const uint8_t* bytes) {
  const uint64_t word = load_u64(bytes);
  if constexpr (std::endian::native == std::endian::little)
    return __builtin_bswap64(word);
  return word;
}

template <size_t N>
struct FixedBytes {
  static constexpr size_t kSize = N;
  std::array<uint8_t, N> data{};

  // Word by word instead of the defaulted comparisons, which call the C library's memcmp:
  // keys and hashes are compared in every table lookup and sort on a node's hot paths, and the
  // out-of-line call cost more than the comparison. The order is the same: lexicographic bytes.
  bool operator==(const FixedBytes& other) const {
    if constexpr (N % 8 == 0) {
      uint64_t difference = 0;
      for (size_t offset = 0; offset < N; offset += 8)
        difference |= load_u64(data.data() + offset) ^ load_u64(other.data.data() + offset);
      return difference == 0;
    } else {
      return data == other.data;
    }
  }
  std::strong_ordering operator<=>(const FixedBytes& other) const {
    if constexpr (N % 8 == 0) {
      for (size_t offset = 0; offset < N; offset += 8) {
        const uint64_t left = load_u64_big_endian(data.data() + offset);
        const uint64_t right = load_u64_big_endian(other.data.data() + offset);
        if (left != right)
          return left <=> right;
      }
      return std::strong_ordering::equal;
    } else {
      return data <=> other.data;
    }
  }

  ByteSpan span() const { return ByteSpan(data.data(), N); }
  std::span<uint8_t> mutable_span() { return std::span<uint8_t>(data.data(), N); }
  std::string hex() const { return to_hex(span()); }
  bool is_zero() const {
    for (uint8_t byte : data) {
      if (byte != 0)
        return false;
    }
    return true;
  }

  static Result<FixedBytes> from_hex(std::string_view text) {
    FixedBytes value;
    Status status = from_hex_into(text, value.mutable_span());
    if (!status.ok())
      return status.error();
    return value;
  }
  static FixedBytes from_span(ByteSpan bytes) {
    TALLY_ASSERT_MSG(bytes.size() == N, "FixedBytes::from_span size mismatch");
    FixedBytes value;
    std::copy(bytes.begin(), bytes.end(), value.data.begin());
    return value;
  }

  template <typename H>
  friend H AbslHashValue(H state, const FixedBytes& value) {
    return H::combine_contiguous(std::move(state), value.data.data(), N);
  }
};

// First 8 bytes as a machine word: a good hash for values that are already uniformly random
// (hashes, public keys). Used only for in-memory tables, never for anything persisted or sent.
template <size_t N>
struct FixedBytesHasher {
  size_t operator()(const FixedBytes<N>& value) const {
    static_assert(N >= sizeof(size_t));
    size_t word = 0;
    for (size_t index = 0; index < sizeof(size_t); ++index) {
      word = (word << 8) | value.data[index];
    }
    return word;
  }
};

}  // namespace tally
