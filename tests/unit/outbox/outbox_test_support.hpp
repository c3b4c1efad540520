// Shared by the outbox tests (unit, power cut and the SIGKILL harness): a scratch state directory,
// sample packages with real directories, and the states a package may be found in after a crash.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "sync/outbox/outbox.hpp"

namespace kiosk::outbox::testing {

// A fresh directory under the system temp directory, removed with everything in it.
class TempStateDir {
 public:
  TempStateDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kiosk-outbox-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) root_ = pattern;
  }
  TempStateDir(const TempStateDir&) = delete;
  TempStateDir& operator=(const TempStateDir&) = delete;
  ~TempStateDir() {
    std::error_code ignored;
    if (!root_.empty()) std::filesystem::remove_all(root_, ignored);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return root_; }

 private:
  std::filesystem::path root_;
};

// A package whose directory (two small files) exists in `outbox_dir`, named after `n`.
inline PackageRef make_package(const std::filesystem::path& outbox_dir, int n, std::uint64_t size_bytes = 4096) {
  const std::string suffix = std::to_string(n);
  PackageRef package;
  package.directory_name = "pkg-" + suffix;
  package.package_id = "P" + suffix;
  package.transaction_id = "KIOSK-0001-" + suffix;
  package.size_bytes = size_bytes;
  package.manifest_sha256 = std::string(64, static_cast<char>('a' + n % 6));
  std::filesystem::create_directories(outbox_dir / package.directory_name);
  std::ofstream(outbox_dir / package.directory_name / "manifest.json") << "{\"n\":" << n << "}";
  std::ofstream(outbox_dir / package.directory_name / "chunk-0.bin") << std::string(64, 'x');
  return package;
}

inline PackageState after_recovery(PackageState state) {
  return state == PackageState::uploading ? PackageState::sealed : state;
}

// Where a package whose last acknowledged state was `acknowledged` may be after a crash and
// recover(): where it was, or one step on if the crash came after an operation's COMMIT reached
// the disk but before the caller heard of it (uploading may also have failed back to sealed).
// purge_due() takes a receipted package two steps (purgeable, then purged) in one call.
inline std::set<PackageState> allowed_after_crash(PackageState acknowledged) {
  std::set<PackageState> allowed{after_recovery(acknowledged)};
  if (const auto next = forward_state(acknowledged)) allowed.insert(after_recovery(*next));
  if (acknowledged == PackageState::receipted) allowed.insert(PackageState::purged);
  return allowed;  // uploading -> sealed on failure is already after_recovery(uploading)
}

}  // namespace kiosk::outbox::testing
