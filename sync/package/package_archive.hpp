// A package directory as one byte stream for the resumable upload (FORMAT.md, "Archive for
// upload"): a restricted, deterministic POSIX ustar archive. The kiosk reads it at any offset
// without writing a copy; head office extracts it strictly before verify_package.
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "kiosk/core/error.hpp"

namespace kiosk::sync::package {

inline constexpr std::size_t kArchiveBlockSize = 512;
// The largest size an 11-digit octal ustar size field holds (8 GiB - 1).
inline constexpr std::uint64_t kMaxArchiveMemberBytes = 077777777777ULL;

// Random access over the archive of one package directory, generated on the fly: headers are
// built from the file list, file bytes are read from the package's files with pread. Memory does
// not depend on the files' sizes. The package's files are held open from open() on.
class PackageArchiveReader {
 public:
  // Lists `package_dir` (regular files with package file names only: PACKAGE_UNEXPECTED_FILE
  // otherwise; PACKAGE_ARCHIVE_TOO_LARGE for a file beyond the ustar size field) and computes the
  // archive's SHA-256 by reading it once.
  static Result<PackageArchiveReader> open(const std::filesystem::path& package_dir);

  PackageArchiveReader(PackageArchiveReader&& other) noexcept;
  PackageArchiveReader& operator=(PackageArchiveReader&& other) noexcept;
  PackageArchiveReader(const PackageArchiveReader&) = delete;
  PackageArchiveReader& operator=(const PackageArchiveReader&) = delete;
  ~PackageArchiveReader();

  [[nodiscard]] std::uint64_t size() const { return size_; }
  [[nodiscard]] std::string sha256() const { return sha256_hex_; }  // lowercase hex of the whole archive
  // The member names in archive order (byte-wise sorted).
  [[nodiscard]] std::vector<std::string> member_names() const;

  // Fills `out` from archive offset `offset`; returns fewer bytes only at the end of the archive
  // (0 at offset == size()). PACKAGE_ARCHIVE_RANGE for offset > size(); PACKAGE_ARCHIVE_SOURCE_CHANGED
  // when a file read for the range no longer has the size or modification time it had at open();
  // PACKAGE_IO_FAILED for a read error.
  Result<std::size_t> read_at(std::uint64_t offset, std::span<std::uint8_t> out);

 private:
  struct Member {
    std::string name;
    int fd = -1;
    std::uint64_t size = 0;
    std::int64_t mtime_sec = 0;
    std::int64_t mtime_nsec = 0;
    std::uint64_t header_offset = 0;  // where the member's header block starts in the archive
  };

  PackageArchiveReader() = default;
  void close_all();
  Result<void> read_member_data(const Member& member, std::uint64_t offset_in_data, std::span<std::uint8_t> out);

  std::vector<Member> members_;
  std::uint64_t size_ = 0;
  std::string sha256_hex_;
};

struct ExtractLimits {
  std::size_t max_files = 1024;
  std::uint64_t max_file_bytes = kMaxArchiveMemberBytes;
  std::uint64_t max_total_bytes = 32ULL * 1024 * 1024 * 1024;
};

struct ExtractedPackage {
  std::filesystem::path directory;  // out_dir
  std::vector<std::string> files;   // in archive order
  std::uint64_t archive_bytes = 0;  // bytes read from archive_fd
  std::string archive_sha256;       // lowercase hex of those bytes
};

// Reads a whole archive from `archive_fd` (from its current position to its end; a pipe works)
// and creates the package directory `out_dir` from it, accepting only what PackageArchiveReader
// writes: every header's checksum, magic and fixed fields, type '0' only, package file names only,
// each name once and in byte-wise order, manifest.json, manifest.sig and keys.json present, zero
// padding, two zero end blocks and nothing after (PACKAGE_ARCHIVE_INVALID naming what and the archive
// offset). Limits give PACKAGE_ARCHIVE_LIMIT_EXCEEDED before the data is read. The files are written into a
// fresh temporary directory beside `out_dir`, each fsynced, the directory fsynced and renamed to
// `out_dir` without replacing anything (PACKAGE_OUTPUT_EXISTS), and the parent fsynced: on any
// failure nothing appears under `out_dir` and the temporary directory is removed. The package's
// contents are not verified here: call verify_package on the result.
Result<ExtractedPackage> extract_package_archive(int archive_fd, const std::filesystem::path& out_dir,
                                                 ExtractLimits limits = {});

}  // namespace kiosk::sync::package
