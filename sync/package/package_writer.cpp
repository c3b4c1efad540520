#include "sync/package/package_writer.hpp"

#include <fcntl.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>
#include <system_error>
#include <utility>

#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/time_text.hpp"
#include "sync/package/stream_cipher.hpp"

namespace kiosk::sync::package {
namespace {

namespace fs = std::filesystem;

std::unexpected<Error> io_failure(const std::string& what) {
  return fail("PACKAGE_IO_FAILED", what + ": " + std::strerror(errno));
}

class Descriptor {
 public:
  explicit Descriptor(int fd) : fd_(fd) {}
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const { return fd_; }
  // Closing reports errors (a delayed write error can surface here), so it is checked once.
  [[nodiscard]] bool close() {
    const int fd = std::exchange(fd_, -1);
    return ::close(fd) == 0;
  }

 private:
  int fd_;
};

// Removes the half-built directory unless the package was completed.
class TempDirectoryGuard {
 public:
  explicit TempDirectoryGuard(fs::path path) : path_(std::move(path)) {}
  TempDirectoryGuard(const TempDirectoryGuard&) = delete;
  TempDirectoryGuard& operator=(const TempDirectoryGuard&) = delete;
  ~TempDirectoryGuard() {
    if (armed_) {
      std::error_code ignored;
      fs::remove_all(path_, ignored);
    }
  }
  void release() { armed_ = false; }

 private:
  fs::path path_;
  bool armed_ = true;
};

Result<void> write_durably(const fs::path& file, std::string_view bytes) {
  Descriptor out(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (out.get() < 0) return io_failure("cannot create " + file.filename().string());
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t step = ::write(out.get(), bytes.data() + written, bytes.size() - written);
    if (step < 0 && errno == EINTR) continue;
    if (step <= 0) return io_failure("cannot write " + file.filename().string());
    written += static_cast<std::size_t>(step);
  }
  if (::fsync(out.get()) != 0) return io_failure("cannot fsync " + file.filename().string());
  if (!out.close()) return io_failure("cannot close " + file.filename().string());
  return {};
}

std::string timestamp(TimePoint time) { return utc_iso8601(time, TimePrecision::milliseconds); }

Result<std::string> random_package_id() {
  std::array<std::uint8_t, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return fail("PACKAGE_CRYPTO_FAILED", "the random generator could not produce a package id");
  }
  return lower_hex(bytes);
}

// The journal wrote these paths itself, but a package must never read outside its evidence
// directory, whatever a damaged database says.
bool is_safe_relative_path(const std::string& relative) {
  const fs::path path(relative);
  if (relative.empty() || path.is_absolute()) return false;
  return std::none_of(path.begin(), path.end(), [](const fs::path& part) { return part == ".." || part == "."; });
}

std::string stream_file_name(std::int64_t step_sequence, std::size_t evidence_index, std::string_view kind) {
  char prefix[48];
  std::snprintf(prefix, sizeof prefix, "s%03lld-e%02zu-", static_cast<long long>(step_sequence), evidence_index + 1);
  return std::string(prefix) + std::string(kind) + std::string(kStreamFileSuffix);
}

// Encrypts one journal evidence file into the package and checks it is what the journal committed.
Result<ManifestEvidence> seal_evidence(const journal::StoredEvidence& evidence, const fs::path& evidence_dir,
                                       const fs::path& package_dir, std::string stream_file, const DataKey& key) {
  if (!is_safe_relative_path(evidence.relative_path)) {
    return fail("PACKAGE_EVIDENCE_DAMAGED", "evidence row " + std::to_string(evidence.id) +
                                                " has a path outside the evidence directory; not sealed");
  }
  Descriptor in(::open((evidence_dir / evidence.relative_path).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (in.get() < 0) {
    if (errno == ENOENT) {
      return fail("PACKAGE_EVIDENCE_DAMAGED",
                  "evidence file " + evidence.relative_path + " is missing; the transaction cannot be sealed");
    }
    return io_failure("cannot read evidence file " + evidence.relative_path);
  }
  Descriptor out(::open((package_dir / stream_file).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (out.get() < 0) return io_failure("cannot create " + stream_file);
  std::array<std::uint8_t, 16> file_id{};
  if (RAND_bytes(file_id.data(), static_cast<int>(file_id.size())) != 1) {
    return fail("PACKAGE_CRYPTO_FAILED", "the random generator could not produce a file id");
  }
  auto digest = seal_stream(in.get(), out.get(), key, file_id);
  if (!digest) return std::unexpected(digest.error());
  if (digest->plaintext_bytes != evidence.size || digest->plaintext_sha256 != evidence.sha256_hex) {
    return fail("PACKAGE_EVIDENCE_DAMAGED", "evidence file " + evidence.relative_path +
                                                " differs from the size and SHA-256 the journal committed; not sealed");
  }
  if (::fsync(out.get()) != 0) return io_failure("cannot fsync " + stream_file);
  if (!out.close()) return io_failure("cannot close " + stream_file);
  return ManifestEvidence{evidence.kind,
                          std::move(stream_file),
                          digest->plaintext_bytes,
                          std::move(digest->plaintext_sha256),
                          digest->ciphertext_bytes,
                          std::move(digest->ciphertext_sha256)};
}

Result<std::vector<WrappedKey>> wrap_for_recipients(const DataKey& key, std::span<EVP_PKEY* const> recipients) {
  std::vector<WrappedKey> wrapped;
  for (EVP_PKEY* recipient : recipients) {
    auto one = wrap_data_key(key, recipient);
    if (!one) return std::unexpected(one.error());
    wrapped.push_back(std::move(*one));
  }
  std::sort(wrapped.begin(), wrapped.end(),
            [](const WrappedKey& a, const WrappedKey& b) { return a.recipient_id < b.recipient_id; });
  for (std::size_t i = 1; i < wrapped.size(); ++i) {
    if (wrapped[i].recipient_id == wrapped[i - 1].recipient_id) {
      return fail("PACKAGE_RECIPIENT_DUPLICATE", "the same recipient key is listed twice");
    }
  }
  return wrapped;
}

// Moves the finished directory into place without ever replacing an existing one, then makes the
// rename durable.
Result<void> publish(const fs::path& temp_dir, const fs::path& final_dir) {
  if (auto synced = journal::fsync_directory(temp_dir); !synced) return synced;
  if (::renameat2(AT_FDCWD, temp_dir.c_str(), AT_FDCWD, final_dir.c_str(), RENAME_NOREPLACE) != 0) {
    if (errno == EEXIST) {
      return fail("PACKAGE_EXISTS", "package " + final_dir.filename().string() + " already exists; not replaced");
    }
    return io_failure("cannot rename the package into place");
  }
  return journal::fsync_directory(final_dir.parent_path());
}

}  // namespace

std::string package_directory_name(journal::TxId transaction_id) {
  char name[40];
  std::snprintf(name, sizeof name, "tx-%08lld", static_cast<long long>(transaction_id));
  return std::string(name) + std::string(kPackageSuffix);
}

Result<SealedPackage> seal_package(const journal::TransactionRecord& record, const fs::path& evidence_dir,
                                   const fs::path& out_dir, EVP_PKEY* device_key, std::span<EVP_PKEY* const> recipients,
                                   const audit::Checkpoint& checkpoint, const Clock& clock) {
  if (record.state == TxState::open || !record.closed_at) {
    return fail("PACKAGE_TRANSACTION_OPEN",
                "transaction " + std::to_string(record.id) + " is still open; a package is sealed when it ends");
  }
  if (recipients.empty()) return fail("PACKAGE_NO_RECIPIENT", "a package needs at least one head-office recipient");
  if (!is_p256_key(device_key)) {
    return fail("PACKAGE_DEVICE_KEY_UNSUITABLE", "the device key must be an EC P-256 key");
  }

  const std::string name = package_directory_name(record.id);
  const fs::path final_dir = out_dir / name;
  const fs::path temp_dir = out_dir / (name + ".tmp");
  std::error_code error;
  if (fs::exists(fs::symlink_status(final_dir, error))) {
    return fail("PACKAGE_EXISTS", "package " + name + " already exists; not replaced");
  }
  if (auto made = journal::ensure_directory_durable(out_dir); !made) return std::unexpected(made.error());
  fs::remove_all(temp_dir, error);  // a leftover of a crash while sealing: never a finished package
  if (error || !fs::create_directory(temp_dir, error) || error) {
    return fail("PACKAGE_IO_FAILED", "cannot create " + temp_dir.filename().string() + ": " + error.message());
  }
  TempDirectoryGuard guard(temp_dir);

  auto data_key = random_data_key();
  if (!data_key) return std::unexpected(data_key.error());
  auto wrapped = wrap_for_recipients(*data_key, recipients);
  if (!wrapped) return std::unexpected(wrapped.error());

  Manifest manifest;
  auto package_id = random_package_id();
  if (!package_id) return std::unexpected(package_id.error());
  manifest.package_id = std::move(*package_id);
  manifest.kiosk_id = record.header.kiosk_id;
  manifest.transaction = ManifestTransaction{record.id,
                                             record.header.operation,
                                             record.header.channel,
                                             record.header.investor_type,
                                             record.header.medium,
                                             record.header.rule_pack_version,
                                             record.header.terms_version_hash,
                                             record.state,
                                             record.outcome_reason,
                                             timestamp(record.opened_at),
                                             timestamp(*record.closed_at)};
  for (const auto& stored : record.steps) {
    ManifestStep step;
    step.sequence = stored.sequence;
    step.step = stored.record.step;
    step.actor_staff_id = stored.record.actor_staff_id;
    step.actor_role = stored.record.actor_role;
    step.started_at = timestamp(stored.record.started_at);
    step.ended_at = timestamp(stored.record.ended_at);
    step.result = stored.record.result;
    for (std::size_t i = 0; i < stored.evidence.size(); ++i) {
      auto sealed = seal_evidence(stored.evidence[i], evidence_dir, temp_dir,
                                  stream_file_name(stored.sequence, i, stored.evidence[i].kind), *data_key);
      if (!sealed) return std::unexpected(sealed.error());
      step.evidence.push_back(std::move(*sealed));
    }
    manifest.steps.push_back(std::move(step));
  }
  manifest.audit_checkpoint = checkpoint;
  manifest.sealed_at = timestamp(clock.now());
  for (const auto& key : *wrapped) manifest.recipients.push_back(key.recipient_id);

  auto manifest_bytes = serialize_manifest(manifest);
  if (!manifest_bytes) return std::unexpected(manifest_bytes.error());
  auto signature = sign_manifest(*manifest_bytes, device_key);
  if (!signature) return std::unexpected(signature.error());
  auto keys_bytes = serialize_keys(*wrapped);
  if (!keys_bytes) return std::unexpected(keys_bytes.error());

  const std::string_view signature_bytes(reinterpret_cast<const char*>(signature->data()), signature->size());
  for (const auto& [file, bytes] :
       {std::pair{kManifestFileName, std::string_view(*manifest_bytes)}, std::pair{kSignatureFileName, signature_bytes},
        std::pair{kKeysFileName, std::string_view(*keys_bytes)}}) {
    if (auto written = write_durably(temp_dir / file, bytes); !written) return std::unexpected(written.error());
  }
  if (auto published = publish(temp_dir, final_dir); !published) return std::unexpected(published.error());
  guard.release();
  return SealedPackage{final_dir, std::move(manifest)};
}

}  // namespace kiosk::sync::package
