// The STREAM construction (age's chunking, with AES-256-GCM and an HKDF-derived per-file key).
// Chunk boundaries are implied by the fixed chunk size, so the reader looks one byte past every
// full chunk to learn whether it is the last one. See FORMAT.md, "Encrypted stream".
#include "sync/package/stream_cipher.hpp"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "kiosk/core/openssl_handles.hpp"

namespace kiosk::sync::package {

DataKey::~DataKey() { OPENSSL_cleanse(bytes.data(), bytes.size()); }

namespace {

namespace fs = std::filesystem;

using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, openssl::Free<EVP_CIPHER_CTX_free>>;
using KdfContext = std::unique_ptr<EVP_KDF_CTX, openssl::Free<EVP_KDF_CTX_free>>;
using Kdf = std::unique_ptr<EVP_KDF, openssl::Free<EVP_KDF_free>>;

constexpr std::array<std::uint8_t, 8> kMagic{'C', 'S', 'D', 'C', 'E', 'V', '1', '\0'};
constexpr std::uint16_t kSuiteAes256GcmSha256 = 1;
constexpr std::size_t kHeaderBytes = 8 + 2 + 4 + 16;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kSealedChunkBytes = kChunkBytes + kTagBytes;
constexpr char kStreamInfo[] = "csdc-evidence-stream v1";

using Header = std::array<std::uint8_t, kHeaderBytes>;

// A per-file key that wipes itself, like DataKey.
struct FileKey {
  std::array<std::uint8_t, 32> bytes{};
  ~FileKey() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

std::string to_hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  text.reserve(bytes.size() * 2);
  for (const std::uint8_t byte : bytes) {
    text.push_back(kDigits[byte >> 4]);
    text.push_back(kDigits[byte & 0x0f]);
  }
  return text;
}

Error crypto_error(const char* what) {
  return Error{"PACKAGE_CRYPTO_FAILED", std::string("OpenSSL failed to ") + what};
}

Error io_error(const char* what) { return Error{"PACKAGE_IO_FAILED", std::string(what) + ": " + std::strerror(errno)}; }

Header make_header(std::span<const std::uint8_t, 16> file_id) {
  Header header{};
  std::memcpy(header.data(), kMagic.data(), kMagic.size());
  header[8] = static_cast<std::uint8_t>(kSuiteAes256GcmSha256 >> 8);
  header[9] = static_cast<std::uint8_t>(kSuiteAes256GcmSha256 & 0xff);
  const auto chunk = static_cast<std::uint32_t>(kChunkBytes);
  header[10] = static_cast<std::uint8_t>(chunk >> 24);
  header[11] = static_cast<std::uint8_t>(chunk >> 16);
  header[12] = static_cast<std::uint8_t>(chunk >> 8);
  header[13] = static_cast<std::uint8_t>(chunk);
  std::memcpy(header.data() + 14, file_id.data(), file_id.size());
  return header;
}

Result<void> check_header(const Header& header) {
  if (std::memcmp(header.data(), kMagic.data(), kMagic.size()) != 0) {
    return fail("PACKAGE_HEADER_INVALID", "the stream does not start with the CSDCEV1 magic");
  }
  const std::uint16_t suite = static_cast<std::uint16_t>((header[8] << 8) | header[9]);
  if (suite == 2 || suite == 3) {
    return fail("PACKAGE_SUITE_UNSUPPORTED",
                "suite " + std::to_string(suite) + " (SM4/SM3) is reserved and not supported by this build");
  }
  if (suite != kSuiteAes256GcmSha256) {
    return fail("PACKAGE_HEADER_INVALID", "unknown suite id " + std::to_string(suite));
  }
  const std::uint32_t chunk = (std::uint32_t{header[10]} << 24) | (std::uint32_t{header[11]} << 16) |
                              (std::uint32_t{header[12]} << 8) | std::uint32_t{header[13]};
  if (chunk != kChunkBytes) {
    return fail("PACKAGE_HEADER_INVALID",
                "chunk size " + std::to_string(chunk) + " is not " + std::to_string(kChunkBytes));
  }
  return {};
}

Result<void> derive_file_key(const DataKey& key, std::span<const std::uint8_t> file_id, FileKey& out) {
  const Kdf kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return std::unexpected(crypto_error("fetch HKDF"));
  const KdfContext context(EVP_KDF_CTX_new(kdf.get()));
  if (!context) return std::unexpected(crypto_error("create the HKDF context"));
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(key.bytes.data()),
                                        key.bytes.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(file_id.data()), file_id.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(kStreamInfo), sizeof kStreamInfo - 1),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_KDF_derive(context.get(), out.bytes.data(), out.bytes.size(), params) != 1) {
    return std::unexpected(crypto_error("derive the file key"));
  }
  return {};
}

// 11-byte big-endian chunk counter, then the final flag (age's nonce layout).
std::array<std::uint8_t, 12> chunk_nonce(std::uint64_t index, bool final_chunk) {
  std::array<std::uint8_t, 12> nonce{};
  for (int i = 0; i < 8; ++i) nonce[10 - i] = static_cast<std::uint8_t>(index >> (8 * i));
  nonce[11] = final_chunk ? 0x01 : 0x00;
  return nonce;
}

class Sha256 {
 public:
  Sha256() : context_(EVP_MD_CTX_new()) {
    ok_ = context_ && EVP_DigestInit_ex(context_.get(), EVP_sha256(), nullptr) == 1;
  }
  void update(const std::uint8_t* data, std::size_t size) {
    if (ok_ && size > 0) ok_ = EVP_DigestUpdate(context_.get(), data, size) == 1;
  }
  Result<std::string> hex() {
    std::array<std::uint8_t, 32> digest{};
    unsigned int length = 0;
    if (!ok_ || EVP_DigestFinal_ex(context_.get(), digest.data(), &length) != 1) {
      return std::unexpected(crypto_error("compute SHA-256"));
    }
    return to_hex(std::span(digest.data(), length));
  }

 private:
  openssl::MdContext context_;
  bool ok_ = false;
};

// AES-256-GCM with one file key; the context is reused for every chunk of the file.
class ChunkCipher {
 public:
  ChunkCipher(const FileKey& key, const Header& header, bool encrypt)
      : context_(EVP_CIPHER_CTX_new()), key_(key), header_(header), encrypt_(encrypt) {}

  // Seals `size` bytes of `in` into `out` (size + 16 bytes).
  Result<void> seal(std::uint64_t index, bool final_chunk, const std::uint8_t* in, std::size_t size,
                    std::uint8_t* out) {
    if (!start(index, final_chunk)) return std::unexpected(crypto_error("start a chunk"));
    int written = 0;
    if (size > 0 && EVP_EncryptUpdate(context_.get(), out, &written, in, static_cast<int>(size)) != 1) {
      return std::unexpected(crypto_error("encrypt a chunk"));
    }
    int tail = 0;
    if (EVP_EncryptFinal_ex(context_.get(), out + written, &tail) != 1 ||
        EVP_CIPHER_CTX_ctrl(context_.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, out + size) != 1) {
      return std::unexpected(crypto_error("finish a chunk"));
    }
    return {};
  }

  // Opens `size` sealed bytes (ciphertext + tag) into `out`; false when the tag does not verify.
  Result<bool> open(std::uint64_t index, bool final_chunk, const std::uint8_t* in, std::size_t size,
                    std::uint8_t* out) {
    const std::size_t text = size - kTagBytes;
    if (!start(index, final_chunk)) return std::unexpected(crypto_error("start a chunk"));
    int written = 0;
    if (text > 0 && EVP_DecryptUpdate(context_.get(), out, &written, in, static_cast<int>(text)) != 1) {
      return std::unexpected(crypto_error("decrypt a chunk"));
    }
    if (EVP_CIPHER_CTX_ctrl(context_.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, const_cast<std::uint8_t*>(in + text)) !=
        1) {
      return std::unexpected(crypto_error("set a chunk tag"));
    }
    int tail = 0;
    return EVP_DecryptFinal_ex(context_.get(), out + written, &tail) == 1;
  }

 private:
  bool start(std::uint64_t index, bool final_chunk) {
    if (!context_) return false;
    const auto nonce = chunk_nonce(index, final_chunk);
    int unused = 0;
    if (!initialised_) {
      if (EVP_CipherInit_ex(context_.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr, encrypt_ ? 1 : 0) != 1 ||
          EVP_CIPHER_CTX_ctrl(context_.get(), EVP_CTRL_GCM_SET_IVLEN, nonce.size(), nullptr) != 1) {
        return false;
      }
      initialised_ = true;
    }
    return EVP_CipherInit_ex(context_.get(), nullptr, nullptr, key_.bytes.data(), nonce.data(), encrypt_ ? 1 : 0) ==
               1 &&
           EVP_CipherUpdate(context_.get(), nullptr, &unused, header_.data(), static_cast<int>(header_.size())) == 1;
  }

  CipherContext context_;
  const FileKey& key_;
  const Header& header_;
  bool encrypt_;
  bool initialised_ = false;
};

// Reads until `size` bytes or EOF; returns the count read.
Result<std::size_t> read_full(int fd, std::uint8_t* buffer, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t got = ::read(fd, buffer + done, size - done);
    if (got < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error("reading the stream failed"));
    }
    if (got == 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

Result<void> write_full(int fd, const std::uint8_t* buffer, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t put = ::write(fd, buffer + done, size - done);
    if (put < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(io_error("writing the stream failed"));
    }
    done += static_cast<std::size_t>(put);
  }
  return {};
}

// Reads the sealed stream from `in_fd`, verifying each chunk before handing its plaintext to
// `sink` (which may be empty for verify-only). The caller must not release anything the sink
// wrote unless this returns a value.
template <class Sink>
Result<StreamDigest> open_chunks(int in_fd, const DataKey& key, Sink&& sink) {
  StreamDigest digest;
  Sha256 plaintext_hash;
  Sha256 ciphertext_hash;

  Header header{};
  auto got = read_full(in_fd, header.data(), header.size());
  if (!got) return std::unexpected(got.error());
  if (*got < header.size()) {
    // A short prefix of a valid header is truncation; anything else is not our stream at all.
    const Header expected_prefix = make_header(std::array<std::uint8_t, 16>{});
    if (std::memcmp(header.data(), expected_prefix.data(), std::min<std::size_t>(*got, 14)) == 0) {
      return fail("PACKAGE_TRUNCATED", "the stream ends inside its header");
    }
    return fail("PACKAGE_HEADER_INVALID", "the stream is shorter than its header");
  }
  if (auto checked = check_header(header); !checked) return std::unexpected(checked.error());
  ciphertext_hash.update(header.data(), header.size());
  digest.ciphertext_bytes = header.size();

  FileKey file_key;
  if (auto derived = derive_file_key(key, std::span(header).subspan(14, 16), file_key); !derived) {
    return std::unexpected(derived.error());
  }
  ChunkCipher cipher(file_key, header, false);

  // One sealed chunk plus one look-ahead byte that tells whether another chunk follows.
  std::vector<std::uint8_t> sealed(kSealedChunkBytes + 1);
  std::vector<std::uint8_t> plain(kChunkBytes);
  std::size_t carried = 0;  // the look-ahead byte of the previous round, already at sealed[0]
  for (std::uint64_t index = 0;; ++index) {
    got = read_full(in_fd, sealed.data() + carried, sealed.size() - carried);
    if (!got) return std::unexpected(got.error());
    const std::size_t available = carried + *got;
    const bool more_follows = available > kSealedChunkBytes;
    const std::size_t size = more_follows ? kSealedChunkBytes : available;
    if (size < kTagBytes) {
      return fail("PACKAGE_TRUNCATED", "the stream ends before its final chunk (chunk " + std::to_string(index) +
                                           " is incomplete or missing)");
    }
    if (!more_follows && size == kTagBytes && index > 0) {
      // Only an empty file is sealed as one empty final chunk.
      return fail("PACKAGE_CHUNK_TAMPERED", "chunk " + std::to_string(index) + " is an empty final chunk after data");
    }

    auto opened = cipher.open(index, !more_follows, sealed.data(), size, plain.data());
    if (!opened) return std::unexpected(opened.error());
    if (!*opened) {
      if (more_follows) {
        // A full final chunk followed by appended bytes verifies with the final flag.
        auto as_final = cipher.open(index, true, sealed.data(), size, plain.data());
        if (!as_final) return std::unexpected(as_final.error());
        if (*as_final) {
          return fail("PACKAGE_TRAILING_DATA", "data follows the final chunk " + std::to_string(index));
        }
      } else if (size == kSealedChunkBytes) {
        // A full chunk at the end that verifies as non-final: the final chunk was cut off.
        auto as_middle = cipher.open(index, false, sealed.data(), size, plain.data());
        if (!as_middle) return std::unexpected(as_middle.error());
        if (*as_middle) {
          return fail("PACKAGE_TRUNCATED",
                      "the stream ends after chunk " + std::to_string(index) + ", which is not the final chunk");
        }
      }
      return fail("PACKAGE_CHUNK_TAMPERED",
                  "chunk " + std::to_string(index) + " failed authentication: it was altered, moved or appended to" +
                      (index == 0 ? ", the header's file id was altered, or the data key is wrong" : ""));
    }

    const std::size_t text = size - kTagBytes;
    ciphertext_hash.update(sealed.data(), size);
    plaintext_hash.update(plain.data(), text);
    digest.ciphertext_bytes += size;
    digest.plaintext_bytes += text;
    if (text > 0) {
      if (auto sunk = sink(plain.data(), text); !sunk) return std::unexpected(sunk.error());
    }
    if (!more_follows) break;
    sealed[0] = sealed[kSealedChunkBytes];
    carried = 1;
  }
  OPENSSL_cleanse(plain.data(), plain.size());

  auto plaintext_hex = plaintext_hash.hex();
  if (!plaintext_hex) return std::unexpected(plaintext_hex.error());
  auto ciphertext_hex = ciphertext_hash.hex();
  if (!ciphertext_hex) return std::unexpected(ciphertext_hex.error());
  digest.plaintext_sha256 = std::move(*plaintext_hex);
  digest.ciphertext_sha256 = std::move(*ciphertext_hex);
  return digest;
}

// Removes the temp file unless released.
class TempFile {
 public:
  explicit TempFile(const fs::path& final_path) {
    std::string pattern = final_path.string() + ".partial-XXXXXX";
    fd_ = ::mkostemp(pattern.data(), O_CLOEXEC);
    if (fd_ >= 0) path_ = pattern;
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }

  // fsync, close, rename over `final_path`, fsync the directory.
  Result<void> publish(const fs::path& final_path) {
    if (::fsync(fd_) != 0) return std::unexpected(io_error("fsync of the decrypted file failed"));
    const int closing = fd_;
    fd_ = -1;
    if (::close(closing) != 0) return std::unexpected(io_error("closing the decrypted file failed"));
    if (::rename(path_.c_str(), final_path.c_str()) != 0) {
      return std::unexpected(io_error("renaming the decrypted file failed"));
    }
    path_.clear();
    fs::path directory = final_path.parent_path();
    if (directory.empty()) directory = ".";
    const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (directory_fd < 0) return std::unexpected(io_error("opening the output directory failed"));
    const int synced = ::fsync(directory_fd);
    ::close(directory_fd);
    if (synced != 0) return std::unexpected(io_error("fsync of the output directory failed"));
    return {};
  }

 private:
  int fd_ = -1;
  std::string path_;
};

}  // namespace

Result<DataKey> random_data_key() {
  DataKey key{};
  if (RAND_priv_bytes(key.bytes.data(), static_cast<int>(key.bytes.size())) != 1) {
    return fail("PACKAGE_CRYPTO_FAILED", "the random generator could not produce a data key");
  }
  return key;
}

Result<StreamDigest> seal_stream(int in_fd, int out_fd, const DataKey& key, std::span<const std::uint8_t, 16> file_id) {
  StreamDigest digest;
  Sha256 plaintext_hash;
  Sha256 ciphertext_hash;

  const Header header = make_header(file_id);
  if (auto written = write_full(out_fd, header.data(), header.size()); !written) {
    return std::unexpected(written.error());
  }
  ciphertext_hash.update(header.data(), header.size());
  digest.ciphertext_bytes = header.size();

  FileKey file_key;
  if (auto derived = derive_file_key(key, file_id, file_key); !derived) {
    return std::unexpected(derived.error());
  }
  ChunkCipher cipher(file_key, header, true);

  // One chunk plus one look-ahead byte: a chunk is final when nothing follows it.
  std::vector<std::uint8_t> plain(kChunkBytes + 1);
  std::vector<std::uint8_t> sealed(kSealedChunkBytes);
  std::size_t carried = 0;
  for (std::uint64_t index = 0;; ++index) {
    auto got = read_full(in_fd, plain.data() + carried, plain.size() - carried);
    if (!got) return std::unexpected(got.error());
    const std::size_t available = carried + *got;
    const bool more_follows = available > kChunkBytes;
    const std::size_t text = more_follows ? kChunkBytes : available;

    if (auto sealed_chunk = cipher.seal(index, !more_follows, plain.data(), text, sealed.data()); !sealed_chunk) {
      return std::unexpected(sealed_chunk.error());
    }
    if (auto written = write_full(out_fd, sealed.data(), text + kTagBytes); !written) {
      return std::unexpected(written.error());
    }
    plaintext_hash.update(plain.data(), text);
    ciphertext_hash.update(sealed.data(), text + kTagBytes);
    digest.plaintext_bytes += text;
    digest.ciphertext_bytes += text + kTagBytes;
    if (!more_follows) break;
    plain[0] = plain[kChunkBytes];
    carried = 1;
  }
  OPENSSL_cleanse(plain.data(), plain.size());

  auto plaintext_hex = plaintext_hash.hex();
  if (!plaintext_hex) return std::unexpected(plaintext_hex.error());
  auto ciphertext_hex = ciphertext_hash.hex();
  if (!ciphertext_hex) return std::unexpected(ciphertext_hex.error());
  digest.plaintext_sha256 = std::move(*plaintext_hex);
  digest.ciphertext_sha256 = std::move(*ciphertext_hex);
  return digest;
}

Result<StreamDigest> open_stream(int in_fd, const std::filesystem::path& out_path, const DataKey& key) {
  TempFile temp(out_path);
  if (temp.fd() < 0) return std::unexpected(io_error("creating the temporary output file failed"));
  auto digest = open_chunks(
      in_fd, key, [&](const std::uint8_t* data, std::size_t size) { return write_full(temp.fd(), data, size); });
  if (!digest) return digest;  // `temp` removes the partial plaintext
  if (auto published = temp.publish(out_path); !published) {
    return std::unexpected(published.error());
  }
  return digest;
}

Result<StreamDigest> verify_stream(int in_fd, const DataKey& key) {
  return open_chunks(in_fd, key, [](const std::uint8_t*, std::size_t) -> Result<void> { return {}; });
}

}  // namespace kiosk::sync::package
