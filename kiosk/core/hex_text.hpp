// Hashes and ids travel as lowercase hex text (manifests, receipts, upload metadata, object names);
// one check for that spelling, so that no reader accepts an uppercase or short variant.
#pragma once

#include <algorithm>
#include <cstddef>
#include <string_view>

namespace kiosk {

// True when `text` is exactly `length` characters of [0-9a-f].
inline bool is_lower_hex(std::string_view text, std::size_t length) {
  return text.size() == length &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace kiosk
