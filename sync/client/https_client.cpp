// libcurl (OpenSSL backend) behind the HttpsClient interface. One easy handle per client so that
// connections are reused between requests; a client is used by one thread at a time.
#include "sync/client/https_client.hpp"

#include <curl/curl.h>

#include "sync/client/device_key.hpp"

#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>

namespace kiosk::sync {
namespace {

constexpr std::size_t kMaxResponseBytes = 1024 * 1024;

// curl_global_init is not thread-safe on older libcurl; call it exactly once per process.
Result<void> ensure_curl_initialised() {
  static std::once_flag once;
  static CURLcode init_result = CURLE_OK;
  std::call_once(once, [] { init_result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init_result != CURLE_OK) {
    return fail("GATEWAY_UNREACHABLE",
                std::string("libcurl could not be initialised: ") + curl_easy_strerror(init_result));
  }
  return {};
}

bool file_is_readable(const std::filesystem::path& file) {
  std::FILE* handle = std::fopen(file.c_str(), "rb");
  if (handle == nullptr) return false;
  std::fclose(handle);
  return true;
}

struct BodyCollector {
  std::string body;
  bool too_large = false;
};

extern "C" std::size_t collect_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* collector = static_cast<BodyCollector*>(user);
  const std::size_t bytes = size * count;
  if (collector->body.size() + bytes > kMaxResponseBytes) {
    collector->too_large = true;
    return 0;  // makes libcurl abort the transfer with CURLE_WRITE_ERROR
  }
  collector->body.append(data, bytes);
  return bytes;
}

bool mentions_tls_alert(const char* detail) {
  const std::string_view text(detail);
  return text.find("alert") != std::string_view::npos || text.find("SSL") != std::string_view::npos;
}

extern "C" CURLcode install_token_credentials(CURL*, void* ssl_ctx, void* user) {
  const auto* credentials = static_cast<const ClientTlsCredentials*>(user);
  return credentials->install_into(ssl_ctx) ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

}  // namespace

namespace detail {

Result<std::shared_ptr<const ClientTlsCredentials>> check_tls_identity(const TlsIdentity& identity) {
  if (identity.ca_file.empty() || !file_is_readable(identity.ca_file)) {
    return fail("GATEWAY_CERT_UNTRUSTED", "the gateway CA file \"" + identity.ca_file.string() +
                                              "\" cannot be read, so the gateway cannot be verified; "
                                              "install the CA certificate issued at provisioning");
  }
  if (identity.cert_file.empty() != identity.key_file.empty()) {
    return fail("CLIENT_CERT_UNREADABLE", "a client certificate needs both a certificate file and a key file");
  }
  if (identity.cert_file.empty()) return std::shared_ptr<const ClientTlsCredentials>();
  if (is_pkcs11_uri(identity.key_file.native())) {
    return ClientTlsCredentials::load(identity.cert_file, DeviceKeySpec{.key = identity.key_file.native(),
                                                                        .pkcs11_module = identity.pkcs11_module,
                                                                        .pin_file = identity.pin_file});
  }
  for (const auto& file : {identity.cert_file, identity.key_file}) {
    if (!file_is_readable(file)) {
      return fail("CLIENT_CERT_UNREADABLE", "the device certificate or key \"" + file.string() +
                                                "\" cannot be read; check the path and its permissions");
    }
  }
  return std::shared_ptr<const ClientTlsCredentials>();
}

void apply_tls_identity(void* handle, const TlsIdentity& identity, const ClientTlsCredentials* token_credentials) {
  CURL* curl = static_cast<CURL*>(handle);
  curl_easy_setopt(curl, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_CAINFO, identity.ca_file.c_str());
  curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);  // trust only the provisioned CA, not the system store
  if (token_credentials != nullptr) {
    // libcurl cannot load a token key by itself without an engine PIN prompt; hand OpenSSL the key.
    curl_easy_setopt(curl, CURLOPT_SSL_CTX_FUNCTION, install_token_credentials);
    curl_easy_setopt(curl, CURLOPT_SSL_CTX_DATA, const_cast<ClientTlsCredentials*>(token_credentials));
  } else if (!identity.cert_file.empty()) {
    curl_easy_setopt(curl, CURLOPT_SSLCERT, identity.cert_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
    curl_easy_setopt(curl, CURLOPT_SSLKEY, identity.key_file.c_str());
    curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
  }
}

Error transport_error(int curl_code, const std::string& detail, std::string_view base_url,
                      std::chrono::milliseconds timeout) {
  const auto code = static_cast<CURLcode>(curl_code);
  const std::string where = " (" + std::string(base_url) + "): " + detail;
  switch (code) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return Error{"GATEWAY_URL_INVALID", "the gateway URL is not usable" + where + "; fix [gateway] url"};
    case CURLE_OPERATION_TIMEDOUT:
      return Error{"GATEWAY_TIMEOUT", "the gateway did not answer within " + std::to_string(timeout.count()) + " ms" +
                                          where + "; check the network or raise the timeout"};
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return Error{"GATEWAY_CERT_UNTRUSTED", "the gateway's certificate was not signed by the configured CA" + where +
                                                 "; check [gateway] ca_file and the URL's host name"};
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
      return Error{"CLIENT_CERT_UNREADABLE", "the device certificate or key could not be used" + where +
                                                 "; check that they are PEM files and belong together"};
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CLIENTCERT:
      return Error{"TLS_HANDSHAKE_FAILED", "the TLS handshake with the gateway failed" + where +
                                               "; the gateway may not accept this device certificate"};
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
      // With TLS 1.3 the server checks the client certificate after the client thinks the handshake
      // is done, so a refused certificate shows up as an alert on the first read or write.
      if (mentions_tls_alert(detail.c_str())) {
        return Error{"TLS_HANDSHAKE_FAILED", "the gateway refused the TLS session" + where +
                                                 "; the gateway may not accept this device certificate"};
      }
      return Error{"GATEWAY_UNREACHABLE", "the connection to the gateway broke" + where};
    default:
      return Error{"GATEWAY_UNREACHABLE", "the gateway cannot be reached" + where +
                                              "; check the network, the URL and that the gateway is running"};
  }
}

}  // namespace detail

struct HttpsClient::Impl {
  std::string base_url;
  TlsIdentity identity;
  std::shared_ptr<const ClientTlsCredentials> token_credentials;  // pkcs11: keys only
  std::chrono::milliseconds timeout{};
  CURL* handle = nullptr;

  ~Impl() {
    if (handle != nullptr) curl_easy_cleanup(handle);
  }

  Result<HttpResponse> perform(std::string_view path, const std::string* json_body, std::string_view bearer_token);
};

Result<HttpsClient> HttpsClient::create(std::string base_url, TlsIdentity identity, std::chrono::milliseconds timeout) {
  if (auto init = ensure_curl_initialised(); !init) return std::unexpected(init.error());
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  if (base_url.rfind("https://", 0) != 0 || base_url.size() <= 8) {
    return fail("GATEWAY_URL_INVALID",
                "gateway URL \"" + base_url + "\" must start with https:// and name a host; fix [gateway] url");
  }
  CURLU* parsed = curl_url();
  const CURLUcode parse_result = curl_url_set(parsed, CURLUPART_URL, base_url.c_str(), 0);
  curl_url_cleanup(parsed);
  if (parse_result != CURLUE_OK) {
    return fail("GATEWAY_URL_INVALID", "gateway URL \"" + base_url + "\" is not a valid URL; fix [gateway] url");
  }
  auto token_credentials = detail::check_tls_identity(identity);
  if (!token_credentials) return std::unexpected(token_credentials.error());
  if (timeout.count() <= 0) {
    return fail("GATEWAY_URL_INVALID", "the gateway timeout must be positive");
  }
  auto impl = std::make_unique<Impl>();
  impl->base_url = std::move(base_url);
  impl->identity = std::move(identity);
  impl->token_credentials = std::move(*token_credentials);
  impl->timeout = timeout;
  impl->handle = curl_easy_init();
  if (impl->handle == nullptr) {
    return fail("GATEWAY_UNREACHABLE", "libcurl could not create a transfer handle (out of memory?)");
  }
  return HttpsClient(std::move(impl));
}

HttpsClient::HttpsClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpsClient::HttpsClient(HttpsClient&&) noexcept = default;
HttpsClient& HttpsClient::operator=(HttpsClient&&) noexcept = default;
HttpsClient::~HttpsClient() = default;

Result<HttpResponse> HttpsClient::get(std::string_view path, std::string_view bearer_token) {
  return impl_->perform(path, nullptr, bearer_token);
}

Result<HttpResponse> HttpsClient::post_json(std::string_view path, std::string_view json_body,
                                            std::string_view bearer_token) {
  const std::string body(json_body);
  return impl_->perform(path, &body, bearer_token);
}

Result<HttpResponse> HttpsClient::Impl::perform(std::string_view path, const std::string* json_body,
                                                std::string_view bearer_token) {
  CURL* curl = handle;
  curl_easy_reset(curl);  // keeps the connection cache, clears the previous request's options
  const std::string url = base_url + (path.empty() || path.front() != '/' ? "/" : "") + std::string(path);
  BodyCollector collector;
  char error_detail[CURL_ERROR_SIZE] = {};

  curl_slist* headers = nullptr;
  // Without this libcurl waits up to a second for "100 Continue" before sending a POST body.
  headers = curl_slist_append(headers, "Expect:");
  std::string authorization;
  if (!bearer_token.empty()) {
    authorization = "Authorization: Bearer " + std::string(bearer_token);
    headers = curl_slist_append(headers, authorization.c_str());
  }
  if (json_body != nullptr) headers = curl_slist_append(headers, "Content-Type: application/json");

  const long timeout_ms = static_cast<long>(timeout.count());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_detail);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &collector);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // required for timeouts in multi-threaded programs
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  detail::apply_tls_identity(curl, identity, token_credentials.get());
  if (json_body != nullptr) {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, json_body->data());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(json_body->size()));
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }

  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(headers);

  if (code == CURLE_OK) return HttpResponse{status, std::move(collector.body)};

  const std::string detail = error_detail[0] != '\0' ? std::string(error_detail) : curl_easy_strerror(code);
  if (code == CURLE_WRITE_ERROR) {
    if (collector.too_large) {
      return fail("RESPONSE_TOO_LARGE",
                  "the gateway's answer to " + std::string(path) + " is larger than 1 MiB; it was not read");
    }
    return fail("GATEWAY_UNREACHABLE", "the gateway's answer could not be stored (" + base_url + "): " + detail);
  }
  return std::unexpected(detail::transport_error(code, detail, base_url, timeout));
}

struct GatewayMonitor::Impl {
  HttpsClient client;
  std::chrono::milliseconds interval;
  Report report;
  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  std::thread thread;

  Impl(HttpsClient c, std::chrono::milliseconds i, Report r)
      : client(std::move(c)), interval(i), report(std::move(r)) {}

  void run() {
    std::unique_lock lock(mutex);
    while (!stopping) {
      lock.unlock();
      check_once();
      lock.lock();
      wake.wait_for(lock, interval, [this] { return stopping; });
    }
  }

  void check_once() {
    auto response = client.get("/healthz");
    if (!response) {
      report(false, response.error().code);
    } else if (response->status != 200) {
      report(false, "GATEWAY_UNHEALTHY");
    } else {
      report(true, "");
    }
  }
};

GatewayMonitor::GatewayMonitor(HttpsClient client, std::chrono::milliseconds interval, Report report)
    : impl_(std::make_unique<Impl>(std::move(client), interval, std::move(report))) {
  impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

GatewayMonitor::~GatewayMonitor() {
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace kiosk::sync
