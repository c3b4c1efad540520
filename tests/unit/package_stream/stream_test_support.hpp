// Helpers shared by the package_stream tests: sealing and opening byte vectors through real file
// descriptors (memfd), a scratch directory, and deterministic test data.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "sync/package/stream_cipher.hpp"

namespace kiosk::sync::package::test {

using Bytes = std::vector<std::uint8_t>;

// An anonymous file holding `bytes`, positioned at its start.
class MemoryFile {
 public:
  explicit MemoryFile(std::span<const std::uint8_t> bytes = {}) : fd_(::memfd_create("stream", 0)) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t put = ::write(fd_, bytes.data() + done, bytes.size() - done);
      if (put <= 0) break;
      done += static_cast<std::size_t>(put);
    }
    ::lseek(fd_, 0, SEEK_SET);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  ~MemoryFile() { ::close(fd_); }
  int fd() const { return fd_; }

  Bytes contents() const {
    Bytes bytes(static_cast<std::size_t>(::lseek(fd_, 0, SEEK_END)));
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t got = ::pread(fd_, bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
      if (got <= 0) break;
      done += static_cast<std::size_t>(got);
    }
    return bytes;
  }

 private:
  int fd_;
};

inline Bytes random_bytes(std::size_t size, std::uint32_t seed) {
  std::mt19937 engine(seed);
  Bytes bytes(size);
  for (auto& byte : bytes) byte = static_cast<std::uint8_t>(engine());
  return bytes;
}

inline DataKey fixed_key(std::uint8_t first = 0) {
  DataKey key{};
  for (std::size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<std::uint8_t>(first + i);
  return key;
}

inline std::array<std::uint8_t, 16> fixed_file_id(std::uint8_t first = 0xa0) {
  std::array<std::uint8_t, 16> id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(first + i);
  return id;
}

inline Result<Bytes> seal_bytes(std::span<const std::uint8_t> plaintext, const DataKey& key,
                                std::span<const std::uint8_t, 16> file_id, StreamDigest* digest = nullptr) {
  MemoryFile in(plaintext);
  MemoryFile out;
  auto sealed = seal_stream(in.fd(), out.fd(), key, file_id);
  if (!sealed) return std::unexpected(sealed.error());
  if (digest != nullptr) *digest = *sealed;
  return out.contents();
}

// A fresh, empty directory under the test's temp dir, removed by its destructor.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "package_stream_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  // Every name in the directory, to show that nothing (not even a temp file) was left behind.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(path_)) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace kiosk::sync::package::test
