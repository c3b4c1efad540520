#include "sync/gateway/api.hpp"

#include "kiosk/core/time_text.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <ctime>
#include <nlohmann/json.hpp>

#include "kiosk/core/log.hpp"
#include "sync/gateway/json_body.hpp"

namespace kiosk::gateway {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxJsonDepth = 16;
constexpr std::size_t kMaxPasswordBytes = 256;

json error_json(std::string_view code, std::string_view message) { return json{{"code", code}, {"message", message}}; }

ApiResponse json_response(unsigned status, const json& body) {
  // Replace invalid UTF-8 instead of throwing: a display name is not allowed to crash a response.
  return ApiResponse{status, body.dump(-1, ' ', false, json::error_handler_t::replace)};
}

ApiResponse error_response(unsigned status, std::string_view code, std::string_view message) {
  return json_response(status, error_json(code, message));
}

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr);
  return hex_encode(digest, length);
}

std::string utc_now_text() { return utc_iso8601(std::chrono::system_clock::now()); }

std::string_view path_of(std::string_view target) {
  const auto query = target.find('?');
  return query == std::string_view::npos ? target : target.substr(0, query);
}

}  // namespace

void HeaderMap::set(std::string_view name, std::string_view value) {
  if (entries_.size() >= kMaxHeaders || get(name)) return;
  std::string lower(name);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  entries_.emplace_back(std::move(lower), std::string(value));
}

std::optional<std::string_view> HeaderMap::get(std::string_view name) const {
  for (const auto& [key, value] : entries_) {
    if (key.size() == name.size() && std::equal(key.begin(), key.end(), name.begin(), [](char stored, char asked) {
          return stored == std::tolower(static_cast<unsigned char>(asked));
        })) {
      return std::string_view(value);
    }
  }
  return std::nullopt;
}

std::string_view listener_name(Listener listener) { return listener == Listener::device ? "device" : "console"; }

std::string error_body(std::string_view code, std::string_view message) {
  return error_json(code, message).dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<SignInRequest> parse_sign_in_request(std::string_view body, std::size_t max_body_bytes) {
  auto body_json = parse_json_object_body(body, max_body_bytes, kMaxJsonDepth);
  if (!body_json) return std::unexpected(body_json.error());
  const json& parsed = *body_json;

  SignInRequest request;
  for (const char* field : {"staff_id", "password"}) {
    const auto found = parsed.find(field);
    if (found == parsed.end()) return fail("FIELD_MISSING", std::string("the field \"") + field + "\" is missing");
    if (!found->is_string()) return fail("FIELD_INVALID", std::string("the field \"") + field + "\" must be a string");
  }
  request.staff_id = parsed["staff_id"].get<std::string>();
  request.password = parsed["password"].get<std::string>();
  if (!is_valid_staff_id(request.staff_id)) {
    return fail("FIELD_INVALID", "\"staff_id\" must be 1-32 letters, digits, '_' or '-'");
  }
  if (request.password.empty() || request.password.size() > kMaxPasswordBytes) {
    return fail("FIELD_INVALID", "\"password\" must be 1-256 bytes");
  }
  return request;
}

Result<NciisCheckRequest> parse_nciis_check_request(std::string_view body, std::size_t max_body_bytes) {
  auto body_json = parse_json_object_body(body, max_body_bytes, kMaxJsonDepth);
  if (!body_json) return std::unexpected(body_json.error());
  const json& parsed = *body_json;

  static constexpr std::array<const char*, 3> kFields = {"transaction_id", "name", "id_number"};
  for (const auto& item : parsed.items()) {
    // The unknown key is not echoed: it is the client's bytes and may carry anything.
    if (std::find(kFields.begin(), kFields.end(), item.key()) == kFields.end()) {
      return fail("FIELD_UNKNOWN", "the body may only hold \"transaction_id\", \"name\" and \"id_number\"");
    }
  }
  for (const char* field : kFields) {
    const auto found = parsed.find(field);
    if (found == parsed.end()) return fail("FIELD_MISSING", std::string("the field \"") + field + "\" is missing");
    if (!found->is_string()) return fail("FIELD_INVALID", std::string("the field \"") + field + "\" must be a string");
  }
  NciisCheckRequest request;
  request.transaction_id = parsed["transaction_id"].get<std::string>();
  request.query.name = parsed["name"].get<std::string>();
  request.query.id_number = parsed["id_number"].get<std::string>();

  const bool transaction_ok = !request.transaction_id.empty() &&
                              request.transaction_id.size() <= kMaxTransactionIdBytes &&
                              std::all_of(request.transaction_id.begin(), request.transaction_id.end(), [](char c) {
                                return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                                       c == '.' || c == '_' || c == ':' || c == '-';
                              });
  if (!transaction_ok) {
    return fail("FIELD_INVALID", "\"transaction_id\" must be 1-64 letters, digits, '.', '_', ':' or '-'");
  }
  if (!is_valid_nciis_name(request.query.name)) {
    return fail("FIELD_INVALID", "\"name\" must be 1-64 bytes of UTF-8 without control characters");
  }
  if (!is_valid_citizen_id_number(request.query.id_number)) {
    return fail("FIELD_INVALID",
                "\"id_number\" must be 18 characters: 17 digits and a GB 11643 check character (0-9 or X) "
                "that matches them");
  }
  return request;
}

std::optional<std::string> bearer_token(std::string_view authorization) {
  constexpr std::string_view prefix = "Bearer ";
  if (authorization.size() <= prefix.size() || authorization.substr(0, prefix.size()) != prefix) return std::nullopt;
  std::string_view token = authorization.substr(prefix.size());
  if (token.size() > 256) return std::nullopt;
  for (const char c : token) {
    if (c <= ' ' || c > '~') return std::nullopt;
  }
  return std::string(token);
}

FailedAttemptThrottle::FailedAttemptThrottle(std::size_t max_failures, std::chrono::seconds window,
                                             std::size_t max_tracked_ids)
    : max_failures_(max_failures), window_(window), max_tracked_ids_(max_tracked_ids) {}

void FailedAttemptThrottle::forget_expired(std::deque<Clock::time_point>& failures, Clock::time_point now) const {
  while (!failures.empty() && failures.front() + window_ <= now) failures.pop_front();
}

bool FailedAttemptThrottle::is_throttled(std::string_view id, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto found = failures_.find(std::string(id));
  if (found == failures_.end()) return false;
  forget_expired(found->second, now);
  if (found->second.empty()) {
    failures_.erase(found);
    return false;
  }
  return found->second.size() >= max_failures_;
}

void FailedAttemptThrottle::record_failure(std::string_view id, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  auto found = failures_.find(std::string(id));
  if (found == failures_.end()) {
    if (failures_.size() >= max_tracked_ids_) {
      // An id whose newest failure has left the window has nothing left to count.
      std::erase_if(failures_, [&](const auto& entry) { return entry.second.back() + window_ <= now; });
    }
    if (failures_.size() >= max_tracked_ids_) {
      const auto stalest = std::min_element(failures_.begin(), failures_.end(), [](const auto& a, const auto& b) {
        return a.second.back() < b.second.back();
      });
      failures_.erase(stalest);
    }
    found = failures_.emplace(std::string(id), std::deque<Clock::time_point>{}).first;
  }
  auto& failures = found->second;
  forget_expired(failures, now);
  failures.push_back(now);
  // Only the newest max_failures matter for the decision; older ones need not be kept.
  while (failures.size() > max_failures_) failures.pop_front();
}

void FailedAttemptThrottle::clear(std::string_view id) {
  std::lock_guard lock(mutex_);
  failures_.erase(std::string(id));
}

std::size_t FailedAttemptThrottle::tracked_ids() {
  std::lock_guard lock(mutex_);
  return failures_.size();
}

ApiHandler::ApiHandler(StaffLookup lookup, std::string version, std::size_t max_body_bytes, int decoy_iterations,
                       NciisCheck nciis_check, ExtraRoutes extra_routes)
    : lookup_(std::move(lookup)),
      nciis_check_(std::move(nciis_check)),
      extra_routes_(std::move(extra_routes)),
      version_(std::move(version)),
      max_body_bytes_(max_body_bytes) {
  // A fixed decoy: its only job is to cost the same PBKDF2 work as a real account.
  decoy_hash_ = PasswordHash{"00000000000000000000000000000000",
                             "0000000000000000000000000000000000000000000000000000000000000000", decoy_iterations};
}

ApiResponse ApiHandler::handle(const ApiRequest& request) {
  try {
    const std::string_view path = path_of(request.target);
    if (path == "/healthz") {
      if (request.method != "GET") return error_response(405, "METHOD_NOT_ALLOWED", "use GET for /healthz");
      return healthz(request);
    }
    if (request.listener == Listener::console) {
      if (path == "/v1/console/sign-in") {
        if (request.method != "POST") return error_response(405, "METHOD_NOT_ALLOWED", "use POST to sign in");
        return sign_in(request);
      }
      if (path == "/v1/console/session") {
        if (request.method != "GET") return error_response(405, "METHOD_NOT_ALLOWED", "use GET for the session");
        return session(request);
      }
    }
    // Device listener only (mutual TLS): on the console listener the route does not exist (404),
    // the same as every other path that belongs to the other listener.
    if (request.listener == Listener::device && path == "/v1/device/nciis-check") {
      if (request.method != "POST") return error_response(405, "METHOD_NOT_ALLOWED", "use POST for an NCIIS check");
      return nciis_check(request);
    }
    if (request.listener == Listener::device && path == "/v1/device/staff/verify") {
      if (request.method != "POST") return error_response(405, "METHOD_NOT_ALLOWED", "use POST to verify staff");
      return staff_verify(request);
    }
    if (extra_routes_) {
      if (auto answer = extra_routes_(request)) return std::move(*answer);
    }
    for (const auto& routes : added_routes_) {
      if (auto answer = routes(request)) return std::move(*answer);
    }
    return error_response(404, "NOT_FOUND",
                          "no such endpoint on the " + std::string(listener_name(request.listener)) + " listener");
  } catch (const std::exception&) {
    // Nothing above should throw; if it does, the client gets a clean 500 and the server lives on.
    return error_response(500, "INTERNAL_ERROR", "the gateway could not handle the request; see its log");
  }
}

ApiResponse ApiHandler::healthz(const ApiRequest& request) const {
  json body{{"status", "ok"}, {"version", version_}, {"listener", listener_name(request.listener)}};
  if (request.listener == Listener::device) body["device_id"] = request.device_id;
  return json_response(200, body);
}

ApiResponse ApiHandler::sign_in(const ApiRequest& request) {
  auto parsed = parse_sign_in_request(request.body, max_body_bytes_);
  if (!parsed) return error_response(400, parsed.error().code, parsed.error().message);

  auto found = lookup_(parsed->staff_id);
  if (!found) {
    log::error("sign_in_storage_error", {{"code", found.error().code}});
    return error_response(503, "STORAGE_UNAVAILABLE", "staff accounts cannot be read right now; try again later");
  }
  const bool known = found->has_value();
  const bool password_ok = verify_password(parsed->password, known ? (*found)->password : decoy_hash_);
  if (!known || !password_ok) {
    // One answer for unknown id and wrong password. The id is not logged: people type passwords into it.
    log::warn("sign_in_refused", {});
    return error_response(401, "SIGN_IN_REFUSED", "staff id or password is wrong");
  }
  auto token = random_hex(32);
  if (!token) return error_response(503, token.error().code, "cannot create a session; try again");

  const StaffRecord& staff = **found;
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(sessions_mutex_);
    std::erase_if(sessions_, [now](const auto& entry) { return entry.second.expires_at <= now; });
    sessions_[sha256_hex(*token)] = Session{staff.staff_id, staff.display_name, staff.role, now + kSessionLifetime};
  }
  log::info("sign_in", {{"staff_id", staff.staff_id}, {"role", staff.role}});
  return json_response(200, json{{"token", *token},
                                 {"staff_id", staff.staff_id},
                                 {"display_name", staff.display_name},
                                 {"role", staff.role},
                                 {"expires_in", kSessionLifetime.count()}});
}

// The on-site staff member confirms a step at the kiosk (REQ-27, REQ-49). No session is created: the
// kiosk only learns who typed the password, and asks again for the next confirmation.
ApiResponse ApiHandler::staff_verify(const ApiRequest& request) {
  auto parsed = parse_sign_in_request(request.body, max_body_bytes_);
  if (!parsed) return error_response(400, parsed.error().code, parsed.error().message);
  struct PasswordWipe {
    std::string& password;
    ~PasswordWipe() { OPENSSL_cleanse(password.data(), password.size()); }
  } wipe{parsed->password};

  // Checked before any PBKDF2 work, so a throttled id also costs the gateway nothing. Unknown ids
  // are throttled like known ones: a different answer would tell which ids exist. Requests already
  // past this check when the fifth failure lands may still finish (at most one per worker thread).
  const auto now = FailedAttemptThrottle::Clock::now();
  if (staff_verify_throttle_.is_throttled(parsed->staff_id, now)) {
    log::warn("staff_verify_throttled", {{"device_id", request.device_id}});
    return error_response(429, "SIGN_IN_THROTTLED",
                          "too many wrong passwords for this staff id; wait 5 minutes and try again");
  }
  auto found = lookup_(parsed->staff_id);
  if (!found) {
    log::error("staff_verify_storage_error", {{"code", found.error().code}, {"device_id", request.device_id}});
    return error_response(503, "STORAGE_UNAVAILABLE", "staff accounts cannot be read right now; try again later");
  }
  const bool known = found->has_value();
  const bool password_ok = verify_password(parsed->password, known ? (*found)->password : decoy_hash_);
  if (!known || !password_ok) {
    staff_verify_throttle_.record_failure(parsed->staff_id, FailedAttemptThrottle::Clock::now());
    // Same answer as sign_in's refusal; the id is not logged (people type passwords into it).
    log::warn("staff_verify_refused", {{"device_id", request.device_id}});
    return error_response(401, "SIGN_IN_REFUSED", "staff id or password is wrong");
  }
  staff_verify_throttle_.clear(parsed->staff_id);
  const StaffRecord& staff = **found;
  log::info("staff_verify", {{"staff_id", staff.staff_id}, {"role", staff.role}, {"device_id", request.device_id}});
  return json_response(200,
                       json{{"staff_id", staff.staff_id}, {"display_name", staff.display_name}, {"role", staff.role}});
}

void ApiHandler::add_routes(ExtraRoutes routes) {
  if (routes) added_routes_.push_back(std::move(routes));
}

std::optional<ConsoleSession> ApiHandler::console_session(std::string_view authorization) {
  const auto token = bearer_token(authorization);
  if (!token) return std::nullopt;
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(sessions_mutex_);
  const auto found = sessions_.find(sha256_hex(*token));
  if (found == sessions_.end() || found->second.expires_at <= now) return std::nullopt;
  return ConsoleSession{found->second.staff_id, found->second.role};
}

ApiResponse ApiHandler::session(const ApiRequest& request) {
  const auto token = bearer_token(request.authorization);
  if (!token) {
    return error_response(401, "NOT_SIGNED_IN", "send Authorization: Bearer <token> from POST /v1/console/sign-in");
  }
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(sessions_mutex_);
  const auto found = sessions_.find(sha256_hex(*token));
  if (found == sessions_.end() || found->second.expires_at <= now) {
    if (found != sessions_.end()) sessions_.erase(found);
    return error_response(401, "NOT_SIGNED_IN", "the session is unknown or has expired; sign in again");
  }
  const Session& active = found->second;
  return json_response(200, json{{"staff_id", active.staff_id},
                                 {"display_name", active.display_name},
                                 {"role", active.role},
                                 {"server_time", utc_now_text()}});
}

ApiResponse ApiHandler::nciis_check(const ApiRequest& request) {
  auto parsed = parse_nciis_check_request(request.body, max_body_bytes_);
  if (!parsed) return error_response(400, parsed.error().code, parsed.error().message);
  if (!nciis_check_) {
    return error_response(503, "NCIIS_UNAVAILABLE", "this gateway has no NCIIS back end configured");
  }
  auto reply = nciis_check_(parsed->query, request.device_id, parsed->transaction_id);
  if (!reply) {
    // Nothing was recorded, so nothing is answered: the kiosk may simply ask again.
    log::error("nciis_check_failed", {{"code", reply.error().code}, {"device_id", request.device_id}});
    return error_response(503, "NCIIS_UNAVAILABLE", "the NCIIS check could not be recorded; try again later");
  }
  const std::string photo = reply->photo.value_or(std::string());
  json body{{"request_id", reply->request_id},
            {"result", to_string(reply->result)},
            {"checked_at", reply->checked_at},
            {"photo_sha256", photo.empty() ? std::string() : sha256_hex_of(photo)},
            {"photo_base64", base64_encode(photo)}};
  if (reply->result == NciisResult::error) {
    body["error_code"] = reply->error_code;
    body["error_message"] = reply->error_message;
  }
  return json_response(200, body);
}

}  // namespace kiosk::gateway
