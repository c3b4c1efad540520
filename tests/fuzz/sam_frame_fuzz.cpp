// Feeds arbitrary serial bytes, in arbitrary pieces, to the SAM reply decoder: every outcome is a
// response or a SAM_FRAME_* error, memory stays bounded, and nothing crashes or hangs.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "hal/idcard/sam_frame.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiosk::hal::idcard::ResponseDecoder decoder;
  // The first byte chooses how the rest is split, as a serial read would split it.
  const std::size_t piece = size > 0 ? (data[0] % 64) + 1 : 1;
  const std::span<const std::uint8_t> bytes(data, size);
  for (std::size_t at = size > 0 ? 1 : 0; at < size; at += piece) {
    decoder.feed(bytes.subspan(at, std::min(piece, size - at)));
    while (auto result = decoder.next()) {
      if (!*result && result->error().code.rfind("SAM_FRAME_", 0) != 0) __builtin_trap();
    }
    if (decoder.pending_bytes() > 2 * 2321) __builtin_trap();
  }
  return 0;
}
