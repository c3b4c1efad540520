// The inspection export (REQ-44): console routes that let a signed-in staff member with the role
// "inspector" find stored evidence packages and fetch their archives and the uploading device's
// certificate, so that CSDC can verify them offline (`kioskctl evidence export`):
//   POST /v1/console/evidence/search                            -> {"packages":[...]}
//   GET  /v1/console/evidence/<device_id>/<package_id>/archive  -> the archive (application/x-tar)
//   GET  /v1/console/evidence/<device_id>/certificate[?package_id=<package_id>]
//                                                               -> {"device_id","certificate_pem"}
// No session: 401 NOT_SIGNED_IN; any role but inspector: 403 EXPORT_FORBIDDEN. Every call, allowed
// or refused, is recorded in evidence_access (DATA/index.sqlite) before it is answered, and logged
// as "evidence_access"; an investor's ID number is only ever kept as its keyed hash.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"
#include "sync/gateway/api.hpp"
#include "sync/gateway/evidence/evidence_store.hpp"
#include "sync/gateway/store.hpp"

namespace kiosk::gateway::evidence {

inline constexpr std::string_view kEvidenceExportPath = "/v1/console/evidence/";
inline constexpr std::string_view kInspectorRole = "inspector";

// The body of POST /v1/console/evidence/search. At least one criterion; `from` and `to` are UTC
// calendar dates ("YYYY-MM-DD") of the transaction's close, both inclusive.
struct SearchCriteria {
  std::optional<std::string> transaction_id;
  std::optional<std::string> device_id;
  std::optional<std::string> investor_id;  // 18-character ID number; never logged or stored
  std::optional<std::string> from;
  std::optional<std::string> to;
};

// BODY_TOO_LARGE, BAD_JSON, FIELD_UNKNOWN, FIELD_INVALID (naming the field, never its value),
// CRITERIA_MISSING (no criterion), CRITERIA_INVALID (from after to).
Result<SearchCriteria> parse_search_request(std::string_view body, std::size_t max_body_bytes = kDefaultMaxBodyBytes);

// "YYYY-MM-DD" (a real calendar date) -> "YYYY-MM-DDT00:00:00.000Z", the start of that UTC day;
// with `days_after` 1, the start of the next day (the exclusive end of an inclusive `to`).
// DATE_INVALID otherwise.
Result<std::string> utc_day_start(std::string_view date, int days_after = 0);

// The criteria as recorded in evidence_access: the investor id replaced by "investor_id_hmac".
std::string recorded_criteria(const SearchCriteria& criteria, std::string_view investor_id_hmac);

using ConsoleSessionLookup = std::function<std::optional<ConsoleSession>(std::string_view authorization)>;
// The PEM certificate the device presented when it uploaded `package_id` (empty: its newest
// upload); nullopt when head office holds none. Store::uploaded_device_certificate in the gateway.
using DeviceCertificateLookup =
    std::function<Result<std::optional<std::string>>(std::string_view device_id, std::string_view package_id)>;

struct ExportRoutesOptions {
  std::filesystem::path temp_dir;  // private copies of archives being sent (DATA/tmp/export)
  std::string nciis_hmac_key;      // the key of id_number_hmac_hex (DATA/nciis-hmac.key)
  std::size_t max_body_bytes = kDefaultMaxBodyBytes;
};

class ExportRoutes {
 public:
  ExportRoutes(EvidenceStore& evidence, Store& index, ConsoleSessionLookup sessions,
               DeviceCertificateLookup device_certificates, ExportRoutesOptions options);

  // nullopt when the request is not for an export route (other path, or the device listener).
  std::optional<ApiResponse> handle(const ApiRequest& request);

 private:
  struct Outcome;
  ApiResponse search(const ApiRequest& request, Outcome& outcome);
  ApiResponse archive(std::string_view device_id, std::string_view package_id, Outcome& outcome);
  ApiResponse certificate(std::string_view device_id, std::string_view package_id, Outcome& outcome);

  EvidenceStore& evidence_;
  Store& index_;
  ConsoleSessionLookup sessions_;
  DeviceCertificateLookup device_certificates_;
  ExportRoutesOptions options_;
};

}  // namespace kiosk::gateway::evidence
