#pragma once
// Byte containers and hex text. Fixed-size values (keys, hashes, signatures) use FixedBytes<N>
// so their size is part of the type and cannot be confused at runtime.

#include <array>
#include <compare>
#include <cstddef>
#include <cstdint>
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

// Accepts upper or lower case; rejects odd length and non-hex characters.
Result<Bytes> from_hex(std::string_view text);

// Parses exactly `out.size()` bytes of hex into `out`.
Status from_hex_into(std::string_view text, std::span<uint8_t> out);

template <size_t N>
struct FixedBytes {
  static constexpr size_t kSize = N;
  std::array<uint8_t, N> data{};

  auto operator<=>(const FixedBytes&) const = default;
  bool operator==(const FixedBytes&) const = default;

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
