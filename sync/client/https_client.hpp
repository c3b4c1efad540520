// HTTPS client for talking to head office (libcurl on OpenSSL). The kiosk authenticates with its
// device certificate (mutual TLS); the witness console with server-verified TLS and a staff sign-in.
// Every failure is a value with a stable code; nothing here throws.
#pragma once

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"

namespace kiosk::sync {

struct TlsIdentity {
  std::filesystem::path ca_file;    // trust anchor for the gateway's server certificate (required)
  std::filesystem::path cert_file;  // client certificate; empty for no client certificate
  std::filesystem::path key_file;   // its private key
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

// Error codes: GATEWAY_URL_INVALID, GATEWAY_UNREACHABLE, GATEWAY_TIMEOUT, TLS_HANDSHAKE_FAILED,
// GATEWAY_CERT_UNTRUSTED, CLIENT_CERT_UNREADABLE, RESPONSE_TOO_LARGE.
// A response with any HTTP status is a value; callers decide what a status means.
class HttpsClient {
 public:
  static Result<HttpsClient> create(std::string base_url, TlsIdentity identity, std::chrono::milliseconds timeout);
  HttpsClient(HttpsClient&&) noexcept;
  HttpsClient& operator=(HttpsClient&&) noexcept;
  ~HttpsClient();

  Result<HttpResponse> get(std::string_view path, std::string_view bearer_token = {});
  Result<HttpResponse> post_json(std::string_view path, std::string_view json_body, std::string_view bearer_token = {});

 private:
  struct Impl;
  explicit HttpsClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Polls GET /healthz on its own thread every `interval` and reports each result through `report`
// (called on the monitor's thread: it must only post an event to a queue).
class GatewayMonitor {
 public:
  using Report = std::function<void(bool reachable, std::string problem_code)>;
  GatewayMonitor(HttpsClient client, std::chrono::milliseconds interval, Report report);
  GatewayMonitor(const GatewayMonitor&) = delete;
  GatewayMonitor& operator=(const GatewayMonitor&) = delete;
  ~GatewayMonitor();  // stops the thread and joins it promptly (does not wait out the interval)

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiosk::sync
