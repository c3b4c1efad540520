// Feeds arbitrary bytes as a sealed stream to verify_stream with a fixed data key: every outcome
// is a digest or a PACKAGE_* error, memory stays bounded (one chunk), and nothing crashes or hangs.
// The seed corpus holds valid streams sealed with this key and file id a0..af (the FORMAT.md vectors
// plus 1-, 100- and 65537-byte streams).
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>

#include "sync/package/stream_cipher.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const int fd = ::memfd_create("package_stream_fuzz", 0);
  if (fd < 0) __builtin_trap();
  if (::ftruncate(fd, 0) != 0) __builtin_trap();
  if (size > 0 && ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) __builtin_trap();
  if (::lseek(fd, 0, SEEK_SET) != 0) __builtin_trap();

  kiosk::sync::package::DataKey key{};
  for (std::size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<std::uint8_t>(i);
  const auto result = kiosk::sync::package::verify_stream(fd, key);
  if (result) {
    // A stream that verifies is exactly header + plaintext + one tag per chunk.
    const std::uint64_t chunks = result->plaintext_bytes == 0 ? 1 : (result->plaintext_bytes + 65535) / 65536;
    if (result->ciphertext_bytes != size || size != 30 + result->plaintext_bytes + 16 * chunks) {
      __builtin_trap();
    }
  } else if (result.error().code.rfind("PACKAGE_", 0) != 0) {
    __builtin_trap();
  }
  return 0;
}
