// The six certificate operations of REQ-30, in the order the kiosk offers them.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace kiosk {

enum class Operation { apply, renew, reissue, freeze, unfreeze, revoke };

inline constexpr std::array<Operation, 6> kAllOperations{Operation::apply,  Operation::renew,    Operation::reissue,
                                                         Operation::freeze, Operation::unfreeze, Operation::revoke};

// Stable identifiers, used in configuration, logs, the rule pack and catalog keys.
constexpr std::string_view to_string(Operation op) {
  switch (op) {
    case Operation::apply: return "apply";
    case Operation::renew: return "renew";
    case Operation::reissue: return "reissue";
    case Operation::freeze: return "freeze";
    case Operation::unfreeze: return "unfreeze";
    case Operation::revoke: return "revoke";
  }
  return "apply";
}

constexpr std::optional<Operation> operation_from_string(std::string_view text) {
  for (const Operation op : kAllOperations) {
    if (to_string(op) == text) return op;
  }
  return std::nullopt;
}

}  // namespace kiosk
