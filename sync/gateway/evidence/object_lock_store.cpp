#include "sync/gateway/evidence/object_lock_store.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>

#include "sync/gateway/evidence/retention.hpp"

namespace kiosk::gateway::evidence {

namespace {

// "YYYY-MM-DDTHH:MM:SS.mmmZ" naming a real time: the only time form the index and S3 see.
bool is_utc_text(std::string_view text) { return is_utc_millis_text(text); }

std::string now_utc_text() {
  const auto now = std::chrono::system_clock::now();
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  std::array<char, 64> text{};
  std::snprintf(text.data(), text.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", utc.tm_year + 1900, utc.tm_mon + 1,
                utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, static_cast<int>(millis));
  return text.data();
}

// Ids become object key segments: keep them to characters that need no escaping anywhere.
bool is_key_segment(std::string_view text) {
  return !text.empty() && text.size() <= 128 && text != "." && text != ".." &&
         text.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") ==
             std::string_view::npos;
}

bool is_lower_hex64(std::string_view text) {
  return text.size() == 64 && text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
}

struct ObjectRef {
  std::string bucket;
  std::string key;
  std::string version_id;
};

Result<ObjectRef> parse_object_ref(std::string_view ref) {
  const auto slash = ref.find('/');
  const auto hash = ref.rfind('#');
  if (slash == std::string_view::npos || hash == std::string_view::npos || hash < slash || slash == 0 ||
      hash == slash + 1 || hash + 1 == ref.size())
    return fail("EVIDENCE_BAD_ROW", "the row's object_ref is not \"bucket/key#versionId\"");
  return ObjectRef{std::string(ref.substr(0, slash)), std::string(ref.substr(slash + 1, hash - slash - 1)),
                   std::string(ref.substr(hash + 1))};
}

Error store_failed(std::string_view what, const Error& cause) {
  return Error{"EVIDENCE_STORE_FAILED", std::string(what) + ": " + cause.to_string()};
}

Result<std::string> read_secret(const std::filesystem::path& file) {
  std::ifstream stream(file, std::ios::binary);
  if (!stream) return fail("EVIDENCE_STORE_CONFIG", "cannot read [evidence.s3] secret_key_file " + file.string());
  std::ostringstream text;
  text << stream.rdbuf();
  std::string secret = text.str();
  while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  if (secret.empty())
    return fail("EVIDENCE_STORE_CONFIG", "[evidence.s3] secret_key_file " + file.string() + " is empty");
  return secret;
}

bool is_bucket_name(std::string_view name) {
  return name.size() >= 3 && name.size() <= 63 &&
         name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789.-") == std::string_view::npos &&
         name.front() != '-' && name.front() != '.' && name.back() != '-' && name.back() != '.';
}

Result<void> fsync_directory(const std::filesystem::path& directory) {
  const int fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return fail("EVIDENCE_STORE_FAILED", "cannot open the destination directory to sync it");
  const int status = ::fsync(fd);
  ::close(fd);
  if (status != 0) return fail("EVIDENCE_STORE_FAILED", "cannot sync the destination directory");
  return {};
}

}  // namespace

Result<ObjectLockStoreConfig> read_object_lock_store_config(ConfigReader& reader) {
  ObjectLockStoreConfig config;
  auto text = [&](std::string_view key, std::string fallback, std::string& out) -> Result<void> {
    auto value = reader.get_string(key, std::move(fallback));
    if (!value) return fail("EVIDENCE_STORE_CONFIG", value.error().message);
    out = std::move(*value);
    return {};
  };
  auto path = [&](std::string_view key, std::filesystem::path& out) -> Result<void> {
    auto value = reader.get_path(key, {});
    if (!value) return fail("EVIDENCE_STORE_CONFIG", value.error().message);
    out = std::move(*value);
    return {};
  };
  for (auto step :
       {text("evidence.s3.endpoint", "", config.endpoint), text("evidence.s3.region", "us-east-1", config.region),
        text("evidence.s3.bucket", "", config.bucket), text("evidence.s3.access_key", "", config.access_key),
        path("evidence.s3.secret_key_file", config.secret_key_file), path("evidence.s3.ca_file", config.ca_file),
        text("evidence.postgres.conninfo", "", config.postgres_conninfo)}) {
    if (!step) return std::unexpected(step.error());
  }
  const std::string source = reader.source_name();
  if (config.endpoint.empty()) return fail("EVIDENCE_STORE_CONFIG", source + ": [evidence.s3] endpoint is required");
  if (config.region.empty()) return fail("EVIDENCE_STORE_CONFIG", source + ": [evidence.s3] region is empty");
  if (!is_bucket_name(config.bucket))
    return fail("EVIDENCE_STORE_CONFIG", source + ": [evidence.s3] bucket must be 3-63 of a-z, 0-9, '.', '-'");
  if (config.access_key.empty())
    return fail("EVIDENCE_STORE_CONFIG", source + ": [evidence.s3] access_key is required");
  if (config.secret_key_file.empty())
    return fail("EVIDENCE_STORE_CONFIG", source + ": [evidence.s3] secret_key_file is required");
  if (config.postgres_conninfo.empty())
    return fail("EVIDENCE_STORE_CONFIG", source + ": [evidence.postgres] conninfo is required");
  if (config.endpoint.starts_with("http://") && !config.endpoint.starts_with("http://127.0.0.1"))
    return fail("EVIDENCE_STORE_CONFIG", source + ": [evidence.s3] endpoint may use plain http only on 127.0.0.1");
  return config;
}

ObjectLockEvidenceStore::ObjectLockEvidenceStore(std::string bucket, S3Client s3, PostgresEvidenceIndex index)
    : bucket_(std::move(bucket)), s3_(std::move(s3)), index_(std::move(index)) {}

Result<std::unique_ptr<ObjectLockEvidenceStore>> ObjectLockEvidenceStore::open(const ObjectLockStoreConfig& config) {
  if (!is_bucket_name(config.bucket)) return fail("EVIDENCE_STORE_CONFIG", "the S3 bucket name is not valid");
  auto secret = read_secret(config.secret_key_file);
  if (!secret) return std::unexpected(secret.error());
  auto s3 = S3Client::create(S3ClientConfig{.endpoint = config.endpoint,
                                            .region = config.region,
                                            .access_key = config.access_key,
                                            .secret_key = std::move(*secret),
                                            .ca_file = config.ca_file});
  if (!s3) return std::unexpected(s3.error());
  if (auto created = s3->create_bucket_with_object_lock(config.bucket); !created)
    return std::unexpected(created.error());
  auto locked = s3->object_lock_enabled(config.bucket);
  if (!locked) return std::unexpected(locked.error());
  if (!*locked)
    return fail("EVIDENCE_STORE_UNSAFE", "bucket " + config.bucket +
                                             " has no Object Lock, so stored evidence could be deleted; use a bucket "
                                             "created with Object Lock enabled");
  auto index = PostgresEvidenceIndex::open(config.postgres_conninfo);
  if (!index) return std::unexpected(index.error());
  return std::unique_ptr<ObjectLockEvidenceStore>(
      new ObjectLockEvidenceStore(config.bucket, std::move(*s3), std::move(*index)));
}

std::string ObjectLockEvidenceStore::object_key(const StoredPackage& row) {
  return "evidence/" + row.device_id + "/" + row.package_id + "/" + row.archive_sha256 + ".csdcpkg.tar";
}

Result<StoredPackage> ObjectLockEvidenceStore::put(const std::filesystem::path& archive_file,
                                                   const StoredPackage& row) {
  if (!is_key_segment(row.device_id) || !is_key_segment(row.package_id) || !is_lower_hex64(row.archive_sha256))
    return fail("EVIDENCE_BAD_ROW",
                "device_id and package_id must be [A-Za-z0-9._-] and archive_sha256 64 lowercase hex");
  // closed_at is the manifest's and only compared as text; the intake judges it, not the store.
  if (!is_utc_text(row.retain_until) || (!row.received_at.empty() && !is_utc_text(row.received_at)))
    return fail("EVIDENCE_BAD_ROW", "retain_until and received_at must be UTC \"YYYY-MM-DDTHH:MM:SS.mmmZ\"");

  // Idempotence without touching the bucket: a retry of a stored package writes nothing.
  auto existing = index_.find(row.device_id, row.package_id);
  if (!existing) return std::unexpected(store_failed("cannot look up the index", existing.error()));
  if (existing->has_value()) {
    if ((*existing)->archive_sha256 != row.archive_sha256)
      return fail("EVIDENCE_CONFLICT",
                  "package " + row.package_id + " of this device is already stored with another archive hash");
    return **existing;
  }

  StoredPackage stored = row;
  if (stored.received_at.empty()) stored.received_at = now_utc_text();
  const std::string key = object_key(row);
  // Bytes first, then the row (see the header): the row never points at bytes that are not there.
  auto version = s3_.put_object(bucket_, key, archive_file, row.archive_sha256,
                                ObjectLockRetention{.mode = "COMPLIANCE", .retain_until = row.retain_until});
  if (!version) return std::unexpected(store_failed("the archive could not be stored in the bucket", version.error()));
  stored.object_ref = bucket_ + "/" + key + "#" + *version;
  auto indexed = index_.insert_or_get(stored);
  if (!indexed) {
    if (indexed.error().code == "EVIDENCE_CONFLICT") return std::unexpected(indexed.error());
    return std::unexpected(store_failed("the archive is stored but its index row is not", indexed.error()));
  }
  return *indexed;
}

Result<StoredPackage> ObjectLockEvidenceStore::find(std::string_view device_id, std::string_view package_id) {
  auto found = index_.find(device_id, package_id);
  if (!found) return std::unexpected(found.error());
  if (!found->has_value())
    return fail("EVIDENCE_NOT_FOUND", "no stored package " + std::string(package_id) + " for this device");
  return **found;
}

Result<std::vector<StoredPackage>> ObjectLockEvidenceStore::query(const PackageQuery& query) {
  return index_.query(query);
}

Result<void> ObjectLockEvidenceStore::read_archive(const StoredPackage& row, const std::filesystem::path& destination) {
  auto ref = parse_object_ref(row.object_ref);
  if (!ref) return std::unexpected(ref.error());
  if (ref->bucket != bucket_)
    return fail("EVIDENCE_BAD_ROW", "the row's object is in another bucket than this store's");
  if (!is_lower_hex64(row.archive_sha256))
    return fail("EVIDENCE_BAD_ROW", "the row's archive_sha256 is not 64 lowercase hex");

  const std::filesystem::path directory = destination.parent_path().empty() ? "." : destination.parent_path();
  std::mt19937_64 random(std::random_device{}());
  const std::filesystem::path temp =
      directory / ("." + destination.filename().string() + ".part-" + std::to_string(random() % 1'000'000'000));
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return fail("EVIDENCE_STORE_FAILED", "cannot create a file next to " + destination.string());

  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  EVP_DigestInit_ex(sha.get(), EVP_sha256(), nullptr);
  std::uint64_t received = 0;
  bool write_failed = false;
  const S3Client::BodySink sink = [&](const char* data, std::size_t size) {
    EVP_DigestUpdate(sha.get(), data, size);
    received += size;
    while (size > 0) {
      const ssize_t n = ::write(fd, data, size);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return !(write_failed = true);
      data += n;
      size -= static_cast<std::size_t>(n);
    }
    return true;
  };
  auto discard = [&](Error error) {
    ::close(fd);
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    return std::unexpected(std::move(error));
  };
  if (auto got = s3_.get_object(bucket_, ref->key, ref->version_id, sink); !got) {
    if (write_failed) return discard(Error{"EVIDENCE_STORE_FAILED", "cannot write the copy of the archive"});
    if (got.error().code == "S3_NOT_FOUND")
      return discard(
          Error{"EVIDENCE_NOT_FOUND", "the bucket has no object version for this row: " + got.error().message});
    return discard(store_failed("cannot read the archive from the bucket", got.error()));
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(sha.get(), digest.data(), &length);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    static constexpr char kDigits[] = "0123456789abcdef";
    hex.push_back(kDigits[digest[i] >> 4]);
    hex.push_back(kDigits[digest[i] & 0xf]);
  }
  if (hex != row.archive_sha256 || received != row.archive_size)
    return discard(
        Error{"EVIDENCE_CORRUPT", "the archive read from the bucket does not match the index row's SHA-256 and size"});
  if (::fsync(fd) != 0) return discard(Error{"EVIDENCE_STORE_FAILED", "cannot sync the copy of the archive"});
  ::close(fd);
  std::error_code error;
  std::filesystem::rename(temp, destination, error);
  if (error) {
    std::filesystem::remove(temp, error);
    return fail("EVIDENCE_STORE_FAILED", "cannot move the copy of the archive into place");
  }
  return fsync_directory(directory);
}

Result<void> ObjectLockEvidenceStore::set_legal_hold(std::string_view device_id, std::string_view package_id,
                                                     bool hold) {
  auto row = find(device_id, package_id);
  if (!row) return std::unexpected(row.error());
  auto ref = parse_object_ref(row->object_ref);
  if (!ref) return std::unexpected(ref.error());
  // The bucket first: whichever step fails, the bucket is never less protected than the index says.
  if (auto held = s3_.put_object_legal_hold(ref->bucket, ref->key, ref->version_id, hold); !held)
    return std::unexpected(store_failed("the bucket refused the legal hold change", held.error()));
  auto updated = index_.set_legal_hold(device_id, package_id, hold);
  if (!updated) return std::unexpected(updated.error());
  if (!*updated) return fail("EVIDENCE_NOT_FOUND", "the package was removed while its legal hold changed");
  return {};
}

Result<void> ObjectLockEvidenceStore::remove(std::string_view device_id, std::string_view package_id,
                                             std::string_view now) {
  if (!is_utc_text(now)) return fail("EVIDENCE_BAD_ROW", "`now` must be UTC \"YYYY-MM-DDTHH:MM:SS.mmmZ\"");
  auto row = find(device_id, package_id);
  if (!row) return std::unexpected(row.error());
  if (row->legal_hold) return fail("EVIDENCE_LEGAL_HOLD", "package " + row->package_id + " is under a legal hold");
  if (now < row->retain_until)
    return fail("EVIDENCE_RETENTION_ACTIVE", "package " + row->package_id + " is retained until " + row->retain_until);
  auto ref = parse_object_ref(row->object_ref);
  if (!ref) return std::unexpected(ref.error());
  if (auto deleted = s3_.delete_object(ref->bucket, ref->key, ref->version_id); !deleted) {
    if (deleted.error().code == "S3_ACCESS_DENIED")
      return fail("EVIDENCE_RETENTION_ACTIVE",
                  "the bucket still locks this version (retention or legal hold): " + deleted.error().message);
    // Already gone: an earlier remove() deleted the bytes and failed before the row.
    if (deleted.error().code != "S3_NOT_FOUND")
      return std::unexpected(store_failed("the bucket did not delete the archive", deleted.error()));
  }
  auto removed = index_.remove(device_id, package_id);
  if (!removed) return std::unexpected(removed.error());
  return {};
}

Result<std::optional<std::string>> ObjectLockEvidenceStore::checkpoint_hash_at(std::string_view device_id,
                                                                               std::int64_t count) {
  return index_.checkpoint_hash_at(device_id, count);
}

}  // namespace kiosk::gateway::evidence
