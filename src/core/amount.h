#pragma once
// Amounts of TALLY as unsigned 64-bit base units. 1 TALLY = 10^9 units. No floating point:
// text is parsed and printed exactly, and every addition and subtraction is checked.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace tally {

inline constexpr uint64_t kUnitsPerTally = 1'000'000'000;
inline constexpr int kAmountDecimals = 9;

struct Amount {
  uint64_t units = 0;

  static constexpr Amount from_units(uint64_t units) { return Amount{units}; }
  static constexpr Amount zero() { return Amount{0}; }

  auto operator<=>(const Amount&) const = default;
  bool operator==(const Amount&) const = default;
};

// nullopt on overflow / underflow. Inline: every transfer applied runs several.
inline std::optional<Amount> checked_add(Amount left, Amount right) {
  uint64_t sum = 0;
  if (__builtin_add_overflow(left.units, right.units, &sum))
    return std::nullopt;
  return Amount{sum};
}
inline std::optional<Amount> checked_sub(Amount left, Amount right) {
  if (left.units < right.units)
    return std::nullopt;
  return Amount{left.units - right.units};
}

// Parses a TALLY decimal such as "12.5" or "0.000000001": digits, optionally a point followed by
// 1 to 9 digits. Rejects signs, spaces, exponents, more than 9 decimals and values that overflow.
Result<Amount> parse_amount(std::string_view text);

// Parses a count of base units: decimal digits only, no sign, must fit in uint64.
Result<Amount> parse_units(std::string_view text);

// "12.5", "0.000000001", "1000" — shortest exact TALLY decimal, no trailing zeros.
std::string format_amount(Amount amount);

// Base units as a decimal integer string, e.g. "12500000000".
std::string format_units(Amount amount);

}  // namespace tally
