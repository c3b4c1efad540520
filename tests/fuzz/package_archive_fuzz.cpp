// Feeds arbitrary bytes to the package archive extractor, writing into a scratch directory: every
// outcome is an extracted package or a PACKAGE_* error; a refused archive leaves nothing behind; and
// an accepted one is canonical: archiving the extracted directory again gives back exactly the
// bytes given. The seed corpus holds valid archives (small packages, an empty stream, a member of
// exactly one block) and a few near misses.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "sync/package/package_archive.hpp"

namespace {

namespace fs = std::filesystem;

// A fresh scratch directory per input, removed afterwards, so that nothing outlives the run.
class ScratchDir {
 public:
  ScratchDir() {
    std::string name = (fs::temp_directory_path() / "package_archive_fuzz-XXXXXX").string();
    if (::mkdtemp(name.data()) == nullptr) __builtin_trap();
    path_ = name;
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  [[nodiscard]] const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kiosk::sync::package;
  static const int fd = ::memfd_create("package_archive_fuzz", 0);
  if (fd < 0) __builtin_trap();
  if (::ftruncate(fd, 0) != 0) __builtin_trap();
  if (size > 0 && ::pwrite(fd, data, size, 0) != static_cast<ssize_t>(size)) __builtin_trap();
  if (::lseek(fd, 0, SEEK_SET) != 0) __builtin_trap();

  const ScratchDir scratch;
  const fs::path out_dir = scratch.path() / "tx-00000001.csdcpkg";
  ExtractLimits limits;  // small, so that a hostile size costs neither disk nor time
  limits.max_files = 64;
  limits.max_file_bytes = 1024 * 1024;
  limits.max_total_bytes = 4 * 1024 * 1024;
  const auto extracted = extract_package_archive(fd, out_dir, limits);
  if (!extracted) {
    if (extracted.error().code.rfind("PACKAGE_", 0) != 0) __builtin_trap();
    if (!fs::is_empty(scratch.path())) __builtin_trap();  // a refused archive leaves nothing
    return 0;
  }
  if (extracted->archive_bytes != size) __builtin_trap();
  auto reader = PackageArchiveReader::open(out_dir);
  if (!reader || reader->size() != size || reader->sha256() != extracted->archive_sha256) __builtin_trap();
  std::vector<std::uint8_t> again(size);
  auto got = reader->read_at(0, again);
  if (!got || *got != size || (size > 0 && std::memcmp(again.data(), data, size) != 0)) __builtin_trap();
  return 0;
}
