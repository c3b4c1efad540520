// Feeds arbitrary bytes to the configuration reader and to the kiosk.toml schema on top of it.
// Whatever the bytes, the result is a value or a CONFIG_* error: no crash, no hang, no leak.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "kiosk/app/kiosk_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto config = kiosk::parse_kiosk_config(text, "fuzz.toml", "/etc/kiosk");
  if (!config && config.error().code.rfind("CONFIG_", 0) != 0) __builtin_trap();
  return 0;
}
