// The inspector's side of the evidence export (REQ-44): signs in on the gateway's console listener,
// searches the stored packages, and downloads archives (streamed to a file, any size) and device
// certificates. Routes: sync/gateway/README.md, "Evidence export". Nothing here throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/error.hpp"
#include "sync/client/https_client.hpp"

namespace kiosk::sync {

// At least one criterion; dates are "YYYY-MM-DD" (UTC close date, both inclusive).
struct EvidenceSearch {
  std::optional<std::string> transaction_id;
  std::optional<std::string> device_id;
  std::optional<std::string> investor_id;
  std::optional<std::string> from;
  std::optional<std::string> to;
};

// One row of the search answer.
struct EvidencePackageInfo {
  std::string device_id;
  std::string package_id;
  std::string transaction_id;
  std::string archive_sha256;
  std::uint64_t archive_size = 0;
  std::string manifest_sha256;
  std::string operation;
  std::string transaction_state;
  std::string closed_at;
  std::string received_at;
  std::string retain_until;
  bool legal_hold = false;
};

// Errors: the transport codes of HttpsClient (GATEWAY_UNREACHABLE, GATEWAY_CERT_UNTRUSTED, ...);
// the gateway's own code for a refusal (SIGN_IN_REFUSED, NOT_SIGNED_IN, EXPORT_FORBIDDEN,
// EVIDENCE_NOT_FOUND, ...); EXPORT_BAD_ANSWER for an answer that is not what the protocol says;
// EXPORT_WRITE_FAILED when a download cannot be written.
class EvidenceExportClient {
 public:
  // `ca_file` is the trust anchor for the gateway's console certificate. `timeout` bounds each JSON
  // call, and for a download the time without any byte received.
  static Result<EvidenceExportClient> create(std::string base_url, std::filesystem::path ca_file,
                                             std::chrono::milliseconds timeout);

  // POST /v1/console/sign-in; keeps the session token. Returns the staff member's role.
  Result<std::string> sign_in(std::string_view staff_id, std::string_view password);
  // POST /v1/console/evidence/search
  Result<std::vector<EvidencePackageInfo>> search(const EvidenceSearch& criteria);
  // GET .../<device_id>/<package_id>/archive into `destination` (created, must not exist).
  // The caller checks the bytes (extract_package_archive reports their SHA-256).
  Result<std::uint64_t> download_archive(std::string_view device_id, std::string_view package_id,
                                         const std::filesystem::path& destination);
  // GET .../<device_id>/certificate?package_id=<package_id> -> the PEM certificate the device
  // uploaded that package with
  Result<std::string> device_certificate(std::string_view device_id, std::string_view package_id);

 private:
  EvidenceExportClient(HttpsClient client, std::string base_url, std::filesystem::path ca_file,
                       std::chrono::milliseconds timeout);

  HttpsClient client_;
  std::string base_url_;
  std::filesystem::path ca_file_;
  std::chrono::milliseconds timeout_;
  std::string token_;
};

}  // namespace kiosk::sync
