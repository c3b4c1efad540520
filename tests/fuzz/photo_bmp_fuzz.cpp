// Feeds arbitrary bytes, as a vendor's WLT decoder library might return them, to the BMP check
// that stands between that library and the screen: every outcome is a 102x126 RGB picture or
// PHOTO_DECODE_BAD_OUTPUT, and nothing reads outside the buffer.
#include <cstddef>
#include <cstdint>
#include <span>

#include "hal/idcard/photo_decoder.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto photo = kiosk::hal::idcard::photo_from_bmp(std::span<const std::uint8_t>(data, size));
  if (photo) {
    if (photo->rgb.size() != 102u * 126u * 3u) __builtin_trap();
  } else if (photo.error().code != "PHOTO_DECODE_BAD_OUTPUT") {
    __builtin_trap();
  }
  return 0;
}
