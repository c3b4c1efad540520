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
  std::filesystem::path key_file;   // its private key: a PEM file, or an RFC 7512 "pkcs11:" URI (a token key)
  // For a pkcs11: key only (device_key.hpp). Defaulted so that existing three-field initialisers build.
  std::filesystem::path pkcs11_module{};  // the PKCS#11 module (.so)
  std::filesystem::path pin_file{};       // file holding the token PIN
};

struct HttpResponse {
  long status = 0;
  std::string body;
};

// Error codes: GATEWAY_URL_INVALID, GATEWAY_UNREACHABLE, GATEWAY_TIMEOUT, TLS_HANDSHAKE_FAILED,
// GATEWAY_CERT_UNTRUSTED, CLIENT_CERT_UNREADABLE, RESPONSE_TOO_LARGE; with a pkcs11: key, create() also
// gives DEVICE_KEY_UNREADABLE, DEVICE_KEY_TOKEN_UNAVAILABLE or DEVICE_KEY_PIN_REFUSED (the key is
// loaded from the token once, there).
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

class ClientTlsCredentials;  // device_key.hpp

// Shared by HttpsClient and TusUploader (both in kiosk_sync_client), not meant for other callers.
namespace detail {
// The checks HttpsClient::create makes on an identity; for a pkcs11: key also loads the certificate
// and the token key (null for PEM files, which libcurl reads itself, or without a client certificate).
Result<std::shared_ptr<const ClientTlsCredentials>> check_tls_identity(const TlsIdentity& identity);
// Sets the TLS options of `identity` on the curl easy handle `curl` (a CURL*): TLS 1.2 minimum, only
// the provisioned CA, the client certificate from files or, with `token_credentials`, through
// CURLOPT_SSL_CTX_FUNCTION. `token_credentials` must outlive the transfer.
void apply_tls_identity(void* curl, const TlsIdentity& identity, const ClientTlsCredentials* token_credentials);
// The stable error for a failed transfer (`curl_code` is a CURLcode other than CURLE_OK).
Error transport_error(int curl_code, const std::string& detail, std::string_view base_url,
                      std::chrono::milliseconds timeout);
}  // namespace detail

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
