#include "sync/gateway/evidence/s3_client.hpp"
#include "kiosk/core/hex_text.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <strings.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <optional>
#include <vector>

namespace kiosk::gateway::evidence {

namespace {

// Error bodies and small XML answers; anything longer is cut (only <Code> and <Message> matter).
constexpr std::size_t kMaxSmallBody = 64 * 1024;

void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlHandle {
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  ~CurlHandle() {
    curl_slist_free_all(headers);
    if (curl != nullptr) curl_easy_cleanup(curl);
  }
  void add_header(const std::string& header) { headers = curl_slist_append(headers, header.c_str()); }
};

struct Request {
  std::string_view operation;  // for messages: "PutObject", ...
  const char* method = "GET";
  std::string_view bucket;
  std::string_view key;  // empty for bucket operations
  std::string query;     // already canonical: sorted, encoded, "name=value&..."
  std::vector<std::string> headers;
  std::string payload_sha256 = "UNSIGNED-PAYLOAD";
  const std::string* body_text = nullptr;  // an in-memory PUT body, or
  std::FILE* body_file = nullptr;          // a streamed PUT body of body_size bytes
  std::uint64_t body_size = 0;
  const S3Client::BodySink* sink = nullptr;  // where a 2xx GET body goes
};

Request request_for(std::string_view operation, const char* method, std::string_view bucket,
                    std::string_view key = {}) {
  Request request;
  request.operation = operation;
  request.method = method;
  request.bucket = bucket;
  request.key = key;
  return request;
}

struct Response {
  long status = 0;
  std::string body;  // the (bounded) body when no sink took it
  std::string version_id;
  bool sink_refused = false;
};

struct TransferState {
  CURL* curl = nullptr;
  const Request* request = nullptr;
  Response* response = nullptr;
  std::size_t text_offset = 0;
};

std::size_t read_body(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  const std::size_t capacity = size * count;
  if (state->request->body_file != nullptr) {
    const std::size_t got = std::fread(buffer, 1, capacity, state->request->body_file);
    if (got == 0 && std::ferror(state->request->body_file) != 0) return CURL_READFUNC_ABORT;
    return got;
  }
  if (state->request->body_text == nullptr) return 0;
  const std::string& text = *state->request->body_text;
  const std::size_t n = std::min(capacity, text.size() - state->text_offset);
  std::memcpy(buffer, text.data() + state->text_offset, n);
  state->text_offset += n;
  return n;
}

std::size_t write_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  const std::size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(state->curl, CURLINFO_RESPONSE_CODE, &status);
  if (status >= 200 && status < 300 && state->request->sink != nullptr) {
    if (!(*state->request->sink)(data, n)) {
      state->response->sink_refused = true;
      return 0;  // aborts the transfer
    }
    return n;
  }
  const std::size_t room = kMaxSmallBody - std::min(kMaxSmallBody, state->response->body.size());
  state->response->body.append(data, std::min(n, room));
  return n;
}

std::size_t read_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* state = static_cast<TransferState*>(user);
  const std::size_t n = size * count;
  std::string_view line(data, n);
  constexpr std::string_view kVersionHeader = "x-amz-version-id:";
  if (line.size() > kVersionHeader.size() &&
      strncasecmp(line.data(), kVersionHeader.data(), kVersionHeader.size()) == 0) {
    std::string_view value = line.substr(kVersionHeader.size());
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    state->response->version_id = std::string(value);
  }
  return n;
}

std::string xml_element(std::string_view xml, std::string_view name) {
  const std::string open = "<" + std::string(name) + ">";
  const std::string close = "</" + std::string(name) + ">";
  const auto start = xml.find(open);
  if (start == std::string_view::npos) return {};
  const auto end = xml.find(close, start + open.size());
  if (end == std::string_view::npos) return {};
  return std::string(xml.substr(start + open.size(), end - start - open.size()));
}

// Maps an S3 error response to one of our codes; the S3 code and HTTP status stay in the message.
Error s3_error(std::string_view operation, const Response& response) {
  const std::string s3_code = xml_element(response.body, "Code");
  const std::string s3_message = xml_element(response.body, "Message");
  std::string message = "S3 " + std::string(operation) + " failed: HTTP " + std::to_string(response.status);
  message += s3_code.empty() ? std::string(" (no S3 error code)") : " " + s3_code;
  if (!s3_message.empty()) message += " (" + s3_message.substr(0, 200) + ")";
  std::string code = "S3_REQUEST_FAILED";
  if (s3_code == "SignatureDoesNotMatch" || s3_code == "InvalidAccessKeyId") {
    code = "S3_AUTH_FAILED";
    message += "; check [evidence.s3] access_key and the secret in secret_key_file";
  } else if (s3_code == "AccessDenied") {
    code = "S3_ACCESS_DENIED";
  } else if (s3_code == "NoSuchBucket") {
    code = "S3_NO_SUCH_BUCKET";
  } else if (s3_code == "NoSuchKey" || s3_code == "NoSuchVersion") {
    code = "S3_NOT_FOUND";
  } else if (s3_code == "ObjectLockConfigurationNotFoundError") {
    code = "S3_OBJECT_LOCK_NOT_CONFIGURED";
  } else if (s3_code == "BadDigest" || s3_code == "XAmzContentSHA256Mismatch") {
    code = "S3_BAD_DIGEST";
  } else if (s3_code == "InvalidRequest" || s3_code == "InvalidArgument" || s3_code == "InvalidBucketName" ||
             s3_code == "MalformedXML" || s3_code == "InvalidDigest" || s3_code == "InvalidRetentionPeriod") {
    code = "S3_INVALID_REQUEST";
  } else if (s3_code.empty() && response.status == 404) {
    code = "S3_NOT_FOUND";  // a HEAD-like answer without a body
  }
  return Error{std::move(code), std::move(message)};
}

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3), '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

std::string lower_hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 0xf]);
  }
  return out;
}

std::string digest_of(std::string_view text, const EVP_MD* md, bool as_base64) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &length, md, nullptr);
  return as_base64 ? base64(digest.data(), length) : lower_hex(digest.data(), length);
}

// Content-MD5 of a file, read in blocks (constant memory).
Result<std::string> file_md5_base64(std::FILE* file) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_md5(), nullptr) != 1)
    return fail("S3_REQUEST_FAILED", "MD5 is not available from OpenSSL");
  std::vector<char> buffer(64 * 1024);
  std::size_t got = 0;
  while ((got = std::fread(buffer.data(), 1, buffer.size(), file)) > 0)
    EVP_DigestUpdate(context.get(), buffer.data(), got);
  if (std::ferror(file) != 0) return fail("S3_FILE_UNREADABLE", "the archive could not be read for its MD5");
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  EVP_DigestFinal_ex(context.get(), digest.data(), &length);
  std::rewind(file);
  return base64(digest.data(), length);
}

}  // namespace

std::string s3_uri_encode(std::string_view text, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) != 0 || c == '-' || c == '_' || c == '.' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kDigits[byte >> 4]);
      out.push_back(kDigits[byte & 0xf]);
    }
  }
  return out;
}

struct S3Client::Impl {
  S3ClientConfig config;
  std::string base_url;  // scheme://host[:port], no trailing slash

  Result<Response> perform(const Request& request) const {
    CurlHandle handle;
    if (handle.curl == nullptr) return fail("S3_REQUEST_FAILED", "libcurl could not create a handle");
    CURL* curl = handle.curl;
    std::string url = base_url + "/" + s3_uri_encode(request.bucket, false);
    if (!request.key.empty()) url += "/" + s3_uri_encode(request.key, true);
    if (!request.query.empty()) url += "?" + request.query;

    Response response;
    TransferState state{curl, &request, &response, 0};
    const std::string sigv4 = "aws:amz:" + config.region + ":s3";
    curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_AWS_SIGV4, sigv4.c_str());
    curl_easy_setopt(curl, CURLOPT_USERNAME, config.access_key.c_str());
    curl_easy_setopt(curl, CURLOPT_PASSWORD, config.secret_key.c_str());
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config.connect_timeout.count()));
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                     static_cast<long>(std::max<std::int64_t>(1, config.stall_timeout.count() / 1000)));
    if (!config.ca_file.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, config.ca_file.c_str());
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &state);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, read_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &state);

    // curl 7.88 does not add x-amz-content-sha256 itself; set here, it is signed and sent.
    handle.add_header("x-amz-content-sha256: " + request.payload_sha256);
    for (const auto& header : request.headers) handle.add_header(header);
    const std::string_view method = request.method;
    if (method == "PUT") {
      curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
      curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_body);
      curl_easy_setopt(curl, CURLOPT_READDATA, &state);
      const std::uint64_t size = request.body_text != nullptr ? request.body_text->size() : request.body_size;
      curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(size));
      // "Expect: 100-continue" costs a round trip per PUT. The usual cure, an empty "Expect:" header,
      // breaks curl 7.88's SigV4 (it signs the header it then does not send: SignatureDoesNotMatch),
      // so the body follows the headers at once instead of waiting for "100 Continue".
      curl_easy_setopt(curl, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
    } else if (method != "GET") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method);
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, handle.headers);

    const CURLcode result = curl_easy_perform(curl);
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response.status);
    const std::string where = "S3 " + std::string(request.operation) + " to " + base_url + ": ";
    switch (result) {
      case CURLE_OK: return response;
      case CURLE_OPERATION_TIMEDOUT: return fail("S3_TIMEOUT", where + curl_easy_strerror(result));
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_COULDNT_CONNECT:
      case CURLE_SEND_ERROR:
      case CURLE_RECV_ERROR:
      case CURLE_GOT_NOTHING: return fail("S3_UNREACHABLE", where + curl_easy_strerror(result));
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_SSL_CACERT_BADFILE:
        return fail("S3_TLS_FAILED", where + curl_easy_strerror(result) + " (check [evidence.s3] ca_file)");
      case CURLE_READ_ERROR:
      case CURLE_ABORTED_BY_CALLBACK: return fail("S3_FILE_UNREADABLE", where + "the local file could not be read");
      case CURLE_WRITE_ERROR:
        if (response.sink_refused) return fail("S3_REQUEST_FAILED", where + "the receiver of the object body failed");
        [[fallthrough]];
      default: return fail("S3_REQUEST_FAILED", where + curl_easy_strerror(result));
    }
  }
};

Result<S3Client> S3Client::create(S3ClientConfig config) {
  init_curl_once();
  std::string_view endpoint = config.endpoint;
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.remove_suffix(1);
  bool https = false;
  std::string_view authority;
  if (endpoint.starts_with("https://")) {
    https = true;
    authority = endpoint.substr(8);
  } else if (endpoint.starts_with("http://")) {
    authority = endpoint.substr(7);
  } else {
    return fail("S3_URL_INVALID", "the S3 endpoint must start with https:// (or http:// on 127.0.0.1)");
  }
  if (authority.empty() || authority.find_first_of("/?#@") != std::string_view::npos)
    return fail("S3_URL_INVALID", "the S3 endpoint must be scheme://host[:port] without a path or user");
  const std::string_view host =
      authority.substr(0, authority.rfind(':') == std::string_view::npos ? authority.size() : authority.rfind(':'));
  if (!https && host != "127.0.0.1")
    return fail("S3_URL_INVALID",
                "plain http is allowed only to 127.0.0.1; use https:// with a ca_file for " + std::string(host));
  if (config.region.empty()) return fail("S3_URL_INVALID", "the S3 region is empty");
  if (config.access_key.empty() || config.secret_key.empty())
    return fail("S3_AUTH_FAILED", "the S3 access key or secret key is empty");
  auto impl = std::make_unique<Impl>();
  impl->base_url = std::string(endpoint);
  impl->config = std::move(config);
  return S3Client(std::move(impl));
}

S3Client::S3Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
S3Client::S3Client(S3Client&&) noexcept = default;
S3Client& S3Client::operator=(S3Client&&) noexcept = default;
S3Client::~S3Client() = default;

Result<void> S3Client::create_bucket_with_object_lock(std::string_view bucket) {
  Request request = request_for("CreateBucket", "PUT", bucket);
  const std::string empty;
  request.body_text = &empty;
  request.payload_sha256 = digest_of(empty, EVP_sha256(), false);
  request.headers = {"Content-MD5: " + digest_of(empty, EVP_md5(), true), "x-amz-bucket-object-lock-enabled: true"};
  auto response = impl_->perform(request);
  if (!response) return std::unexpected(response.error());
  if (response->status >= 200 && response->status < 300) return {};
  if (xml_element(response->body, "Code") == "BucketAlreadyOwnedByYou") return {};
  return std::unexpected(s3_error(request.operation, *response));
}

Result<bool> S3Client::object_lock_enabled(std::string_view bucket) {
  Request request = request_for("GetObjectLockConfiguration", "GET", bucket);
  request.query = "object-lock=";
  request.payload_sha256 = digest_of("", EVP_sha256(), false);
  auto response = impl_->perform(request);
  if (!response) return std::unexpected(response.error());
  if (response->status == 200) return xml_element(response->body, "ObjectLockEnabled") == "Enabled";
  Error error = s3_error(request.operation, *response);
  if (error.code == "S3_OBJECT_LOCK_NOT_CONFIGURED") return false;
  return std::unexpected(std::move(error));
}

Result<std::string> S3Client::put_object(std::string_view bucket, std::string_view key,
                                         const std::filesystem::path& file, std::string_view sha256_hex,
                                         const ObjectLockRetention& retention) {
  if (!is_lower_hex(sha256_hex, 64))
    return fail("S3_INVALID_REQUEST", "PutObject needs the file's SHA-256 as 64 lowercase hex");
  std::error_code error;
  const auto size = std::filesystem::file_size(file, error);
  if (error) return fail("S3_FILE_UNREADABLE", "the archive to store cannot be read: " + error.message());
  std::unique_ptr<std::FILE, decltype(&std::fclose)> stream(std::fopen(file.c_str(), "rb"), std::fclose);
  if (!stream) return fail("S3_FILE_UNREADABLE", "the archive to store cannot be opened");
  auto md5 = file_md5_base64(stream.get());
  if (!md5) return std::unexpected(md5.error());

  Request request = request_for("PutObject", "PUT", bucket, key);
  request.payload_sha256 = std::string(sha256_hex);
  request.body_file = stream.get();
  request.body_size = size;
  request.headers = {"Content-MD5: " + *md5, "Content-Type: application/octet-stream"};
  if (!retention.mode.empty()) {
    request.headers.push_back("x-amz-object-lock-mode: " + retention.mode);
    request.headers.push_back("x-amz-object-lock-retain-until-date: " + retention.retain_until);
  }
  auto response = impl_->perform(request);
  if (!response) return std::unexpected(response.error());
  if (response->status < 200 || response->status >= 300) return std::unexpected(s3_error(request.operation, *response));
  if (response->version_id.empty() || response->version_id == "null")
    return fail("S3_REQUEST_FAILED", "S3 PutObject returned no x-amz-version-id: the bucket is not versioned");
  return response->version_id;
}

Result<void> S3Client::get_object(std::string_view bucket, std::string_view key, std::string_view version_id,
                                  const BodySink& sink) {
  Request request = request_for("GetObject", "GET", bucket, key);
  request.query = "versionId=" + s3_uri_encode(version_id, false);
  request.payload_sha256 = digest_of("", EVP_sha256(), false);
  request.sink = &sink;
  auto response = impl_->perform(request);
  if (!response) return std::unexpected(response.error());
  if (response->status < 200 || response->status >= 300) return std::unexpected(s3_error(request.operation, *response));
  return {};
}

Result<void> S3Client::put_object_legal_hold(std::string_view bucket, std::string_view key, std::string_view version_id,
                                             bool on) {
  const std::string body = std::string("<LegalHold xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Status>") +
                           (on ? "ON" : "OFF") + "</Status></LegalHold>";
  Request request = request_for("PutObjectLegalHold", "PUT", bucket, key);
  request.query = "legal-hold=&versionId=" + s3_uri_encode(version_id, false);  // sorted, as SigV4 wants
  request.payload_sha256 = digest_of(body, EVP_sha256(), false);
  request.body_text = &body;
  request.headers = {"Content-MD5: " + digest_of(body, EVP_md5(), true), "Content-Type: application/xml"};
  auto response = impl_->perform(request);
  if (!response) return std::unexpected(response.error());
  if (response->status < 200 || response->status >= 300) return std::unexpected(s3_error(request.operation, *response));
  return {};
}

Result<void> S3Client::delete_object(std::string_view bucket, std::string_view key, std::string_view version_id) {
  Request request = request_for("DeleteObject", "DELETE", bucket, key);
  request.query = "versionId=" + s3_uri_encode(version_id, false);
  request.payload_sha256 = digest_of("", EVP_sha256(), false);
  auto response = impl_->perform(request);
  if (!response) return std::unexpected(response.error());
  if (response->status < 200 || response->status >= 300) return std::unexpected(s3_error(request.operation, *response));
  return {};
}

}  // namespace kiosk::gateway::evidence
