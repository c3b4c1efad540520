// Feeds arbitrary bytes to the package's JSON parsers (manifest.json, keys.json and the canonical
// JSON encoder): every outcome is a value or one of their documented errors; whatever is accepted
// re-serialises to exactly the bytes given (only canonical input is accepted), canonicalising is a
// fixed point, and nothing crashes or hangs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sync/package/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kiosk::sync::package;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto manifest = parse_manifest(text)) {
    auto again = serialize_manifest(*manifest);
    if (!again || *again != text) __builtin_trap();
  } else if (manifest.error().code != "PACKAGE_MANIFEST_INVALID" &&
             manifest.error().code != "PACKAGE_SUITE_UNSUPPORTED") {
    __builtin_trap();
  }

  if (auto keys = parse_keys(text)) {
    auto again = serialize_keys(*keys);
    if (!again || *again != text) __builtin_trap();
  } else if (keys.error().code != "PACKAGE_KEYS_INVALID") {
    __builtin_trap();
  }

  if (auto canonical = canonicalize_json(text)) {
    auto twice = canonicalize_json(*canonical);
    if (!twice || *twice != *canonical) __builtin_trap();
  } else if (canonical.error().code != "PACKAGE_JSON_INVALID") {
    __builtin_trap();
  }
  return 0;
}
