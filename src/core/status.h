#pragma once
// Expected failures are values, not exceptions: `Status` for operations with no result,
// `Result<T>` for operations that produce one. Each carries an `Error` with a stable
// machine-readable code (snake_case, part of the API contract) and a message for people.

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "core/assert.h"

namespace tally {

struct Error {
  std::string code;
  std::string message;

  bool operator==(const Error&) const = default;
};

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  static Status success() { return Status(); }

  bool ok() const { return !error_.has_value(); }
  const Error& error() const {
    TALLY_ASSERT_MSG(error_.has_value(), "error() called on a successful Status");
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT

  bool ok() const { return state_.index() == 0; }

  T& value() & {
    TALLY_ASSERT_MSG(ok(), "value() called on a failed Result");
    return std::get<0>(state_);
  }
  const T& value() const& {
    TALLY_ASSERT_MSG(ok(), "value() called on a failed Result");
    return std::get<0>(state_);
  }
  T&& value() && {
    TALLY_ASSERT_MSG(ok(), "value() called on a failed Result");
    return std::get<0>(std::move(state_));
  }
  const Error& error() const {
    TALLY_ASSERT_MSG(!ok(), "error() called on a successful Result");
    return std::get<1>(state_);
  }
  Status status() const { return ok() ? Status() : Status(error()); }

  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Error> state_;
};

inline Error make_error(std::string code, std::string message) {
  return Error{std::move(code), std::move(message)};
}

}  // namespace tally

// Returns the error of a failed Status or Result from the enclosing function, which may
// return either a Status or any Result<T> (both are constructible from an Error).
#define TALLY_TRY(expression)                 \
  do {                                        \
    auto&& tally_try_outcome_ = (expression); \
    if (!tally_try_outcome_.ok()) {           \
      return tally_try_outcome_.error();      \
    }                                         \
  } while (false)
