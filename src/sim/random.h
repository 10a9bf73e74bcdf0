#pragma once
// The simulator's only source of randomness: xoshiro256** seeded through splitmix64, with our
// own uniform, range and probability helpers. Standard distributions are never used: their
// output differs between standard libraries, and a seed must replay bit for bit everywhere.

#include <cstdint>
#include <vector>

#include "core/assert.h"
#include "crypto/sha256.h"

namespace tally::sim {

// Probabilities are integers in parts per million, so no floating point decides anything.
inline constexpr uint32_t kPpm = 1'000'000;

class Random {
 public:
  explicit Random(uint64_t seed) {
    uint64_t state = seed;
    for (uint64_t& word : state_)
      word = splitmix64(state);
  }

  uint64_t next() {
    uint64_t result = rotate_left(state_[1] * 5, 7) * 9;
    uint64_t shifted = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= shifted;
    state_[3] = rotate_left(state_[3], 45);
    return result;
  }

  // Uniform in [0, bound): rejection sampling, so no modulo bias. REQUIRES bound > 0.
  uint64_t below(uint64_t bound) {
    TALLY_ASSERT(bound > 0);
    uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound
    for (;;) {
      uint64_t value = next();
      if (value >= threshold)
        return value % bound;
    }
  }

  // Uniform in [low, high], both included. REQUIRES low <= high.
  uint64_t range(uint64_t low, uint64_t high) {
    TALLY_ASSERT(low <= high);
    if (high - low == UINT64_MAX)
      return next();
    return low + below(high - low + 1);
  }

  // True with probability ppm / 1'000'000.
  bool chance(uint32_t ppm) { return ppm != 0 && below(kPpm) < ppm; }
  bool coin() { return (next() >> 63) != 0; }

  template <typename T>
  const T& pick(const std::vector<T>& items) {
    TALLY_ASSERT(!items.empty());
    return items[below(items.size())];
  }

  // Fisher-Yates with our own uniform draws (std::shuffle's output is library-specific).
  template <typename T>
  void shuffle(std::vector<T>& items) {
    for (size_t index = items.size(); index > 1; --index) {
      size_t other = below(index);
      std::swap(items[index - 1], items[other]);
    }
  }

  Hash256 hash() {
    Hash256 value;
    for (size_t word = 0; word < 4; ++word) {
      uint64_t bits = next();
      for (size_t byte = 0; byte < 8; ++byte)
        value.data[word * 8 + byte] = uint8_t(bits >> (8 * byte));
    }
    return value;
  }

  // An independent stream for one concern (network, faults, workload...), so that drawing more
  // numbers for one concern does not shift every other one.
  Random fork() { return Random(next()); }

 private:
  static uint64_t rotate_left(uint64_t value, int shift) {
    return (value << shift) | (value >> (64 - shift));
  }
  static uint64_t splitmix64(uint64_t& state) {
    uint64_t value = (state += 0x9E3779B97F4A7C15ULL);
    value = (value ^ (value >> 30)) * 0xBF58476D1CE4E5B9ULL;
    value = (value ^ (value >> 27)) * 0x94D049BB133111EBULL;
    return value ^ (value >> 31);
  }

  uint64_t state_[4];
};

}  // namespace tally::sim
