// Chunked AES-256-GCM encryption of one evidence file (the STREAM construction as used by age):
// constant memory in both directions, and plaintext released only after every chunk verified.
// The byte layout is specified in FORMAT.md, section "Encrypted stream".
#pragma once

#include "kiosk/core/error.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

namespace kiosk::sync::package {

inline constexpr std::size_t kChunkBytes = 64 * 1024;

// The per-package data key. Its destructor wipes the bytes (OPENSSL_cleanse).
struct DataKey {
  std::array<std::uint8_t, 32> bytes;

  ~DataKey();  // still an aggregate: DataKey{{...}} works
};

Result<DataKey> random_data_key();

struct StreamDigest {
  std::uint64_t plaintext_bytes = 0, ciphertext_bytes = 0;
  std::string plaintext_sha256, ciphertext_sha256;  // lowercase hex
};

// file_id: 16 random bytes stored in the stream header and bound into every chunk's key and AAD,
// so that chunks of two files cannot be swapped. Reads `in_fd` to EOF, writes the sealed stream
// to `out_fd`.
Result<StreamDigest> seal_stream(int in_fd, int out_fd, const DataKey& key, std::span<const std::uint8_t, 16> file_id);

// Verifies every chunk and writes plaintext to `out_path` via a temp file that is fsync'd and
// renamed only after the final chunk verified (nothing is released before); on any failure the
// temp is removed.
Result<StreamDigest> open_stream(int in_fd, const std::filesystem::path& out_path, const DataKey& key);

// Same, verifying only (no output), for head office and `evidence verify` without --decrypt-to.
Result<StreamDigest> verify_stream(int in_fd, const DataKey& key);

}  // namespace kiosk::sync::package
