// Durable evidence files: a file becomes visible under its final name only once its bytes are on
// disk (temp name in the same directory, write, fsync, rename, fsync the directory), so a crash
// leaves either the whole file or a temp file that recovery removes (ARCHITECTURE.md rule 1).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"

namespace kiosk::journal {

struct FileDigest {
  std::uint64_t size = 0;
  std::string sha256_hex;  // 64 lowercase hex digits
};

// Prefix of every temp file this module writes; recovery removes files that carry it.
inline constexpr std::string_view kTempPrefix = ".tmp-";

[[nodiscard]] bool is_temp_name(std::string_view file_name);

// Writes `bytes` to `final_path` atomically and durably; returns their size and SHA-256.
Result<FileDigest> write_file_atomically(const std::filesystem::path& final_path, std::span<const std::uint8_t> bytes);
// The same for the content of `source` (copied in chunks, hashed while copied).
Result<FileDigest> copy_file_atomically(const std::filesystem::path& final_path, const std::filesystem::path& source);
// Size and SHA-256 of a file as it is on disk now.
Result<FileDigest> digest_file(const std::filesystem::path& file);
// Makes the directory entries of `directory` (creations, renames, removals) durable.
Result<void> fsync_directory(const std::filesystem::path& directory);
// Creates `directory` if needed and makes its entry durable in its parent.
Result<void> ensure_directory_durable(const std::filesystem::path& directory);

std::string sha256_hex(std::span<const std::uint8_t> bytes);

}  // namespace kiosk::journal
