#include "core/amount.h"

#include <limits>

namespace tally {
namespace {

constexpr uint64_t kMaxUnits = std::numeric_limits<uint64_t>::max();

Error amount_error(std::string message) {
  return make_error("invalid_amount", std::move(message));
}

bool is_digit(char character) {
  return character >= '0' && character <= '9';
}

// Appends `digits` to `value` (value * 10 + digit for each); false on overflow.
bool accumulate_digits(std::string_view digits, uint64_t& value) {
  for (char digit : digits) {
    uint64_t digit_value = static_cast<uint64_t>(digit - '0');
    if (value > (kMaxUnits - digit_value) / 10)
      return false;
    value = value * 10 + digit_value;
  }
  return true;
}

Status check_digits(std::string_view digits, std::string_view what) {
  if (digits.empty())
    return amount_error("missing digits " + std::string(what));
  for (char character : digits) {
    if (!is_digit(character)) {
      return amount_error("unexpected character '" + std::string(1, character) + "'");
    }
  }
  return Status::success();
}

}  // namespace

Result<Amount> parse_amount(std::string_view text) {
  if (text.empty())
    return amount_error("amount is empty");
  if (text.front() == '-')
    return amount_error("amount must not be negative");
  size_t point = text.find('.');
  std::string_view whole = text.substr(0, point);
  std::string_view fraction =
      point == std::string_view::npos ? std::string_view() : text.substr(point + 1);

  TALLY_TRY(check_digits(whole, "before the decimal point"));
  if (point != std::string_view::npos) {
    TALLY_TRY(check_digits(fraction, "after the decimal point"));
    if (fraction.size() > static_cast<size_t>(kAmountDecimals)) {
      return amount_error("at most 9 decimal places are allowed (1 unit = 0.000000001 TALLY)");
    }
  }

  uint64_t units = 0;
  bool fits = accumulate_digits(whole, units) && accumulate_digits(fraction, units);
  for (size_t padding = fraction.size(); fits && padding < static_cast<size_t>(kAmountDecimals);
       ++padding) {
    fits = accumulate_digits("0", units);
  }
  if (!fits)
    return amount_error("amount is too large");
  return Amount{units};
}

Result<Amount> parse_units(std::string_view text) {
  if (!text.empty() && text.front() == '-')
    return amount_error("amount must not be negative");
  TALLY_TRY(check_digits(text, "in base-unit amount"));
  uint64_t units = 0;
  if (!accumulate_digits(text, units))
    return amount_error("amount is too large");
  return Amount{units};
}

std::string format_amount(Amount amount) {
  std::string text = std::to_string(amount.units / kUnitsPerTally);
  uint64_t fraction = amount.units % kUnitsPerTally;
  if (fraction == 0)
    return text;
  std::string digits = std::to_string(fraction);
  digits.insert(0, static_cast<size_t>(kAmountDecimals) - digits.size(), '0');
  while (digits.back() == '0')
    digits.pop_back();
  return text + "." + digits;
}

std::string format_units(Amount amount) {
  return std::to_string(amount.units);
}

}  // namespace tally
