#include "kiosk/core/journal/atomic_file.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <random>

namespace kiosk::journal {
namespace {

std::string errno_text() { return std::strerror(errno); }

struct DigestContextDeleter {
  void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
};
using DigestContext = std::unique_ptr<EVP_MD_CTX, DigestContextDeleter>;

class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) {
    ok_ = context_ != nullptr && EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) == 1;
  }
  void update(const std::uint8_t* data, std::size_t size) {
    if (ok_ && size > 0) ok_ = EVP_DigestUpdate(context_.get(), data, size) == 1;
  }
  Result<std::string> finish() {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned int length = 0;
    if (!ok_ || EVP_DigestFinal_ex(context_.get(), digest.data(), &length) != 1) {
      return fail("JOURNAL_HASH_FAILED", "OpenSSL could not compute SHA-256; check the libcrypto installation");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string text;
    text.reserve(length * 2U);
    for (unsigned int i = 0; i < length; ++i) {
      text.push_back(kHex[digest[i] >> 4U]);
      text.push_back(kHex[digest[i] & 0x0FU]);
    }
    return text;
  }

 private:
  DigestContext context_;
  bool ok_ = false;
};

// Closes the descriptor and removes the temp file unless release() was called.
class TempFile {
 public:
  TempFile(int descriptor, std::filesystem::path path) : descriptor_(descriptor), path_(std::move(path)) {}
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (descriptor_ >= 0) ::close(descriptor_);
    if (!released_) {
      std::error_code ignored;
      std::filesystem::remove(path_, ignored);
    }
  }
  [[nodiscard]] int descriptor() const { return descriptor_; }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  Result<void> close_checked() {
    const int descriptor = descriptor_;
    descriptor_ = -1;
    if (::close(descriptor) != 0) {
      return fail("JOURNAL_EVIDENCE_WRITE_FAILED", "closing " + path_.string() + " failed: " + errno_text());
    }
    return {};
  }
  void release() { released_ = true; }

 private:
  int descriptor_;
  std::filesystem::path path_;
  bool released_ = false;
};

std::string random_suffix() {
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  static constexpr char kAlphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string suffix;
  for (int i = 0; i < 12; ++i) suffix.push_back(kAlphabet[generator() % (sizeof kAlphabet - 1)]);
  return suffix;
}

Result<std::unique_ptr<TempFile>> create_temp_beside(const std::filesystem::path& final_path) {
  const std::filesystem::path directory = final_path.parent_path();
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::filesystem::path candidate =
        directory / (std::string(kTempPrefix) + final_path.filename().string() + "-" + random_suffix());
    const int descriptor = ::open(candidate.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (descriptor >= 0) return std::make_unique<TempFile>(descriptor, std::move(candidate));
    if (errno != EEXIST) {
      return fail("JOURNAL_EVIDENCE_WRITE_FAILED", "cannot create a temp file in " + directory.string() + ": " +
                                                       errno_text() +
                                                       "; check that the evidence directory exists and is writable");
    }
  }
  return fail("JOURNAL_EVIDENCE_WRITE_FAILED", "no free temp file name in " + directory.string());
}

Result<void> write_all(int descriptor, const std::uint8_t* data, std::size_t size, const std::filesystem::path& path) {
  while (size > 0) {
    const ssize_t written = ::write(descriptor, data, size);
    if (written < 0) {
      if (errno == EINTR) continue;
      return fail("JOURNAL_EVIDENCE_WRITE_FAILED",
                  "writing " + path.string() + " failed: " + errno_text() + "; check free disk space");
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  return {};
}

// fsync the temp file, rename it over the final name, fsync the directory.
Result<void> publish(TempFile& temp, const std::filesystem::path& final_path) {
  if (::fsync(temp.descriptor()) != 0) {
    return fail("JOURNAL_EVIDENCE_WRITE_FAILED", "fsync of " + temp.path().string() + " failed: " + errno_text());
  }
  if (auto closed = temp.close_checked(); !closed) return std::unexpected(closed.error());
  if (::rename(temp.path().c_str(), final_path.c_str()) != 0) {
    return fail("JOURNAL_EVIDENCE_WRITE_FAILED",
                "renaming " + temp.path().string() + " to " + final_path.string() + " failed: " + errno_text());
  }
  temp.release();
  return fsync_directory(final_path.parent_path());
}

}  // namespace

bool is_temp_name(std::string_view file_name) { return file_name.starts_with(kTempPrefix); }

std::string sha256_hex(std::span<const std::uint8_t> bytes) {
  Sha256 hasher;
  hasher.update(bytes.data(), bytes.size());
  auto text = hasher.finish();
  return text ? *text : std::string();
}

Result<FileDigest> write_file_atomically(const std::filesystem::path& final_path, std::span<const std::uint8_t> bytes) {
  auto temp = create_temp_beside(final_path);
  if (!temp) return std::unexpected(temp.error());
  Sha256 hasher;
  hasher.update(bytes.data(), bytes.size());
  if (auto written = write_all((*temp)->descriptor(), bytes.data(), bytes.size(), (*temp)->path()); !written) {
    return std::unexpected(written.error());
  }
  auto hex = hasher.finish();
  if (!hex) return std::unexpected(hex.error());
  if (auto published = publish(**temp, final_path); !published) return std::unexpected(published.error());
  return FileDigest{bytes.size(), std::move(*hex)};
}

namespace {

// Opens `file`, reads it to the end in 64 KiB pieces, hashes it and hands each piece to `sink`
// (which may write it elsewhere). `unreadable_code` names the caller's error for a bad source.
Result<FileDigest> read_and_hash(const std::filesystem::path& file, const char* unreadable_code,
                                 const std::function<Result<void>(const std::uint8_t*, std::size_t)>& sink) {
  const int input = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (input < 0) return fail(unreadable_code, "cannot read " + file.string() + ": " + errno_text());
  struct InputCloser {
    int descriptor;
    ~InputCloser() { ::close(descriptor); }
  } input_closer{input};
  Sha256 hasher;
  std::uint64_t total = 0;
  std::array<std::uint8_t, 64 * 1024> buffer{};
  for (;;) {
    const ssize_t got = ::read(input, buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      return fail(unreadable_code, "reading " + file.string() + " failed: " + errno_text());
    }
    if (got == 0) break;
    const auto size = static_cast<std::size_t>(got);
    hasher.update(buffer.data(), size);
    if (sink) {
      if (auto taken = sink(buffer.data(), size); !taken) return std::unexpected(taken.error());
    }
    total += size;
  }
  auto hex = hasher.finish();
  if (!hex) return std::unexpected(hex.error());
  return FileDigest{total, std::move(*hex)};
}

}  // namespace

Result<FileDigest> copy_file_atomically(const std::filesystem::path& final_path, const std::filesystem::path& source) {
  auto temp = create_temp_beside(final_path);
  if (!temp) return std::unexpected(temp.error());
  auto digest =
      read_and_hash(source, "JOURNAL_EVIDENCE_SOURCE_UNREADABLE", [&temp](const std::uint8_t* data, std::size_t size) {
        return write_all((*temp)->descriptor(), data, size, (*temp)->path());
      });
  if (!digest) return digest;
  if (auto published = publish(**temp, final_path); !published) return std::unexpected(published.error());
  return digest;
}

Result<FileDigest> digest_file(const std::filesystem::path& file) {
  return read_and_hash(file, "JOURNAL_EVIDENCE_UNREADABLE", {});
}

Result<void> fsync_directory(const std::filesystem::path& directory) {
  const int descriptor = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (descriptor < 0) {
    return fail("JOURNAL_DIRECTORY_SYNC_FAILED", "cannot open directory " + directory.string() + ": " + errno_text());
  }
  const int synced = ::fsync(descriptor);
  const int saved_errno = errno;
  ::close(descriptor);
  if (synced != 0) {
    return fail("JOURNAL_DIRECTORY_SYNC_FAILED",
                "fsync of directory " + directory.string() + " failed: " + std::strerror(saved_errno));
  }
  return {};
}

Result<void> ensure_directory_durable(const std::filesystem::path& directory) {
  std::error_code error;
  const bool created = std::filesystem::create_directories(directory, error);
  if (error) {
    return fail("JOURNAL_DIRECTORY_UNWRITABLE", "cannot create directory " + directory.string() + ": " +
                                                    error.message() + "; check the kiosk's state directory");
  }
  if (created) {
    std::filesystem::path parent = directory.parent_path();
    if (parent.empty()) parent = ".";
    return fsync_directory(parent);
  }
  return {};
}

}  // namespace kiosk::journal
