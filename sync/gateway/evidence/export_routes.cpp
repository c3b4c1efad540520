#include "sync/gateway/evidence/export_routes.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <nlohmann/json.hpp>
#include <system_error>
#include <utility>
#include <vector>

#include "kiosk/core/log.hpp"
#include "kiosk/core/time_text.hpp"
#include "sync/gateway/json_body.hpp"
#include "sync/gateway/nciis.hpp"
#include "sync/gateway/pki.hpp"
#include "sync/gateway/uploads/upload_store.hpp"

namespace kiosk::gateway::evidence {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxJsonDepth = 4;
constexpr std::array<const char*, 5> kCriteriaFields = {"transaction_id", "device_id", "investor_id", "from", "to"};

ApiResponse json_response(unsigned status, const json& body) {
  return ApiResponse{status, body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

ApiResponse error_response(unsigned status, std::string_view code, std::string_view message) {
  return ApiResponse{status, error_body(code, message)};
}

std::string_view path_of(std::string_view target) {
  const auto query = target.find('?');
  return query == std::string_view::npos ? target : target.substr(0, query);
}

std::vector<std::string_view> split_path(std::string_view rest) {
  std::vector<std::string_view> parts;
  while (true) {
    const auto slash = rest.find('/');
    parts.push_back(rest.substr(0, slash));
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return parts;
}

bool is_valid_transaction_id(std::string_view id) {
  return !id.empty() && id.size() <= kMaxTransactionIdBytes && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
           c == ':' || c == '-';
  });
}

unsigned status_of_store_error(std::string_view code) {
  if (code == "EVIDENCE_NOT_FOUND") return 404;
  return 503;
}

json package_json(const StoredPackage& row) {
  return json{{"device_id", row.device_id},           {"package_id", row.package_id},
              {"transaction_id", row.transaction_id}, {"archive_sha256", row.archive_sha256},
              {"archive_size", row.archive_size},     {"manifest_sha256", row.manifest_sha256},
              {"operation", row.operation},           {"transaction_state", row.transaction_state},
              {"closed_at", row.closed_at},           {"received_at", row.received_at},
              {"retain_until", row.retain_until},     {"legal_hold", row.legal_hold}};
}

}  // namespace

Result<std::string> utc_day_start(std::string_view date, int days_after) {
  const auto invalid = [] { return fail("DATE_INVALID", "a date must be a calendar date written YYYY-MM-DD"); };
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return invalid();
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  const auto number = [&date](std::size_t at, std::size_t length, auto& value) {
    for (std::size_t i = at; i < at + length; ++i) {
      if (date[i] < '0' || date[i] > '9') return false;
    }
    return std::from_chars(date.data() + at, date.data() + at + length, value).ec == std::errc{};
  };
  if (!number(0, 4, year) || !number(5, 2, month) || !number(8, 2, day)) return invalid();
  const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  if (!ymd.ok() || year < 1970) return invalid();
  const auto start = std::chrono::sys_days{ymd} + std::chrono::days{days_after};
  return utc_iso8601(std::chrono::time_point_cast<std::chrono::system_clock::duration>(start),
                     TimePrecision::milliseconds);
}

Result<SearchCriteria> parse_search_request(std::string_view body, std::size_t max_body_bytes) {
  auto body_json = parse_json_object_body(body, max_body_bytes, kMaxJsonDepth);
  if (!body_json) return std::unexpected(body_json.error());
  const json& parsed = *body_json;
  for (const auto& item : parsed.items()) {
    if (std::find(kCriteriaFields.begin(), kCriteriaFields.end(), item.key()) == kCriteriaFields.end()) {
      return fail("FIELD_UNKNOWN",
                  "the body may only hold \"transaction_id\", \"device_id\", \"investor_id\", \"from\" and \"to\"");
    }
  }
  SearchCriteria criteria;
  const auto take = [&parsed](const char* field, std::optional<std::string>& into) -> Result<void> {
    const auto found = parsed.find(field);
    if (found == parsed.end()) return {};
    if (!found->is_string()) return fail("FIELD_INVALID", std::string("the field \"") + field + "\" must be a string");
    into = found->get<std::string>();
    return {};
  };
  for (auto [field, into] :
       {std::pair{"transaction_id", &criteria.transaction_id}, std::pair{"device_id", &criteria.device_id},
        std::pair{"investor_id", &criteria.investor_id}, std::pair{"from", &criteria.from},
        std::pair{"to", &criteria.to}}) {
    if (auto taken = take(field, *into); !taken) return std::unexpected(taken.error());
  }
  if (criteria.transaction_id && !is_valid_transaction_id(*criteria.transaction_id)) {
    return fail("FIELD_INVALID", "\"transaction_id\" must be 1-64 letters, digits, '.', '_', ':' or '-'");
  }
  if (criteria.device_id && !is_valid_device_id(*criteria.device_id)) {
    return fail("FIELD_INVALID", "\"device_id\" must be 1-64 letters, digits, '.', '_' or '-'");
  }
  if (criteria.investor_id && !is_valid_citizen_id_number(*criteria.investor_id)) {
    return fail("FIELD_INVALID",
                "\"investor_id\" must be 18 characters: 17 digits and a GB 11643 check character (0-9 or X)");
  }
  if (criteria.from && !utc_day_start(*criteria.from)) {
    return fail("FIELD_INVALID", "\"from\" must be a calendar date written YYYY-MM-DD");
  }
  if (criteria.to && !utc_day_start(*criteria.to)) {
    return fail("FIELD_INVALID", "\"to\" must be a calendar date written YYYY-MM-DD");
  }
  // Same-length ISO dates compare as text.
  if (criteria.from && criteria.to && *criteria.from > *criteria.to) {
    return fail("CRITERIA_INVALID", "\"from\" is after \"to\"");
  }
  if (!criteria.transaction_id && !criteria.device_id && !criteria.investor_id && !criteria.from && !criteria.to) {
    return fail("CRITERIA_MISSING",
                "give at least one of \"transaction_id\", \"device_id\", \"investor_id\", \"from\" or \"to\"");
  }
  return criteria;
}

std::string recorded_criteria(const SearchCriteria& criteria, std::string_view investor_id_hmac) {
  json recorded = json::object();
  if (criteria.transaction_id) recorded["transaction_id"] = *criteria.transaction_id;
  if (criteria.device_id) recorded["device_id"] = *criteria.device_id;
  if (criteria.investor_id) recorded["investor_id_hmac"] = std::string(investor_id_hmac);
  if (criteria.from) recorded["from"] = *criteria.from;
  if (criteria.to) recorded["to"] = *criteria.to;
  return recorded.dump(-1, ' ', false, json::error_handler_t::replace);
}

// What one call did, for its evidence_access row.
struct ExportRoutes::Outcome {
  std::string action = "unknown";
  std::string staff_id;
  std::string role;
  std::string criteria = "{}";
  std::string result_code;
  std::int64_t count = 0;
};

ExportRoutes::ExportRoutes(EvidenceStore& evidence, Store& index, ConsoleSessionLookup sessions,
                           DeviceCertificateLookup device_certificates, ExportRoutesOptions options)
    : evidence_(evidence),
      index_(index),
      sessions_(std::move(sessions)),
      device_certificates_(std::move(device_certificates)),
      options_(std::move(options)) {
  // Copies left by a gateway that stopped while sending: nobody will send them any more.
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(options_.temp_dir, ignored)) {
    if (entry.path().extension() == ".tar") std::filesystem::remove(entry.path(), ignored);
  }
}

std::optional<ApiResponse> ExportRoutes::handle(const ApiRequest& request) {
  if (request.listener != Listener::console) return std::nullopt;
  const std::string_view path = path_of(request.target);
  if (!path.starts_with(kEvidenceExportPath)) return std::nullopt;
  const auto parts = split_path(path.substr(kEvidenceExportPath.size()));

  // The only query parameter of these routes: the certificate route's package_id.
  std::string_view certificate_package;
  if (const auto query = request.target.find('?'); query != std::string::npos) {
    constexpr std::string_view kPackageParameter = "package_id=";
    const std::string_view parameters = std::string_view(request.target).substr(query + 1);
    if (parameters.starts_with(kPackageParameter)) certificate_package = parameters.substr(kPackageParameter.size());
  }

  Outcome outcome;
  std::string expected_method = "GET";
  if (parts.size() == 1 && parts[0] == "search") {
    outcome.action = "search";
    expected_method = "POST";
  } else if (parts.size() == 3 && parts[2] == "archive") {
    outcome.action = "archive";
    outcome.criteria =
        json{{"device_id", parts[0]}, {"package_id", parts[1]}}.dump(-1, ' ', false, json::error_handler_t::replace);
  } else if (parts.size() == 2 && parts[1] == "certificate") {
    outcome.action = "certificate";
    json criteria{{"device_id", parts[0]}};
    if (!certificate_package.empty()) criteria["package_id"] = certificate_package;
    outcome.criteria = criteria.dump(-1, ' ', false, json::error_handler_t::replace);
  }

  ApiResponse response;
  if (outcome.action == "unknown") {
    response = error_response(404, "NOT_FOUND", "no such evidence export endpoint");
  } else if (request.method != expected_method) {
    response = error_response(405, "METHOD_NOT_ALLOWED", "use " + expected_method + " for this endpoint");
  } else if (const auto session = sessions_ ? sessions_(request.authorization) : std::nullopt; !session) {
    response = error_response(401, "NOT_SIGNED_IN", "sign in with POST /v1/console/sign-in and send the bearer token");
  } else {
    outcome.staff_id = session->staff_id;
    outcome.role = session->role;
    if (session->role != kInspectorRole) {
      response = error_response(403, "EXPORT_FORBIDDEN", "only staff with the role inspector may export evidence");
    } else if (outcome.action == "search") {
      response = search(request, outcome);
    } else if (outcome.action == "archive") {
      response = archive(parts[0], parts[1], outcome);
    } else {
      response = certificate(parts[0], certificate_package, outcome);
    }
  }
  if (outcome.result_code.empty()) {
    if (response.status == 200) {
      outcome.result_code = "OK";
    } else {
      const json parsed = json::parse(response.body, nullptr, false);
      outcome.result_code = parsed.is_object() && parsed.contains("code") && parsed["code"].is_string()
                                ? parsed["code"].get<std::string>()
                                : std::to_string(response.status);
    }
  }

  // Recorded before the answer leaves: an inspection nobody can account for must not happen.
  const EvidenceAccessRecord record{utc_iso8601(std::chrono::system_clock::now(), TimePrecision::milliseconds),
                                    outcome.staff_id,
                                    outcome.role,
                                    outcome.action,
                                    outcome.criteria,
                                    outcome.result_code,
                                    outcome.count};
  if (auto recorded = index_.record_evidence_access(record); !recorded) {
    log::error("evidence_access_unrecorded", {{"code", recorded.error().code}, {"action", outcome.action}});
    if (response.remove_body_file_after_send) {
      std::error_code ignored;
      std::filesystem::remove(response.body_file, ignored);
    }
    return error_response(503, "STORAGE_UNAVAILABLE", "the access could not be recorded, so nothing is answered");
  }
  log::info("evidence_access", {{"staff_id", outcome.staff_id},
                                {"role", outcome.role},
                                {"action", outcome.action},
                                {"result", outcome.result_code},
                                {"count", std::to_string(outcome.count)}});
  return response;
}

ApiResponse ExportRoutes::search(const ApiRequest& request, Outcome& outcome) {
  auto criteria = parse_search_request(request.body, options_.max_body_bytes);
  if (!criteria) return error_response(400, criteria.error().code, criteria.error().message);

  PackageQuery query;
  query.transaction_id = criteria->transaction_id;
  query.device_id = criteria->device_id;
  if (criteria->from) query.closed_from = *utc_day_start(*criteria->from);
  if (criteria->to) query.closed_to = *utc_day_start(*criteria->to, 1);
  std::string investor_hmac;
  if (criteria->investor_id) {
    investor_hmac = id_number_hmac_hex(options_.nciis_hmac_key, *criteria->investor_id);
    criteria->investor_id->assign(criteria->investor_id->size(), '0');  // not kept longer than needed
  }
  outcome.criteria = recorded_criteria(*criteria, investor_hmac);

  if (criteria->investor_id) {
    // The kiosk's NCIIS checks name the transaction, so a person's checks lead to their packages.
    auto pairs = index_.nciis_transactions_of(investor_hmac);
    if (!pairs) {
      log::error("evidence_search_failed", {{"code", pairs.error().code}});
      return error_response(503, "STORAGE_UNAVAILABLE", "the index cannot be read right now; try again later");
    }
    if (pairs->empty()) return json_response(200, json{{"packages", json::array()}});
    query.device_transactions = std::move(*pairs);
  }
  auto rows = evidence_.query(query);
  if (!rows) {
    log::error("evidence_search_failed", {{"code", rows.error().code}});
    return error_response(503, "STORAGE_UNAVAILABLE", "the evidence index cannot be read right now; try again later");
  }
  json packages = json::array();
  for (const auto& row : *rows) packages.push_back(package_json(row));
  outcome.count = static_cast<std::int64_t>(rows->size());
  return json_response(200, json{{"packages", std::move(packages)}});
}

ApiResponse ExportRoutes::archive(std::string_view device_id, std::string_view package_id, Outcome& outcome) {
  if (!is_valid_device_id(device_id) || !uploads::is_valid_package_id(package_id)) {
    return error_response(400, "FIELD_INVALID", "the device id or package id in the path is not valid");
  }
  auto row = evidence_.find(device_id, package_id);
  if (!row) {
    return error_response(status_of_store_error(row.error().code), row.error().code,
                          row.error().code == "EVIDENCE_NOT_FOUND" ? "no such package is stored"
                                                                   : "the evidence index cannot be read right now");
  }
  std::error_code error;
  std::filesystem::create_directories(options_.temp_dir, error);
  auto name = random_hex(16);
  if (error || !name) {
    log::error("evidence_export_temp_failed", {{"dir", options_.temp_dir.string()}});
    return error_response(503, "STORAGE_UNAVAILABLE", "the gateway cannot prepare the archive right now");
  }
  const auto copy = options_.temp_dir / (*name + ".tar");
  // A private copy checked against the stored hash: what is sent is what was received.
  if (auto read = evidence_.read_archive(*row, copy); !read) {
    std::filesystem::remove(copy, error);
    log::error("evidence_export_read_failed",
               {{"code", read.error().code}, {"device_id", row->device_id}, {"package_id", row->package_id}});
    if (read.error().code == "EVIDENCE_CORRUPT") {
      return error_response(500, "EVIDENCE_CORRUPT", "the stored archive does not match its recorded SHA-256");
    }
    return error_response(503, "STORAGE_UNAVAILABLE", "the stored archive cannot be read right now");
  }
  ApiResponse response;
  response.status = 200;
  response.body_file = copy;
  response.body_content_type = "application/x-tar";
  response.remove_body_file_after_send = true;
  response.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + row->package_id + ".tar\"");
  response.headers.emplace_back("X-Archive-Sha256", row->archive_sha256);
  outcome.count = 1;
  return response;
}

ApiResponse ExportRoutes::certificate(std::string_view device_id, std::string_view package_id, Outcome& outcome) {
  if (!is_valid_device_id(device_id)) {
    return error_response(400, "FIELD_INVALID", "the device id in the path is not valid");
  }
  if (!package_id.empty() && !uploads::is_valid_package_id(package_id)) {
    return error_response(400, "FIELD_INVALID", "the package_id parameter is not valid");
  }
  if (!device_certificates_) {
    return error_response(404, "DEVICE_CERTIFICATE_NOT_FOUND", "this gateway keeps no device certificates");
  }
  auto pem = device_certificates_(device_id, package_id);
  if (!pem) {
    log::error("device_certificate_lookup_failed", {{"code", pem.error().code}});
    return error_response(503, "STORAGE_UNAVAILABLE", "the device certificates cannot be read right now");
  }
  if (!pem->has_value()) {
    return error_response(404, "DEVICE_CERTIFICATE_NOT_FOUND", "head office holds no certificate for this device");
  }
  outcome.count = 1;
  return json_response(200, json{{"device_id", std::string(device_id)}, {"certificate_pem", **pem}});
}

}  // namespace kiosk::gateway::evidence
