#include "sync/package/package_reader.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <set>
#include <string>
#include <system_error>
#include <utility>

#include "kiosk/core/journal/atomic_file.hpp"
#include "sync/package/stream_cipher.hpp"

namespace kiosk::sync::package {
namespace {

namespace fs = std::filesystem;

// A manifest.sig holds one DER ECDSA P-256 signature (at most 72 bytes); anything far larger is
// not one and is not read.
constexpr std::size_t kMaxSignatureBytes = 256;

std::unexpected<Error> io_failure(const std::string& what) {
  return fail("PACKAGE_IO_FAILED", what + ": " + std::strerror(errno));
}

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(Descriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }

 private:
  int fd_;
};

// Opens a package member for reading: a regular file, never through a symbolic link.
Result<Descriptor> open_member(const fs::path& package_dir, std::string_view name, struct stat& info) {
  Descriptor fd(::open((package_dir / name).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (fd.get() < 0) {
    if (errno == ENOENT) return fail("PACKAGE_FILE_MISSING", "the package has no " + std::string(name));
    if (errno == ELOOP) return fail("PACKAGE_UNEXPECTED_FILE", std::string(name) + " is a symbolic link");
    return io_failure("cannot open " + std::string(name));
  }
  if (::fstat(fd.get(), &info) != 0) return io_failure("cannot inspect " + std::string(name));
  if (!S_ISREG(info.st_mode)) return fail("PACKAGE_UNEXPECTED_FILE", std::string(name) + " is not a regular file");
  return fd;
}

// Reads a small member whole; larger than `limit` is `too_large_code`, before reading a byte.
Result<std::string> read_member(const fs::path& package_dir, std::string_view name, std::size_t limit,
                                const char* too_large_code) {
  struct stat info {};
  auto fd = open_member(package_dir, name, info);
  if (!fd) return std::unexpected(fd.error());
  if (static_cast<std::uint64_t>(info.st_size) > limit) {
    return fail(too_large_code, std::string(name) + " is " + std::to_string(info.st_size) + " bytes, more than the " +
                                    std::to_string(limit) + " allowed");
  }
  std::string bytes(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t step = ::read(fd->get(), bytes.data() + done, bytes.size() - done);
    if (step < 0 && errno == EINTR) continue;
    if (step < 0) return io_failure("cannot read " + std::string(name));
    if (step == 0) break;
    done += static_cast<std::size_t>(step);
  }
  bytes.resize(done);
  return bytes;
}

std::vector<const ManifestEvidence*> all_evidence(const Manifest& manifest) {
  std::vector<const ManifestEvidence*> items;
  for (const auto& step : manifest.steps) {
    for (const auto& item : step.evidence) items.push_back(&item);
  }
  return items;
}

Result<void> check_membership(const fs::path& package_dir, const Manifest& manifest) {
  std::set<std::string> expected{std::string(kManifestFileName), std::string(kSignatureFileName),
                                 std::string(kKeysFileName)};
  for (const auto* item : all_evidence(manifest)) expected.insert(item->stream_file);
  std::set<std::string> present;
  std::error_code error;
  for (fs::directory_iterator entry(package_dir, error), end; !error && entry != end; entry.increment(error)) {
    const std::string name = entry->path().filename().string();
    if (!expected.contains(name)) {
      return fail("PACKAGE_UNEXPECTED_FILE", "the package holds " + name + ", which the manifest does not list");
    }
    if (!entry->is_regular_file(error) || entry->is_symlink(error)) {
      return fail("PACKAGE_UNEXPECTED_FILE", name + " is not a regular file");
    }
    present.insert(name);
  }
  if (error) return fail("PACKAGE_IO_FAILED", "cannot list the package directory: " + error.message());
  for (const auto& name : expected) {
    if (!present.contains(name)) return fail("PACKAGE_FILE_MISSING", "the package has no " + name);
  }
  return {};
}

Result<void> check_ciphertext(const fs::path& package_dir, const ManifestEvidence& item) {
  struct stat info {};
  {
    auto fd = open_member(package_dir, item.stream_file, info);
    if (!fd) return std::unexpected(fd.error());
  }
  // The size first: a wrong size needs no hashing of what may be gigabytes.
  if (static_cast<std::uint64_t>(info.st_size) != item.ciphertext_size) {
    return fail("PACKAGE_CIPHERTEXT_HASH_MISMATCH", item.stream_file + " is " + std::to_string(info.st_size) +
                                                        " bytes; the manifest says " +
                                                        std::to_string(item.ciphertext_size));
  }
  auto digest = journal::digest_file(package_dir / item.stream_file);
  if (!digest) return std::unexpected(digest.error());
  if (digest->size != item.ciphertext_size || digest->sha256_hex != item.ciphertext_sha256) {
    return fail("PACKAGE_CIPHERTEXT_HASH_MISMATCH",
                item.stream_file + " does not have the SHA-256 the signed manifest records");
  }
  return {};
}

std::string output_name(const ManifestEvidence& item) {
  return item.stream_file.substr(0, item.stream_file.size() - kStreamFileSuffix.size());
}

// Removes the staging folder however open_package leaves.
class StagingGuard {
 public:
  explicit StagingGuard(fs::path path) : path_(std::move(path)) {}
  StagingGuard(const StagingGuard&) = delete;
  StagingGuard& operator=(const StagingGuard&) = delete;
  ~StagingGuard() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }

 private:
  fs::path path_;
};

Result<void> open_one(const fs::path& package_dir, const ManifestEvidence& item, const DataKey& key,
                      const fs::path& staged) {
  struct stat info {};
  auto fd = open_member(package_dir, item.stream_file, info);
  if (!fd) return std::unexpected(fd.error());
  auto digest = open_stream(fd->get(), staged, key);
  if (!digest) return std::unexpected(digest.error());
  // The ciphertext is checked again: the file could have changed since verify_package read it.
  if (digest->ciphertext_bytes != item.ciphertext_size || digest->ciphertext_sha256 != item.ciphertext_sha256) {
    return fail("PACKAGE_CIPHERTEXT_HASH_MISMATCH", item.stream_file + " changed while the package was opened");
  }
  if (digest->plaintext_bytes != item.plaintext_size || digest->plaintext_sha256 != item.plaintext_sha256) {
    return fail("PACKAGE_PLAINTEXT_HASH_MISMATCH",
                item.stream_file + " decrypts to content whose size or SHA-256 differs from the manifest");
  }
  return {};
}

}  // namespace

Result<VerifiedPackage> verify_package(const fs::path& package_dir, EVP_PKEY* device_public_key) {
  std::error_code error;
  if (!fs::is_directory(fs::symlink_status(package_dir, error))) {
    return fail("PACKAGE_FILE_MISSING", "the package directory " + package_dir.filename().string() + " does not exist");
  }
  auto manifest_bytes = read_member(package_dir, kManifestFileName, kMaxManifestBytes, "PACKAGE_MANIFEST_INVALID");
  if (!manifest_bytes) return std::unexpected(manifest_bytes.error());
  auto signature = read_member(package_dir, kSignatureFileName, kMaxSignatureBytes, "PACKAGE_SIGNATURE_INVALID");
  if (!signature) return std::unexpected(signature.error());

  // Authenticate before interpreting: the manifest parser sees only bytes the device signed.
  const std::span<const std::uint8_t> signature_bytes(reinterpret_cast<const std::uint8_t*>(signature->data()),
                                                      signature->size());
  if (auto valid = verify_manifest_signature(*manifest_bytes, signature_bytes, device_public_key); !valid) {
    return std::unexpected(valid.error());
  }
  auto manifest = parse_manifest(*manifest_bytes);
  if (!manifest) return std::unexpected(manifest.error());

  auto keys_bytes = read_member(package_dir, kKeysFileName, kMaxKeysBytes, "PACKAGE_KEYS_INVALID");
  if (!keys_bytes) return std::unexpected(keys_bytes.error());
  auto keys = parse_keys(*keys_bytes);
  if (!keys) return std::unexpected(keys.error());
  for (const auto& recipient : manifest->recipients) {
    const bool wrapped =
        std::any_of(keys->begin(), keys->end(), [&](const WrappedKey& key) { return key.recipient_id == recipient; });
    if (!wrapped) {
      return fail("PACKAGE_KEYS_INVALID", "keys.json holds no wrapped key for recipient " + recipient.substr(0, 16) +
                                              "..., which the manifest names");
    }
  }

  if (auto members = check_membership(package_dir, *manifest); !members) return std::unexpected(members.error());
  for (const auto* item : all_evidence(*manifest)) {
    if (auto ok = check_ciphertext(package_dir, *item); !ok) return std::unexpected(ok.error());
  }
  return VerifiedPackage{std::move(*manifest), std::move(*keys)};
}

Result<OpenedPackage> open_package(const fs::path& package_dir, EVP_PKEY* device_public_key,
                                   EVP_PKEY* recipient_private_key, const fs::path& out_dir) {
  auto verified = verify_package(package_dir, device_public_key);
  if (!verified) return std::unexpected(verified.error());
  const auto& manifest = verified->manifest;

  const std::string own_id = recipient_private_key ? recipient_id_of(recipient_private_key) : std::string();
  const auto wrapped =
      std::find_if(verified->wrapped_keys.begin(), verified->wrapped_keys.end(),
                   [&](const WrappedKey& key) { return !own_id.empty() && key.recipient_id == own_id; });
  if (wrapped == verified->wrapped_keys.end()) {
    return fail("PACKAGE_WRONG_RECIPIENT", "the package holds no data key wrapped for this recipient key");
  }
  auto data_key = unwrap_data_key(*wrapped, recipient_private_key);
  if (!data_key) {
    return fail("PACKAGE_KEY_UNWRAP_FAILED",
                "the wrapped data key for this recipient does not open: " + data_key.error().to_string());
  }

  if (auto made = journal::ensure_directory_durable(out_dir); !made) return std::unexpected(made.error());
  const auto items = all_evidence(manifest);
  std::error_code error;
  for (const auto* item : items) {
    if (fs::exists(fs::symlink_status(out_dir / output_name(*item), error))) {
      return fail("PACKAGE_OUTPUT_EXISTS", output_name(*item) + " is already in the output folder; nothing opened");
    }
  }
  // Every file is decrypted and checked here first, so that a failure releases nothing at all.
  const fs::path staging = out_dir / (".opening-" + manifest.package_id);
  fs::remove_all(staging, error);
  if (error || !fs::create_directory(staging, error) || error) {
    return fail("PACKAGE_IO_FAILED", "cannot create the staging folder: " + error.message());
  }
  const StagingGuard guard(staging);
  for (const auto* item : items) {
    if (auto opened = open_one(package_dir, *item, *data_key, staging / output_name(*item)); !opened) {
      return std::unexpected(opened.error());
    }
  }

  OpenedPackage result{manifest, {}};
  for (const auto* item : items) {
    const fs::path released = out_dir / output_name(*item);
    if (::renameat2(AT_FDCWD, (staging / output_name(*item)).c_str(), AT_FDCWD, released.c_str(), RENAME_NOREPLACE) !=
        0) {
      return io_failure("cannot move " + output_name(*item) + " into the output folder");
    }
    result.files.push_back(released);
  }
  if (auto synced = journal::fsync_directory(out_dir); !synced) return std::unexpected(synced.error());
  return result;
}

}  // namespace kiosk::sync::package
