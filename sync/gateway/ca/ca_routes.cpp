#include "sync/gateway/ca/ca_routes.hpp"

#include "kiosk/core/time_text.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>
#include <vector>

#include "kiosk/core/log.hpp"
#include "sync/gateway/json_body.hpp"

namespace kiosk::gateway::ca {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxJsonDepth = 8;
constexpr std::size_t kMaxCsrBytes = 16 * 1024;
constexpr std::string_view kDevicePrefix = "/v1/device/ca/";
constexpr std::string_view kStatusPrefix = "/v1/device/ca/status/";
constexpr std::string_view kDownloadPath = "/v1/softcert/download";

ApiResponse respond(unsigned status, const json& body) {
  return ApiResponse{status, body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

ApiResponse error_response(unsigned status, std::string_view code, std::string_view message) {
  return ApiResponse{status, error_body(code, message)};
}

ApiResponse from_error(const Error& error) {
  return error_response(CaRoutes::http_status_of(error.code), error.code, error.message);
}

std::string iso_time(std::int64_t unix_seconds) { return utc_iso8601(TimePoint{std::chrono::seconds{unix_seconds}}); }

json status_json(const CertificateStatus& status) {
  return json{{"serial", status.serial},
              {"state", std::string(to_string(status.state))},
              {"medium", std::string(to_string(status.medium))},
              {"not_before", iso_time(status.not_before_unix)},
              {"not_after", iso_time(status.not_after_unix)},
              {"superseded_by", status.superseded_by},
              {"freeze_reason", status.freeze_reason},
              {"revocation_reason", status.revocation_reason}};
}

json issued_json(const IssuedCertificate& issued) {
  if (issued.download) {
    // A soft apply: a reservation and the investor's download grant, no certificate yet.
    return json{{"certificate", status_json(issued.status)},
                {"download",
                 {{"reference", issued.download->reference},
                  {"code", issued.download->code},
                  {"expires_at", iso_time(issued.download->expires_at_unix)}}}};
  }
  return json{{"certificate", status_json(issued.status)},
              {"certificate_pem", issued.certificate_pem},
              {"retired_serial", issued.retired_serial}};
}

json downloaded_json(const DownloadedCertificate& downloaded) {
  return json{{"certificate", status_json(downloaded.status)},
              {"certificate_pem", downloaded.certificate_pem},
              {"chain_pem", downloaded.chain_pem}};
}

json lookup_json(const std::vector<CertificateStatus>& found) {
  json certificates = json::array();
  for (const auto& status : found) certificates.push_back(status_json(status));
  return json{{"certificates", std::move(certificates)}};
}

bool is_reference(std::string_view text) {
  return text.size() == 16 && text.starts_with("SC") &&
         std::all_of(text.begin() + 2, text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_code_text(std::string_view text) {
  return !text.empty() && text.size() <= 32 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
  });
}

bool is_serial(std::string_view text) {
  return !text.empty() && text.size() <= 40 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F') || (c >= 'a' && c <= 'f');
  });
}

// The fields each operation takes: all strings except "subject", an object.
const std::map<std::string_view, std::vector<std::string_view>>& operation_fields() {
  static const std::map<std::string_view, std::vector<std::string_view>> fields{
      {"apply", {"request_id", "subject", "csr_pem", "medium"}},
      {"renew", {"request_id", "serial", "csr_pem"}},
      {"freeze", {"request_id", "serial", "reason"}},
      {"unfreeze", {"request_id", "serial"}},
      {"reissue", {"request_id", "serial", "reason", "csr_pem", "medium"}},
      {"revoke", {"request_id", "serial", "reason"}},
      {"lookup", {"subject"}},
      {"download", {"reference", "code", "csr_pem"}},
  };
  return fields;
}

// Fields that may be left out: apply's csr_pem (a soft apply has none).
bool is_optional_field(std::string_view operation, std::string_view field) {
  return operation == "apply" && field == "csr_pem";
}

// A parsed body: string fields by name, plus the subject object for apply.
struct Body {
  std::map<std::string, std::string, std::less<>> text;
  CaSubject subject;
  std::string_view get(std::string_view name) const {
    const auto found = text.find(name);
    return found == text.end() ? std::string_view() : std::string_view(found->second);
  }
};

Result<CaSubject> parse_subject(const json& value) {
  if (!value.is_object()) return fail("FIELD_INVALID", "\"subject\" must be a JSON object");
  static const std::set<std::string_view> allowed{"investor_type", "id_type", "id_number", "name", "kind"};
  for (const auto& [key, item] : value.items()) {
    if (!allowed.contains(key)) return fail("FIELD_UNKNOWN", "\"subject\" has an unknown field");
    if (!item.is_string()) return fail("FIELD_INVALID", "the fields of \"subject\" must be strings");
  }
  for (const char* required : {"investor_type", "id_type", "id_number", "name"}) {
    if (!value.contains(required)) {
      return fail("FIELD_MISSING", std::string("the field \"subject.") + required + "\" is missing");
    }
  }
  CaSubject subject;
  const auto investor = parse_enum<InvestorType>(value["investor_type"].get<std::string>());
  const auto document = parse_enum<DocumentType>(value["id_type"].get<std::string>());
  const auto kind = parse_enum<certificate::SubjectKind>(value.value("kind", std::string("person")));
  if (!investor) return fail("FIELD_INVALID", "\"subject.investor_type\" must be natural or institution");
  if (!document) return fail("FIELD_INVALID", "\"subject.id_type\" is not a known document type");
  if (!kind) return fail("FIELD_INVALID", "\"subject.kind\" must be person, enterprise or enterprise_staff");
  subject.identity.investor_type = *investor;
  subject.identity.id_type = *document;
  subject.identity.id_number = value["id_number"].get<std::string>();
  subject.common_name = value["name"].get<std::string>();
  subject.kind = *kind;
  return subject;
}

Result<Body> parse_body(std::string_view operation, std::string_view raw, std::size_t max_body_bytes) {
  auto body_json = parse_json_object_body(raw, max_body_bytes, kMaxJsonDepth);
  if (!body_json) return std::unexpected(body_json.error());
  const json& parsed = *body_json;
  const auto& fields = operation_fields().at(operation);
  for (const auto& [key, value] : parsed.items()) {
    if (std::find(fields.begin(), fields.end(), key) == fields.end()) {
      return fail("FIELD_UNKNOWN", "the body of " + std::string(operation) + " has an unknown field");
    }
  }
  Body body;
  for (std::string_view field : fields) {
    const auto found = parsed.find(std::string(field));
    if (found == parsed.end()) {
      if (is_optional_field(operation, field)) continue;
      return fail("FIELD_MISSING", "the field \"" + std::string(field) + "\" is missing");
    }
    if (field == "subject") {
      auto subject = parse_subject(*found);
      if (!subject) return std::unexpected(subject.error());
      body.subject = std::move(*subject);
      continue;
    }
    if (!found->is_string()) return fail("FIELD_INVALID", "the field \"" + std::string(field) + "\" must be a string");
    body.text.emplace(std::string(field), found->get<std::string>());
  }
  const bool takes_request_id = std::find(fields.begin(), fields.end(), "request_id") != fields.end();
  if (takes_request_id && !is_valid_request_id(body.get("request_id"))) {
    return fail("FIELD_INVALID", "\"request_id\" must be 1-64 letters, digits, '.', '_', ':' or '-'");
  }
  if (body.text.contains("serial") && !is_serial(body.get("serial"))) {
    return fail("FIELD_INVALID", "\"serial\" must be 1-40 hexadecimal digits");
  }
  if (body.text.contains("csr_pem") && body.get("csr_pem").size() > kMaxCsrBytes) {
    return fail("FIELD_INVALID", "\"csr_pem\" is larger than 16 KiB");
  }
  if (body.text.contains("medium") && !parse_enum<Medium>(body.get("medium"))) {
    return fail("FIELD_INVALID", "\"medium\" must be hard or soft");
  }
  if (operation == "apply" && !body.text.contains("csr_pem") && body.get("medium") != "soft") {
    return fail("FIELD_MISSING", "the field \"csr_pem\" is missing (a hard apply needs the token's request)");
  }
  if (operation == "apply" && body.text.contains("csr_pem") && body.get("medium") == "soft") {
    return fail("CA_REQUEST_INVALID",
                "a soft apply carries no csr_pem; the investor's software sends its request at download");
  }
  if (body.text.contains("reference") && !is_reference(body.get("reference"))) {
    return fail("FIELD_INVALID", "\"reference\" must be SC followed by 14 digits");
  }
  if (body.text.contains("code") && !is_code_text(body.get("code"))) {
    return fail("FIELD_INVALID", "\"code\" must be 1-32 letters or digits");
  }
  return body;
}

}  // namespace

CaRoutes::CaRoutes(CaAdapter& adapter, CrlSource crl, std::size_t max_body_bytes)
    : adapter_(adapter), crl_(std::move(crl)), max_body_bytes_(max_body_bytes) {}

unsigned CaRoutes::http_status_of(std::string_view code) {
  if (code == "CA_UNKNOWN_SERIAL") return 404;
  if (code == "SOFTCERT_CODE_INVALID") return 403;
  if (code == "SOFTCERT_EXPIRED") return 410;
  if (code == "SOFTCERT_LOCKED") return 423;
  if (code == "SOFTCERT_ALREADY_DOWNLOADED") return 409;
  if (code == "CA_ILLEGAL_TRANSITION" || code == "CA_DUPLICATE_LIVE" || code == "CA_OUTSIDE_RENEWAL_WINDOW" ||
      code == "CA_REQUEST_ID_REUSED" || code == "CA_KEY_REUSED") {
    return 409;
  }
  if (code == "CA_STORAGE_FAILED" || code == "CA_ISSUE_FAILED" || code == "CA_CRL_FAILED" ||
      code == "RANDOM_UNAVAILABLE") {
    return 503;
  }
  return 400;
}

std::optional<ApiResponse> CaRoutes::handle(const ApiRequest& request) {
  std::string_view path = request.target;
  if (const auto query = path.find('?'); query != std::string_view::npos) path = path.substr(0, query);

  if (path == "/v1/ca/crl") {
    if (request.method != "GET") return error_response(405, "METHOD_NOT_ALLOWED", "use GET for the CRL");
    auto crl = crl_ ? crl_() : Result<std::string>(fail("CA_CRL_FAILED", "this CA back end publishes no CRL"));
    if (!crl) return from_error(crl.error());
    return respond(200, json{{"crl_pem", *crl}});
  }
  // The investor's own software: console listener only (server TLS, no client certificate); on
  // the device listener the path does not exist.
  if (path == kDownloadPath) {
    if (request.listener != Listener::console) return std::nullopt;
    if (request.method != "POST") return error_response(405, "METHOD_NOT_ALLOWED", "use POST for a download");
    return operation("download", request);
  }
  // Device listener only: on the console listener these paths do not exist.
  if (request.listener != Listener::device || !path.starts_with(kDevicePrefix)) return std::nullopt;

  if (path.starts_with(kStatusPrefix)) {
    if (request.method != "GET") return error_response(405, "METHOD_NOT_ALLOWED", "use GET for a status query");
    const std::string_view serial = path.substr(kStatusPrefix.size());
    if (!is_serial(serial)) return error_response(400, "FIELD_INVALID", "the serial must be 1-40 hexadecimal digits");
    auto status = adapter_.status(serial);
    if (!status) return from_error(status.error());
    return respond(200, status_json(*status));
  }
  const std::string_view name = path.substr(kDevicePrefix.size());
  if (!operation_fields().contains(name) || name == "download") return std::nullopt;
  if (request.method != "POST") return error_response(405, "METHOD_NOT_ALLOWED", "use POST for a CA operation");
  return operation(name, request);
}

ApiResponse CaRoutes::operation(std::string_view name, const ApiRequest& request) {
  auto body = parse_body(name, request.body, max_body_bytes_);
  if (!body) return from_error(body.error());
  const std::string request_id(body->get("request_id"));
  const std::string serial(body->get("serial"));
  const std::string csr(body->get("csr_pem"));
  const std::string reason(body->get("reason"));
  const Medium medium = parse_enum<Medium>(body->get("medium")).value_or(Medium::hard);

  auto answer = [&](const auto& result, auto to_json) -> ApiResponse {
    if (!result) return from_error(result.error());
    log::info("ca_request",
              {{"operation", std::string(name)}, {"request_id", request_id}, {"device_id", request.device_id}});
    return respond(200, to_json(*result));
  };
  if (name == "download") {
    auto downloaded = adapter_.download_soft(body->get("reference"), body->get("code"), csr);
    if (!downloaded) return from_error(downloaded.error());
    log::info("softcert_download", {{"reference", std::string(body->get("reference"))}});
    return respond(200, downloaded_json(*downloaded));
  }
  if (name == "lookup") {
    auto found = adapter_.lookup(body->subject);
    if (!found) return from_error(found.error());
    log::info("ca_request", {{"operation", "lookup"}, {"device_id", request.device_id}});
    return respond(200, lookup_json(*found));
  }
  if (name == "apply") return answer(adapter_.apply({request_id, body->subject, csr, medium}), issued_json);
  if (name == "renew") return answer(adapter_.renew({request_id, serial, csr}), issued_json);
  if (name == "freeze") return answer(adapter_.freeze({request_id, serial, reason}), status_json);
  if (name == "unfreeze") return answer(adapter_.unfreeze({request_id, serial}), status_json);
  if (name == "reissue") return answer(adapter_.reissue({request_id, serial, reason, csr, medium}), issued_json);
  return answer(adapter_.revoke({request_id, serial, reason}), status_json);
}

}  // namespace kiosk::gateway::ca
