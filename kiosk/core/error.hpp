// Errors are values: every fallible function returns Result<T>. An Error carries a stable,
// machine-readable code (UPPER_SNAKE_CASE, never renamed once shipped) and a message a person
// can act on. Exceptions never cross a module boundary.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace kiosk {

struct Error {
  std::string code;     // stable identifier, e.g. "CONFIG_BAD_VALUE"
  std::string message;  // what went wrong and what to do about it; never personal data

  [[nodiscard]] std::string to_string() const { return code + ": " + message; }
};

template <class T>
using Result = std::expected<T, Error>;

// Shorthand for `return fail("CODE", "message");` in a function returning Result<T>.
[[nodiscard]] inline std::unexpected<Error> fail(std::string code, std::string message) {
  return std::unexpected<Error>(Error{std::move(code), std::move(message)});
}

}  // namespace kiosk
