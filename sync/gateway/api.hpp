// The gateway's request handling, independent of sockets and TLS: a parsed HTTP request in, a JSON
// response out. Everything here treats the request as hostile bytes (it is fuzzed by
// tests/fuzz/gateway_request_fuzz.cpp). Thread-safe; never throws.
#pragma once

#include <chrono>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "kiosk/core/error.hpp"
#include "sync/gateway/nciis.hpp"
#include "sync/gateway/store.hpp"

namespace kiosk::gateway {

enum class Listener { device, console };
std::string_view listener_name(Listener listener);

// Request headers by name, compared without regard to case. Bounded: past kMaxHeaders further
// headers are dropped (the server's 16 KiB header limit bounds the bytes), so hostile requests
// cannot grow it. A repeated name keeps its first value.
class HeaderMap {
 public:
  static constexpr std::size_t kMaxHeaders = 64;

  void set(std::string_view name, std::string_view value);
  [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const;
  [[nodiscard]] std::size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;  // names lower-cased
};

struct ApiRequest {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and optional query
  Listener listener = Listener::device;
  std::string device_id;      // CN of the verified client certificate (device listener only)
  std::string authorization;  // the Authorization header, if any
  std::string body;
  HeaderMap headers = {};  // every request header (bounded), for routes that need more than the above
  // PEM of the verified client certificate named by device_id (device listener only): the upload
  // store keeps it so the evidence intake checks the manifest signature with that key.
  std::string client_certificate_pem = {};
};

struct ApiResponse {
  unsigned status = 200;
  std::string body;  // a JSON object, unless `no_body`
  // Further response headers (for example the tus upload headers); the server always adds Server,
  // Cache-Control: no-store and, with a body, Content-Type: application/json.
  std::vector<std::pair<std::string, std::string>> headers = {};
  // 204 answers and answers to HEAD carry no body (and no Content-Type).
  bool no_body = false;
  // When set, the body is this file's bytes instead of `body`, streamed from disk (an evidence
  // archive may be gigabytes) with `body_content_type`. With `remove_body_file_after_send` the file
  // is a private temporary copy that the server deletes once the answer is written or abandoned.
  std::filesystem::path body_file = {};
  std::string body_content_type = "application/octet-stream";
  bool remove_body_file_after_send = false;
};

// Who a console bearer token belongs to (a signed-in, unexpired session).
struct ConsoleSession {
  std::string staff_id;
  std::string role;
};

struct SignInRequest {
  std::string staff_id;
  std::string password;
};

inline constexpr std::size_t kDefaultMaxBodyBytes = 64 * 1024;

// POST /v1/device/nciis-check
struct NciisCheckRequest {
  std::string transaction_id;
  NciisQuery query;
};
inline constexpr std::size_t kMaxTransactionIdBytes = 64;

// Validates a sign-in body: a JSON object with string "staff_id" (1-32 letters, digits, '_', '-')
// and string "password" (1-256 bytes). Codes: BODY_TOO_LARGE, BAD_JSON, FIELD_MISSING, FIELD_INVALID.
Result<SignInRequest> parse_sign_in_request(std::string_view body, std::size_t max_body_bytes = kDefaultMaxBodyBytes);
// Validates an NCIIS check body: a JSON object with exactly the string fields "transaction_id"
// (1-64 letters, digits, '.', '_', ':' or '-'), "name" (1-64 bytes of UTF-8, no control characters)
// and "id_number" (17 digits + check character 0-9 or X, GB 11643). Codes: BODY_TOO_LARGE, BAD_JSON,
// FIELD_MISSING, FIELD_UNKNOWN, FIELD_INVALID (naming the field). Messages never contain a value.
Result<NciisCheckRequest> parse_nciis_check_request(std::string_view body,
                                                    std::size_t max_body_bytes = kDefaultMaxBodyBytes);
// "Bearer <token>" -> token; nullopt for anything else.
std::optional<std::string> bearer_token(std::string_view authorization);
// {"code":..,"message":..}
std::string error_body(std::string_view code, std::string_view message);

// Counts refused password attempts per staff id and says when an id must wait. In memory only: a
// gateway restart forgets the counts, and each gateway instance behind a load balancer counts on
// its own (an attacker spread over N instances gets N times the attempts). Thread-safe.
class FailedAttemptThrottle {
 public:
  using Clock = std::chrono::steady_clock;
  // At most `max_tracked_ids` ids are remembered, so a stream of made-up ids cannot grow memory
  // without bound; past that the id whose latest failure is oldest is forgotten first.
  FailedAttemptThrottle(std::size_t max_failures, std::chrono::seconds window, std::size_t max_tracked_ids = 10000);

  // True when `id` has `max_failures` failures within the window ending at `now`.
  bool is_throttled(std::string_view id, Clock::time_point now);
  void record_failure(std::string_view id, Clock::time_point now);
  void clear(std::string_view id);  // after a correct password
  std::size_t tracked_ids();

 private:
  void forget_expired(std::deque<Clock::time_point>& failures, Clock::time_point now) const;

  std::size_t max_failures_;
  std::chrono::seconds window_;
  std::size_t max_tracked_ids_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::deque<Clock::time_point>> failures_;  // oldest first
};

using StaffLookup = std::function<Result<std::optional<StaffRecord>>(std::string_view staff_id)>;
// Answers and durably records one NCIIS query (NciisService::check_and_record in the gateway).
using NciisCheck = std::function<Result<NciisReply>(const NciisQuery& query, std::string_view device_id,
                                                    std::string_view transaction_id)>;

// Further routes owned by another module (the CA link, sync/gateway/ca/ca_routes.hpp): an answer,
// or nullopt when the path is not theirs.
using ExtraRoutes = std::function<std::optional<ApiResponse>(const ApiRequest& request)>;

class ApiHandler {
 public:
  static constexpr std::chrono::seconds kSessionLifetime{8 * 60 * 60};
  // POST /v1/device/staff/verify: this many refused passwords for one staff id within the window
  // and that id gets 429 SIGN_IN_THROTTLED until the oldest failure leaves the window.
  static constexpr std::size_t kStaffVerifyMaxFailures = 5;
  static constexpr std::chrono::seconds kStaffVerifyFailureWindow{5 * 60};

  // `decoy_iterations` only exists so the fuzzer can keep unknown-id sign-ins cheap. Without
  // `nciis_check` the NCIIS route answers 503 NCIIS_UNAVAILABLE.
  ApiHandler(StaffLookup lookup, std::string version, std::size_t max_body_bytes,
             int decoy_iterations = kPasswordIterations, NciisCheck nciis_check = {}, ExtraRoutes extra_routes = {});

  ApiResponse handle(const ApiRequest& request);

  // The session of an "Authorization: Bearer <token>" header value; nullopt when there is no bearer
  // token or the session is unknown or expired. For routes owned by other modules (evidence export).
  std::optional<ConsoleSession> console_session(std::string_view authorization);

  // Further routes tried after `extra_routes` (for routes that need console_session() and so can
  // only be made once the handler exists). Not thread-safe: call before serving.
  void add_routes(ExtraRoutes routes);

 private:
  struct Session {
    std::string staff_id;
    std::string display_name;
    std::string role;
    std::chrono::steady_clock::time_point expires_at;
  };

  ApiResponse healthz(const ApiRequest& request) const;
  ApiResponse sign_in(const ApiRequest& request);
  ApiResponse session(const ApiRequest& request);
  ApiResponse nciis_check(const ApiRequest& request);
  ApiResponse staff_verify(const ApiRequest& request);

  StaffLookup lookup_;
  NciisCheck nciis_check_;
  ExtraRoutes extra_routes_;
  std::vector<ExtraRoutes> added_routes_;
  std::string version_;
  std::size_t max_body_bytes_;
  PasswordHash decoy_hash_;  // checked for unknown ids so they take as long as a wrong password
  std::mutex sessions_mutex_;
  // Keyed by the SHA-256 of the token, so a memory dump does not hand out live tokens.
  std::unordered_map<std::string, Session> sessions_;
  FailedAttemptThrottle staff_verify_throttle_{kStaffVerifyMaxFailures, kStaffVerifyFailureWindow};
};

}  // namespace kiosk::gateway
