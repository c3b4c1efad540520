// The kiosk's evidence uploader: the gateway's tus 1.0 profile (sync/gateway/uploads/PROTOCOL.md)
// over the device's mutual-TLS link. One package directory is sent as its deterministic archive
// (sync/package/package_archive.hpp), read chunk by chunk so memory stays constant whatever its size.
//
// Errors: a refusal that retrying cannot fix keeps the gateway's code (UPLOAD_CONFLICT,
// UPLOAD_TOO_LARGE, UPLOAD_LIMIT, FIELD_INVALID, ...; UPLOAD_REFUSED when the body names none);
// transport failures keep HttpsClient's codes after max_attempts (GATEWAY_UNREACHABLE,
// GATEWAY_TIMEOUT, TLS_HANDSHAKE_FAILED, GATEWAY_CERT_UNTRUSTED, ...); UPLOAD_CANCELLED;
// PACKAGE_UNREADABLE (the package cannot be archived, or it changed under the upload);
// UPLOAD_HASH_MISMATCH when the gateway refuses the whole file twice. Nothing here logs bodies.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"
#include "sync/client/https_client.hpp"

namespace kiosk::sync {

struct UploadSource {
  std::string package_id;
  std::string transaction_id;
  std::filesystem::path package_dir;
};

struct UploadProgress {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  double bytes_per_second = 0;
};

struct UploadOptions {
  std::size_t chunk_bytes = 4 * 1024 * 1024;    // one PATCH body; at most the server's max_patch_bytes
  std::uint64_t max_bytes_per_second = 0;       // 0 = unlimited (CURLOPT_MAX_SEND_SPEED_LARGE)
  int max_attempts = 6;                         // per upload() call, then the last error is returned
  std::chrono::milliseconds base_backoff{500};  // exponential with full jitter between attempts
  std::chrono::milliseconds max_backoff{30'000};
  std::chrono::milliseconds low_speed_window{30'000};      // abort a PATCH that sends < 1 KiB/s for this long
  std::function<void(const UploadProgress&)> on_progress;  // after each acknowledged PATCH
  std::function<bool()> cancelled;                         // checked between requests and during backoff
};

struct UploadOutcome {
  std::string location;
  std::string archive_sha256;
  std::uint64_t archive_size = 0;
  std::uint64_t bytes_sent = 0;    // body bytes put on the wire, re-sends included
  std::uint64_t bytes_resent = 0;  // bytes sent more than once (after cuts)
  int attempts = 1;
};

// One uploader per thread (it owns one curl handle, so the TLS connection is reused).
class TusUploader {
 public:
  static Result<TusUploader> create(std::string base_url, TlsIdentity identity, UploadOptions options);
  TusUploader(TusUploader&&) noexcept;
  TusUploader& operator=(TusUploader&&) noexcept;
  ~TusUploader();

  // Uploads the package directory as its PackageArchiveReader archive (constant memory, chunks read with
  // read_at). Creation is repeated safely (the server answers 200 + the same Location); resume from HEAD;
  // 409 UPLOAD_OFFSET_MISMATCH -> use the returned offset; 460 CHECKSUM_MISMATCH -> re-send the chunk;
  // 410 / 460 UPLOAD_HASH_MISMATCH -> re-create once after re-reading; 503 UPLOAD_HANDOVER_FAILED on the last
  // PATCH counts as uploaded. Returns when offset == length.
  // `resume_location`: a Location from an earlier call (the kiosk may keep it) or empty.
  Result<UploadOutcome> upload(const UploadSource& source, std::string_view resume_location = {});

  // GET <path> with the same TLS identity (the kiosk fetches receipts with it).
  Result<HttpResponse> get(std::string_view path);

 private:
  struct Impl;
  explicit TusUploader(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiosk::sync
