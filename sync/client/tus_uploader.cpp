// The tus client. One curl easy handle per uploader (connections are reused between the POST, HEAD
// and PATCH requests); the archive is read one chunk at a time into one reused buffer.
#include "sync/client/tus_uploader.hpp"

#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <span>
#include <thread>
#include <utility>
#include <vector>

#include "kiosk/core/log.hpp"
#include "nlohmann/json.hpp"
#include "sync/client/device_key.hpp"
#include "sync/package/package_archive.hpp"

namespace kiosk::sync {
namespace {

using Clock = std::chrono::steady_clock;

constexpr std::string_view kUploadsPath = "/v1/device/uploads";
constexpr std::size_t kMaxReplyBodyBytes = 64 * 1024;     // tus answers are tiny JSON
constexpr std::size_t kMaxGetBodyBytes = 1024 * 1024;     // receipts
constexpr std::size_t kMaxChunkBytes = 64 * 1024 * 1024;  // sanity bound on the option
constexpr std::chrono::milliseconds kConnectTimeout{15'000};
constexpr long kLowSpeedBytesPerSecond = 1024;

struct Reply {
  long status = 0;
  std::map<std::string, std::string> headers;  // lower-case names, of the final response
  std::string body;
  bool body_too_large = false;
  std::size_t max_body = kMaxReplyBodyBytes;

  [[nodiscard]] std::string header(const std::string& name) const {
    const auto found = headers.find(name);
    return found == headers.end() ? std::string() : found->second;
  }
};

struct BodySource {
  std::span<const std::uint8_t> bytes;
  std::size_t position = 0;
};

extern "C" std::size_t collect_reply_body(char* data, std::size_t size, std::size_t count, void* user) {
  auto* reply = static_cast<Reply*>(user);
  const std::size_t bytes = size * count;
  if (reply->body.size() + bytes > reply->max_body) {
    reply->body_too_large = true;
    return 0;
  }
  reply->body.append(data, bytes);
  return bytes;
}

extern "C" std::size_t collect_reply_header(char* data, std::size_t size, std::size_t count, void* user) {
  auto* reply = static_cast<Reply*>(user);
  const std::size_t bytes = size * count;
  std::string_view line(data, bytes);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.starts_with("HTTP/")) {
    reply->headers.clear();  // a new response (after "100 Continue"): keep only the final one
    return bytes;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos || reply->headers.size() >= 64) return bytes;
  std::string name(line.substr(0, colon));
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string_view value = line.substr(colon + 1);
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  reply->headers[name] = std::string(value);
  return bytes;
}

extern "C" std::size_t supply_body(char* buffer, std::size_t size, std::size_t count, void* user) {
  auto* source = static_cast<BodySource*>(user);
  const std::size_t wanted = std::min(size * count, source->bytes.size() - source->position);
  std::copy_n(source->bytes.data() + source->position, wanted, buffer);
  source->position += wanted;
  return wanted;
}

extern "C" int check_cancelled(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* cancelled = static_cast<const std::function<bool()>*>(user);
  return (*cancelled && (*cancelled)()) ? 1 : 0;  // non-zero aborts the transfer
}

extern "C" CURLcode install_credentials(CURL*, void* ssl_ctx, void* user) {
  return static_cast<const ClientTlsCredentials*>(user)->install_into(ssl_ctx) ? CURLE_OK : CURLE_SSL_CERTPROBLEM;
}

std::string base64(std::span<const std::uint8_t> bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::string base64(std::string_view text) {
  return base64(std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

std::string sha256_base64(std::span<const std::uint8_t> bytes) {
  unsigned char digest[32];
  unsigned int digest_size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &digest_size, EVP_sha256(), nullptr);
  return base64(std::span<const std::uint8_t>(digest, digest_size));
}

// A decimal without sign; nullopt for anything else.
std::optional<std::uint64_t> parse_offset(const std::string& text) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

bool is_upload_location(std::string_view location) {
  if (!location.starts_with(kUploadsPath) || location.size() != kUploadsPath.size() + 1 + 32) return false;
  if (location[kUploadsPath.size()] != '/') return false;
  return std::all_of(location.begin() + static_cast<std::ptrdiff_t>(kUploadsPath.size()) + 1, location.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string gateway_code(const Reply& reply) {
  const auto parsed = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("code") && parsed["code"].is_string()) {
    const std::string code = parsed["code"].get<std::string>();
    const bool well_formed = !code.empty() && code.size() <= 64 && std::all_of(code.begin(), code.end(), [](char c) {
      return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (well_formed) return code;
  }
  return {};
}

// A refusal that retrying cannot fix: the gateway's code, or UPLOAD_REFUSED.
Error refusal(const Reply& reply, std::string_view request) {
  const std::string code = gateway_code(reply);
  std::string message;
  const auto parsed = nlohmann::json::parse(reply.body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_object() && parsed.contains("message") && parsed["message"].is_string()) {
    message = parsed["message"].get<std::string>().substr(0, 200);
  }
  return Error{code.empty() ? "UPLOAD_REFUSED" : code,
               "the gateway refused the " + std::string(request) + " (HTTP " + std::to_string(reply.status) +
                   (code.empty() ? "" : " " + code) + ")" + (message.empty() ? "" : ": " + message)};
}

bool is_permanent_transport_error(const Error& error) {
  // Retrying does not change the configured CA, URL or device certificate.
  return error.code == "GATEWAY_CERT_UNTRUSTED" || error.code == "CLIENT_CERT_UNREADABLE" ||
         error.code == "GATEWAY_URL_INVALID";
}

Result<package::PackageArchiveReader> open_archive(const std::filesystem::path& package_dir) {
  auto archive = package::PackageArchiveReader::open(package_dir);
  if (!archive) {
    return fail("PACKAGE_UNREADABLE",
                "the package cannot be read for upload (" + archive.error().code + "): " + archive.error().message);
  }
  return archive;
}

}  // namespace

struct TusUploader::Impl {
  std::string base_url;
  TlsIdentity identity;
  UploadOptions options;
  std::shared_ptr<const ClientTlsCredentials> token_credentials;
  CURL* handle = nullptr;
  std::mt19937_64 jitter{std::random_device{}()};

  ~Impl() {
    if (handle != nullptr) curl_easy_cleanup(handle);
  }

  struct Request {
    std::string_view method{};  // GET, HEAD, POST, PATCH
    std::string_view path{};
    std::vector<std::string> headers{};
    std::span<const std::uint8_t> body{};  // PATCH only
    std::size_t max_reply_body = kMaxReplyBodyBytes;
  };

  // Performs one request. `body_bytes_sent` gets the body bytes handed to libcurl (even on failure).
  Result<Reply> perform(const Request& request, std::uint64_t* body_bytes_sent = nullptr);
  Result<UploadOutcome> run(const UploadSource& source, std::string_view resume_location);
  // Sleeps the backoff for the `failures`-th failure in small steps; false when cancelled meanwhile.
  bool back_off(int failures);
  [[nodiscard]] bool is_cancelled() const { return options.cancelled && options.cancelled(); }
};

Result<Reply> TusUploader::Impl::perform(const Request& request, std::uint64_t* body_bytes_sent) {
  CURL* curl = handle;
  curl_easy_reset(curl);  // keeps the connection cache, clears the previous request's options
  const std::string url = base_url + std::string(request.path);
  Reply reply;
  reply.max_body = request.max_reply_body;
  BodySource body{request.body, 0};
  char error_detail[CURL_ERROR_SIZE] = {};

  curl_slist* headers = nullptr;
  // Without an empty Expect libcurl waits for "100 Continue" before a large body: a round trip lost.
  headers = curl_slist_append(headers, "Expect:");
  if (request.method != "GET") headers = curl_slist_append(headers, "Tus-Resumable: 1.0.0");
  for (const auto& header : request.headers) headers = curl_slist_append(headers, header.c_str());

  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_detail);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, collect_reply_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, collect_reply_header);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &reply);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(kConnectTimeout.count()));
  // A transfer (either way) slower than 1 KiB/s for the window is a dead link: give up and resume.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, kLowSpeedBytesPerSecond);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   std::max(1L, static_cast<long>((options.low_speed_window.count() + 999) / 1000)));
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, check_cancelled);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &options.cancelled);
  detail::apply_tls_identity(curl, identity, token_credentials.get());

  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (request.method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(0));
  } else if (request.method == "PATCH") {
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, "PATCH");
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, supply_body);
    curl_easy_setopt(curl, CURLOPT_READDATA, &body);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
    if (options.max_bytes_per_second > 0) {
      curl_easy_setopt(curl, CURLOPT_MAX_SEND_SPEED_LARGE, static_cast<curl_off_t>(options.max_bytes_per_second));
    }
  } else {
    curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
  }

  const CURLcode code = curl_easy_perform(curl);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(headers);
  if (body_bytes_sent != nullptr) *body_bytes_sent = body.position;

  if (code == CURLE_OK) return reply;
  if (code == CURLE_ABORTED_BY_CALLBACK) return fail("UPLOAD_CANCELLED", "the upload was cancelled");
  const std::string detail = error_detail[0] != '\0' ? std::string(error_detail) : curl_easy_strerror(code);
  if (code == CURLE_WRITE_ERROR && reply.body_too_large) {
    return fail("RESPONSE_TOO_LARGE", "the gateway's answer to " + std::string(request.method) + " is too large");
  }
  if (code == CURLE_OPERATION_TIMEDOUT) {
    return fail("GATEWAY_TIMEOUT", "the transfer to the gateway (" + base_url + ") fell below 1 KiB/s for " +
                                       std::to_string(options.low_speed_window.count()) +
                                       " ms or did not connect: " + detail);
  }
  return std::unexpected(detail::transport_error(code, detail, base_url, options.low_speed_window));
}

bool TusUploader::Impl::back_off(int failures) {
  // Full jitter: uniform in [0, min(max, base * 2^(failures-1))], so kiosks that lost the link together
  // do not come back together.
  const auto exponent = std::min(failures - 1, 20);
  const auto ceiling =
      std::min<std::int64_t>(options.max_backoff.count(), options.base_backoff.count() * (std::int64_t{1} << exponent));
  std::uniform_int_distribution<std::int64_t> pick(0, std::max<std::int64_t>(ceiling, 0));
  const auto until = Clock::now() + std::chrono::milliseconds(pick(jitter));
  while (Clock::now() < until) {
    if (is_cancelled()) return false;
    std::this_thread::sleep_for(std::min<Clock::duration>(std::chrono::milliseconds(20), until - Clock::now()));
  }
  return !is_cancelled();
}

Result<UploadOutcome> TusUploader::Impl::run(const UploadSource& source, std::string_view resume_location) {
  auto archive = open_archive(source.package_dir);
  if (!archive) return std::unexpected(archive.error());

  UploadOutcome outcome;
  outcome.archive_sha256 = archive->sha256();
  outcome.archive_size = archive->size();
  std::string location = is_upload_location(resume_location) ? std::string(resume_location) : std::string();
  enum class Step { create, head, patch } step = location.empty() ? Step::create : Step::head;
  std::uint64_t offset = 0;
  std::uint64_t sent_until = 0;  // every byte below this was put on the wire at least once
  bool recreated = false;        // after the gateway refused the whole file once
  int not_found = 0;
  std::vector<std::uint8_t> chunk(options.chunk_bytes);
  const auto started = Clock::now();
  std::uint64_t acknowledged_this_call = 0;

  // A failure that may pass: back off and ask the gateway where it stands. The last one is returned.
  auto retry = [&](Error error) -> std::optional<Error> {
    if (outcome.attempts >= options.max_attempts) return error;
    log::warn("upload_retry",
              {{"package_id", source.package_id}, {"code", error.code}, {"attempt", std::to_string(outcome.attempts)}});
    if (!back_off(outcome.attempts)) return Error{"UPLOAD_CANCELLED", "the upload was cancelled"};
    ++outcome.attempts;
    step = location.empty() ? Step::create : Step::head;
    return std::nullopt;
  };
  // The gateway holds a different file than announced (410, 460 UPLOAD_HASH_MISMATCH): read the
  // package again and start a new upload, once.
  auto recreate = [&](const Reply& reply) -> std::optional<Error> {
    if (recreated) {
      return Error{"UPLOAD_HASH_MISMATCH", "the gateway refused the whole file twice (HTTP " +
                                               std::to_string(reply.status) +
                                               "): the package on disk may be failing; keep it and check the storage"};
    }
    recreated = true;
    auto reopened = open_archive(source.package_dir);
    if (!reopened) return reopened.error();
    *archive = std::move(*reopened);
    outcome.archive_sha256 = archive->sha256();
    outcome.archive_size = archive->size();
    location.clear();
    sent_until = 0;
    step = Step::create;
    return std::nullopt;
  };

  while (true) {
    if (is_cancelled()) return fail("UPLOAD_CANCELLED", "the upload was cancelled");
    if (step == Step::create) {
      const std::string metadata = "Upload-Metadata: package_id " + base64(source.package_id) + ",transaction_id " +
                                   base64(source.transaction_id) + ",archive_sha256 " + base64(outcome.archive_sha256);
      auto reply =
          perform({.method = "POST",
                   .path = kUploadsPath,
                   .headers = {"Upload-Length: " + std::to_string(outcome.archive_size), metadata, "Content-Type:"}});
      if (!reply) {
        if (reply.error().code == "UPLOAD_CANCELLED" || is_permanent_transport_error(reply.error()))
          return std::unexpected(reply.error());
        if (auto stop = retry(reply.error())) return std::unexpected(*stop);
        continue;
      }
      if (reply->status == 201 || reply->status == 200) {
        location = reply->header("location");
        if (!is_upload_location(location)) {
          return fail("UPLOAD_REPLY_INVALID", "the gateway's creation answer has no usable Location");
        }
        outcome.location = location;
        // 200: an earlier creation whose answer was lost (or a finished upload): ask where it stands.
        step = reply->status == 201 ? Step::patch : Step::head;
        offset = 0;
        continue;
      }
      if (reply->status >= 500 || reply->status == 408) {
        if (auto stop = retry(refusal(*reply, "upload creation"))) return std::unexpected(*stop);
        continue;
      }
      return std::unexpected(refusal(*reply, "upload creation"));
    }

    if (step == Step::head) {
      auto reply = perform({.method = "HEAD", .path = location});
      if (!reply) {
        if (reply.error().code == "UPLOAD_CANCELLED" || is_permanent_transport_error(reply.error()))
          return std::unexpected(reply.error());
        if (auto stop = retry(reply.error())) return std::unexpected(*stop);
        continue;
      }
      if (reply->status == 200) {
        const auto server_offset = parse_offset(reply->header("upload-offset"));
        const auto server_length = parse_offset(reply->header("upload-length"));
        if (!server_offset || !server_length || *server_offset > *server_length) {
          return fail("UPLOAD_REPLY_INVALID", "the gateway's HEAD answer has no usable Upload-Offset/Upload-Length");
        }
        if (*server_length != outcome.archive_size) {
          // A kept Location of another package version: start a fresh upload of this one.
          location.clear();
          step = Step::create;
          continue;
        }
        outcome.location = location;
        offset = *server_offset;
        if (offset == outcome.archive_size) return outcome;
        step = Step::patch;
        continue;
      }
      if (reply->status == 404) {
        // Deleted, or a Location from another gateway instance: create again (a few times at most).
        if (++not_found > 3) return std::unexpected(refusal(*reply, "upload offset query"));
        location.clear();
        step = Step::create;
        continue;
      }
      if (reply->status == 410) {
        if (auto stop = recreate(*reply)) return std::unexpected(*stop);
        continue;
      }
      if (reply->status >= 500 || reply->status == 408 || reply->status == 409) {
        if (auto stop = retry(refusal(*reply, "upload offset query"))) return std::unexpected(*stop);
        continue;
      }
      return std::unexpected(refusal(*reply, "upload offset query"));
    }

    // Step::patch
    const std::size_t wanted =
        static_cast<std::size_t>(std::min<std::uint64_t>(options.chunk_bytes, outcome.archive_size - offset));
    auto read = archive->read_at(offset, std::span(chunk.data(), wanted));
    if (!read || *read != wanted) {
      return fail("PACKAGE_UNREADABLE",
                  "the package could not be read at archive offset " + std::to_string(offset) +
                      (read ? std::string(" (short read)") : " (" + read.error().code + "): " + read.error().message));
    }
    const std::span<const std::uint8_t> body(chunk.data(), wanted);
    std::uint64_t sent = 0;
    auto reply = perform(
        {.method = "PATCH",
         .path = location,
         .headers = {"Content-Type: application/offset+octet-stream", "Upload-Offset: " + std::to_string(offset),
                     "Upload-Checksum: sha256 " + sha256_base64(body)},
         .body = body},
        &sent);
    outcome.bytes_sent += sent;
    if (offset < sent_until) outcome.bytes_resent += std::min<std::uint64_t>(sent, sent_until - offset);
    sent_until = std::max(sent_until, offset + sent);
    if (!reply) {
      if (reply.error().code == "UPLOAD_CANCELLED" || is_permanent_transport_error(reply.error()))
        return std::unexpected(reply.error());
      if (auto stop = retry(reply.error())) return std::unexpected(*stop);
      continue;
    }
    const std::string code = gateway_code(*reply);
    if (reply->status == 204) {
      const auto new_offset = parse_offset(reply->header("upload-offset"));
      if (!new_offset || *new_offset < offset || *new_offset > outcome.archive_size) {
        return fail("UPLOAD_REPLY_INVALID", "the gateway's PATCH answer has no usable Upload-Offset");
      }
      acknowledged_this_call += *new_offset - offset;
      offset = *new_offset;
      if (options.on_progress) {
        const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
        options.on_progress(UploadProgress{
            .offset = offset,
            .length = outcome.archive_size,
            .bytes_per_second = seconds > 0 ? static_cast<double>(acknowledged_this_call) / seconds : 0});
      }
      if (offset == outcome.archive_size) return outcome;
      continue;
    }
    if (reply->status == 409 && code == "UPLOAD_OFFSET_MISMATCH") {
      const auto server_offset = parse_offset(reply->header("upload-offset"));
      if (server_offset && *server_offset == offset) {
        // Our own offset back: another request of this upload still runs there (a connection the
        // gateway has not noticed is dead). Sending again at once would spin: back off.
        if (auto stop = retry(refusal(*reply, "upload append"))) return std::unexpected(*stop);
        continue;
      }
      if (server_offset && *server_offset <= outcome.archive_size) {
        offset = *server_offset;
        if (offset == outcome.archive_size) return outcome;
        continue;
      }
      step = Step::head;
      continue;
    }
    if (reply->status == 409 && code == "UPLOAD_COMPLETE") {
      step = Step::head;  // HEAD shows offset == length
      continue;
    }
    if (reply->status == 503 && code == "UPLOAD_HANDOVER_FAILED" && offset + wanted == outcome.archive_size) {
      // Stored and durable; the gateway retries the hand-over itself. The receipt will follow.
      return outcome;
    }
    if ((reply->status == 460 && code == "UPLOAD_HASH_MISMATCH") || reply->status == 410) {
      if (auto stop = recreate(*reply)) return std::unexpected(*stop);
      continue;
    }
    if (reply->status == 404) {
      if (++not_found > 3) return std::unexpected(refusal(*reply, "upload append"));
      location.clear();
      step = Step::create;
      continue;
    }
    if (reply->status == 460 || reply->status == 409 || reply->status == 408 || reply->status >= 500) {
      // CHECKSUM_MISMATCH (the body was damaged on the way), UPLOAD_BUSY, storage trouble.
      if (auto stop = retry(refusal(*reply, "upload append"))) return std::unexpected(*stop);
      continue;
    }
    return std::unexpected(refusal(*reply, "upload append"));
  }
}

Result<TusUploader> TusUploader::create(std::string base_url, TlsIdentity identity, UploadOptions options) {
  static std::once_flag once;
  static CURLcode init_result = CURLE_OK;
  std::call_once(once, [] { init_result = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (init_result != CURLE_OK) return fail("GATEWAY_UNREACHABLE", "libcurl could not be initialised");
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  if (base_url.rfind("https://", 0) != 0 || base_url.size() <= 8) {
    return fail("GATEWAY_URL_INVALID", "gateway URL \"" + base_url + "\" must start with https:// and name a host");
  }
  CURLU* parsed = curl_url();
  const CURLUcode parse_result = curl_url_set(parsed, CURLUPART_URL, base_url.c_str(), 0);
  curl_url_cleanup(parsed);
  if (parse_result != CURLUE_OK) {
    return fail("GATEWAY_URL_INVALID", "gateway URL \"" + base_url + "\" is not a valid URL; fix [gateway] url");
  }
  if (options.chunk_bytes == 0 || options.chunk_bytes > kMaxChunkBytes || options.max_attempts < 1 ||
      options.base_backoff.count() < 0 || options.max_backoff.count() < 0 || options.low_speed_window.count() <= 0) {
    return fail("UPLOAD_OPTIONS_INVALID",
                "upload options out of range: chunk_bytes 1..64 MiB, max_attempts >= 1, backoffs >= 0, "
                "low_speed_window > 0");
  }
  auto token_credentials = detail::check_tls_identity(identity);
  if (!token_credentials) return std::unexpected(token_credentials.error());
  auto impl = std::make_unique<Impl>();
  impl->base_url = std::move(base_url);
  impl->identity = std::move(identity);
  impl->options = std::move(options);
  impl->token_credentials = std::move(*token_credentials);
  impl->handle = curl_easy_init();
  if (impl->handle == nullptr) return fail("GATEWAY_UNREACHABLE", "libcurl could not create a transfer handle");
  return TusUploader(std::move(impl));
}

TusUploader::TusUploader(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TusUploader::TusUploader(TusUploader&&) noexcept = default;
TusUploader& TusUploader::operator=(TusUploader&&) noexcept = default;
TusUploader::~TusUploader() = default;

Result<UploadOutcome> TusUploader::upload(const UploadSource& source, std::string_view resume_location) {
  return impl_->run(source, resume_location);
}

Result<HttpResponse> TusUploader::get(std::string_view path) {
  const std::string full_path = (path.empty() || path.front() != '/' ? "/" : "") + std::string(path);
  auto reply = impl_->perform({.method = "GET", .path = full_path, .max_reply_body = kMaxGetBodyBytes});
  if (!reply) return std::unexpected(reply.error());
  return HttpResponse{reply->status, std::move(reply->body)};
}

}  // namespace kiosk::sync
