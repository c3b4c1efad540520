// Resumable uploads at the gateway (tus 1.0, see PROTOCOL.md beside this file): the partial files
// in DATA/uploads/partial/, the finished ones in DATA/uploads/complete/, and their rows in the
// `uploads` table of DATA/index.sqlite. Durable before acknowledged: bytes are written and fsync'd
// before the row records the new offset, and a restart truncates a partial file back to the
// recorded offset. Thread-safe; one PATCH at a time per upload (a second one is refused as busy).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"

namespace kiosk::gateway::uploads {

struct UploadLimits {
  std::uint64_t max_bytes = 8ULL * 1024 * 1024 * 1024;  // largest Upload-Length ([uploads] max_bytes)
  std::size_t max_patch_bytes = 8 * 1024 * 1024;        // largest PATCH body ([uploads] max_patch_bytes)
  std::size_t max_open_per_device = 16;                 // unfinished uploads per device
};

enum class UploadState { open, complete, failed };
std::string_view to_string(UploadState state);

struct UploadRecord {
  std::string id;  // 32 lowercase hex digits, random
  std::string device_id;
  std::string package_id;
  std::string transaction_id;
  std::string archive_sha256;  // 64 lowercase hex digits: the SHA-256 the whole file must have
  std::uint64_t length = 0;
  std::uint64_t offset = 0;
  UploadState state = UploadState::open;
  // PEM of the client certificate the TLS layer verified when the upload was created: the key the
  // evidence intake checks the manifest signature with. Empty for rows made before it was recorded.
  std::string device_certificate_pem;
};

// A verified, complete upload, already at its final place (DATA/uploads/complete/<id>).
struct CompletedUpload {
  std::string id;
  std::string device_id;
  std::string package_id;
  std::string transaction_id;
  std::string archive_sha256;
  std::uint64_t length = 0;
  std::filesystem::path file;
  std::string device_certificate_pem;  // as UploadRecord::device_certificate_pem
};

// Receives each complete upload once it is durable (the evidence store and the signed receipt
// plug in here). An error leaves the upload complete but not handed over; the store offers it
// again at the next start.
class CompletedUploadSink {
 public:
  virtual ~CompletedUploadSink() = default;
  virtual Result<void> accept(const CompletedUpload& upload) = 0;
};

// A sink that only logs "upload_handed_over" and keeps the file (tests; the gateway uses the
// evidence intake, sync/gateway/evidence/evidence_intake.hpp).
class LoggingUploadSink final : public CompletedUploadSink {
 public:
  Result<void> accept(const CompletedUpload& upload) override;
};

bool is_valid_upload_id(std::string_view id);        // 32 lowercase hex digits
bool is_valid_package_id(std::string_view id);       // 1-64 letters, digits, '.', '_', ':', '-'
bool is_valid_archive_sha256(std::string_view hex);  // 64 lowercase hex digits

class UploadStore {
 public:
  // Opens DATA/index.sqlite (table `uploads`) and DATA/uploads/{partial,complete}/, then recovers:
  // partial files longer than their recorded offset are truncated to it, orphan partial files are
  // removed, interrupted completions are finished, complete uploads not yet handed over are offered
  // to `sink` again. UPLOAD_STORAGE_FAILED when any of that fails.
  static Result<std::unique_ptr<UploadStore>> open(const std::filesystem::path& data_dir, UploadLimits limits,
                                                   CompletedUploadSink& sink);
  ~UploadStore();
  UploadStore(const UploadStore&) = delete;
  UploadStore& operator=(const UploadStore&) = delete;

  struct Created {
    UploadRecord record;
    bool already_existed = false;  // same device + package_id + archive_sha256 as an earlier creation
  };
  // UPLOAD_TOO_LARGE (length 0 or over max_bytes), UPLOAD_CONFLICT (the package already has an
  // upload with another hash), UPLOAD_LIMIT (max_open_per_device open uploads), UPLOAD_STORAGE_FAILED.
  // A failed earlier upload of the same package is replaced by a new one.
  // `device_certificate_pem` is the uploading device's verified client certificate, kept with the row.
  Result<Created> create(std::string_view device_id, std::string_view package_id, std::string_view transaction_id,
                         std::string_view archive_sha256, std::uint64_t length,
                         std::string_view device_certificate_pem = {});

  // UPLOAD_NOT_FOUND for an unknown id and for another device's id.
  Result<UploadRecord> find(std::string_view device_id, std::string_view id);

  // Appends `bytes` at `offset` (which must equal the stored offset), fsyncs, then records the new
  // offset. When the offset reaches the length the whole file is checked against archive_sha256 and
  // moved to complete/ and handed to the sink. Codes: UPLOAD_NOT_FOUND, UPLOAD_FAILED (earlier hash
  // mismatch), UPLOAD_COMPLETE, UPLOAD_BUSY (another PATCH is running), UPLOAD_OFFSET_MISMATCH,
  // UPLOAD_PAST_LENGTH, UPLOAD_HASH_MISMATCH (the upload is now failed), UPLOAD_STORAGE_FAILED
  // (nothing recorded), UPLOAD_HANDOVER_FAILED (complete and durable, the sink refused it).
  Result<UploadRecord> append(std::string_view device_id, std::string_view id, std::uint64_t offset,
                              std::string_view bytes);

  // Removes an unfinished (open or failed) upload and its partial file. UPLOAD_NOT_FOUND,
  // UPLOAD_COMPLETE, UPLOAD_BUSY, UPLOAD_STORAGE_FAILED.
  Result<void> remove(std::string_view device_id, std::string_view id);

  [[nodiscard]] const UploadLimits& limits() const;
  [[nodiscard]] std::filesystem::path partial_file(std::string_view id) const;
  [[nodiscard]] std::filesystem::path complete_file(std::string_view id) const;

 private:
  struct Impl;
  explicit UploadStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiosk::gateway::uploads
