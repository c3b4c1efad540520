// A guard run before a JSON parser sees outside bytes: nlohmann's parser copes with deep nesting,
// but building and tearing down a deeply nested tree is not cheap, and no message this product
// accepts nests more than a few levels. Shared by the gateway (requests) and the kiosk (answers).
#pragma once

#include <cstddef>
#include <string_view>

namespace kiosk {

// True when no array or object in `text` nests deeper than `limit` (brackets inside strings,
// escaped quotes included, are not counted). Does not validate the JSON otherwise.
constexpr bool json_nesting_within(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (const char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return false;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return true;
}

}  // namespace kiosk
