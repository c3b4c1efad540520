// HTTP routes of the resumable upload (tus 1.0 core + creation + checksum + termination; exact
// rules in PROTOCOL.md beside this file), independent of sockets (ApiHandler calls them):
//   OPTIONS /v1/device/uploads          POST /v1/device/uploads
//   HEAD | PATCH | DELETE /v1/device/uploads/<id>
// Device listener only: the uploading device is the CN of its client certificate.
#pragma once

#include <optional>
#include <string_view>

#include "sync/gateway/api.hpp"
#include "sync/gateway/server.hpp"
#include "sync/gateway/uploads/upload_store.hpp"

namespace kiosk::gateway::uploads {

inline constexpr std::string_view kUploadsPath = "/v1/device/uploads";
inline constexpr std::string_view kTusVersion = "1.0.0";
inline constexpr std::size_t kMaxMetadataBytes = 1024;

struct UploadMetadata {
  std::string package_id;
  std::string transaction_id;
  std::string archive_sha256;
};

// Upload-Metadata: exactly the keys package_id, transaction_id, archive_sha256, each once, each with
// a strict (padded, canonical) base64 value. FIELD_MISSING / FIELD_UNKNOWN / FIELD_INVALID.
Result<UploadMetadata> parse_upload_metadata(std::string_view header);
// Strict standard base64 with padding; nullopt for anything else.
std::optional<std::string> decode_base64_strict(std::string_view text);
// A decimal number without sign or leading zeros (except "0"), at most 19 digits.
std::optional<std::uint64_t> parse_decimal(std::string_view text);

class UploadRoutes {
 public:
  explicit UploadRoutes(UploadStore& store);

  // nullopt when the path is not an upload route or the listener is not the device listener.
  std::optional<ApiResponse> handle(const ApiRequest& request);

  // The PATCH body limit for the server ([uploads] max_patch_bytes, answered 413 past it).
  [[nodiscard]] RouteBodyLimit patch_body_limit() const;

  // HTTP status for an upload error code.
  static unsigned http_status_of(std::string_view code);

 private:
  ApiResponse options() const;
  ApiResponse create(const ApiRequest& request);
  ApiResponse head(const ApiRequest& request, std::string_view id);
  ApiResponse patch(const ApiRequest& request, std::string_view id);
  ApiResponse remove(const ApiRequest& request, std::string_view id);

  UploadStore& store_;
};

}  // namespace kiosk::gateway::uploads
