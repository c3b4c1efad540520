// The few S3 operations the Object Lock evidence store needs, on libcurl with its built-in SigV4
// signing (CURLOPT_AWS_SIGV4). Path-style addressing ("endpoint/bucket/key"), one curl handle per
// request (so one client may be used from several threads), bodies streamed from and to files.
//
// Error codes (the S3 <Code> and the HTTP status are always in the message):
//   S3_URL_INVALID         the endpoint is not http(s)://host[:port], or plain http off 127.0.0.1
//   S3_UNREACHABLE         connection refused, DNS, reset; S3_TIMEOUT; S3_TLS_FAILED (certificate)
//   S3_AUTH_FAILED         SignatureDoesNotMatch, InvalidAccessKeyId (wrong key or secret)
//   S3_ACCESS_DENIED       AccessDenied: e.g. deleting a version under Object Lock retention
//   S3_NO_SUCH_BUCKET      NoSuchBucket
//   S3_NOT_FOUND           NoSuchKey, NoSuchVersion
//   S3_OBJECT_LOCK_NOT_CONFIGURED  ObjectLockConfigurationNotFoundError
//   S3_BAD_DIGEST          BadDigest, XAmzContentSHA256Mismatch: the bytes sent are not the bytes hashed
//   S3_INVALID_REQUEST     InvalidRequest, InvalidArgument, InvalidBucketName, MalformedXML, ...
//   S3_REQUEST_FAILED      any other S3 error or an unexpected response
//   S3_FILE_UNREADABLE     the local file to upload could not be read
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"

namespace kiosk::gateway::evidence {

struct S3ClientConfig {
  std::string endpoint;  // "https://rgw.example:443" or "http://127.0.0.1:PORT"
  std::string region;    // the SigV4 region ("default" or "us-east-1" for RGW)
  std::string access_key;
  std::string secret_key;         // never logged, never in an error message
  std::filesystem::path ca_file;  // trust anchor for an https endpoint; empty: the system store
  std::chrono::milliseconds connect_timeout{10'000};
  // A transfer slower than 1 byte/s for this long is abandoned (a stalled peer), whatever its size.
  std::chrono::milliseconds stall_timeout{60'000};
};

struct ObjectLockRetention {
  std::string mode;          // "COMPLIANCE" (or "GOVERNANCE", never used by the evidence store)
  std::string retain_until;  // ISO 8601 UTC, e.g. "2046-11-25T03:00:00.000Z"
};

class S3Client {
 public:
  static Result<S3Client> create(S3ClientConfig config);
  S3Client(S3Client&&) noexcept;
  S3Client& operator=(S3Client&&) noexcept;
  ~S3Client();

  // CreateBucket with x-amz-bucket-object-lock-enabled: true. A bucket this account already owns is
  // not an error (BucketAlreadyOwnedByYou, or RGW's plain 200); whether that bucket really has Object
  // Lock is for object_lock_enabled() to say.
  Result<void> create_bucket_with_object_lock(std::string_view bucket);
  // GetObjectLockConfiguration: true when ObjectLockEnabled is "Enabled"; false when the bucket has
  // no Object Lock configuration at all.
  Result<bool> object_lock_enabled(std::string_view bucket);

  // PutObject streaming from `file` (constant memory), signed with the caller's SHA-256 of the file
  // as x-amz-content-sha256 (the server recomputes it: S3_BAD_DIGEST when the file is not what the
  // caller hashed) and a Content-MD5 computed here. Returns the new x-amz-version-id (S3_REQUEST_FAILED
  // when the bucket returned none: it is not versioned).
  Result<std::string> put_object(std::string_view bucket, std::string_view key, const std::filesystem::path& file,
                                 std::string_view sha256_hex, const ObjectLockRetention& retention);

  // GetObject of one version, streaming the body into `sink` (called only for a 2xx body). A sink
  // returning false aborts the transfer (S3_REQUEST_FAILED).
  using BodySink = std::function<bool(const char* data, std::size_t size)>;
  Result<void> get_object(std::string_view bucket, std::string_view key, std::string_view version_id,
                          const BodySink& sink);

  // PutObjectLegalHold (Status ON or OFF) on one version.
  Result<void> put_object_legal_hold(std::string_view bucket, std::string_view key, std::string_view version_id,
                                     bool on);

  // DeleteObject of one version (a real delete, not a delete marker). S3_ACCESS_DENIED while the
  // version is under COMPLIANCE retention or a legal hold: the bucket enforces it, not this client.
  Result<void> delete_object(std::string_view bucket, std::string_view key, std::string_view version_id);

 private:
  struct Impl;
  explicit S3Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "%XX"-encodes everything but RFC 3986 unreserved characters and, when `keep_slash`, '/': the
// SigV4 canonical form, so the URL curl sends is already canonical.
std::string s3_uri_encode(std::string_view text, bool keep_slash);

}  // namespace kiosk::gateway::evidence
