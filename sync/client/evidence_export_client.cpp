#include "sync/client/evidence_export_client.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <utility>

namespace kiosk::sync {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxErrorBodyBytes = 64 * 1024;

// The gateway's {"code","message"} for a refusal, or EXPORT_BAD_ANSWER naming the status.
Error refusal_of(long status, std::string_view body) {
  const json parsed = json::parse(body, nullptr, false);
  if (parsed.is_object() && parsed.contains("code") && parsed["code"].is_string()) {
    const std::string message =
        parsed.contains("message") && parsed["message"].is_string() ? parsed["message"].get<std::string>() : "";
    return Error{parsed["code"].get<std::string>(), message + " (HTTP " + std::to_string(status) + ")"};
  }
  return Error{"EXPORT_BAD_ANSWER", "the gateway answered HTTP " + std::to_string(status) + " without an error code"};
}

std::string text_of(const json& object, const char* field) {
  const auto found = object.find(field);
  return found != object.end() && found->is_string() ? found->get<std::string>() : std::string();
}

struct FileSink {
  std::FILE* file = nullptr;
  bool failed = false;
};

extern "C" std::size_t write_to_file(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<FileSink*>(user);
  const std::size_t bytes = size * count;
  if (std::fwrite(data, 1, bytes, sink->file) != bytes) {
    sink->failed = true;
    return 0;
  }
  return bytes;
}

}  // namespace

Result<EvidenceExportClient> EvidenceExportClient::create(std::string base_url, std::filesystem::path ca_file,
                                                          std::chrono::milliseconds timeout) {
  while (!base_url.empty() && base_url.back() == '/') base_url.pop_back();
  auto client = HttpsClient::create(base_url, TlsIdentity{ca_file, {}, {}}, timeout);
  if (!client) return std::unexpected(client.error());
  return EvidenceExportClient(std::move(*client), std::move(base_url), std::move(ca_file), timeout);
}

EvidenceExportClient::EvidenceExportClient(HttpsClient client, std::string base_url, std::filesystem::path ca_file,
                                           std::chrono::milliseconds timeout)
    : client_(std::move(client)), base_url_(std::move(base_url)), ca_file_(std::move(ca_file)), timeout_(timeout) {}

Result<std::string> EvidenceExportClient::sign_in(std::string_view staff_id, std::string_view password) {
  const std::string body = json{{"staff_id", staff_id}, {"password", password}}.dump();
  auto answer = client_.post_json("/v1/console/sign-in", body);
  if (!answer) return std::unexpected(answer.error());
  if (answer->status != 200) return std::unexpected(refusal_of(answer->status, answer->body));
  const json parsed = json::parse(answer->body, nullptr, false);
  if (!parsed.is_object() || text_of(parsed, "token").empty()) {
    return fail("EXPORT_BAD_ANSWER", "the sign-in answer holds no session token");
  }
  token_ = text_of(parsed, "token");
  return text_of(parsed, "role");
}

Result<std::vector<EvidencePackageInfo>> EvidenceExportClient::search(const EvidenceSearch& criteria) {
  json body = json::object();
  if (criteria.transaction_id) body["transaction_id"] = *criteria.transaction_id;
  if (criteria.device_id) body["device_id"] = *criteria.device_id;
  if (criteria.investor_id) body["investor_id"] = *criteria.investor_id;
  if (criteria.from) body["from"] = *criteria.from;
  if (criteria.to) body["to"] = *criteria.to;
  auto answer = client_.post_json("/v1/console/evidence/search", body.dump(), token_);
  if (!answer) return std::unexpected(answer.error());
  if (answer->status != 200) return std::unexpected(refusal_of(answer->status, answer->body));
  const json parsed = json::parse(answer->body, nullptr, false);
  if (!parsed.is_object() || !parsed.contains("packages") || !parsed["packages"].is_array()) {
    return fail("EXPORT_BAD_ANSWER", "the search answer holds no \"packages\" list");
  }
  std::vector<EvidencePackageInfo> packages;
  for (const auto& row : parsed["packages"]) {
    if (!row.is_object() || !row.contains("archive_size") || !row["archive_size"].is_number_unsigned()) {
      return fail("EXPORT_BAD_ANSWER", "a package in the search answer is malformed");
    }
    EvidencePackageInfo info;
    info.device_id = text_of(row, "device_id");
    info.package_id = text_of(row, "package_id");
    info.transaction_id = text_of(row, "transaction_id");
    info.archive_sha256 = text_of(row, "archive_sha256");
    info.archive_size = row["archive_size"].get<std::uint64_t>();
    info.manifest_sha256 = text_of(row, "manifest_sha256");
    info.operation = text_of(row, "operation");
    info.transaction_state = text_of(row, "transaction_state");
    info.closed_at = text_of(row, "closed_at");
    info.received_at = text_of(row, "received_at");
    info.retain_until = text_of(row, "retain_until");
    info.legal_hold = row.contains("legal_hold") && row["legal_hold"].is_boolean() && row["legal_hold"].get<bool>();
    if (info.device_id.empty() || info.package_id.empty() || info.archive_sha256.empty()) {
      return fail("EXPORT_BAD_ANSWER", "a package in the search answer lacks its device id, package id or hash");
    }
    packages.push_back(std::move(info));
  }
  return packages;
}

Result<std::uint64_t> EvidenceExportClient::download_archive(std::string_view device_id, std::string_view package_id,
                                                             const std::filesystem::path& destination) {
  // O_EXCL: an export never overwrites a file that is already there.
  const int fd = ::open(destination.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return fail("EXPORT_WRITE_FAILED", "cannot create " + destination.string());
  FileSink sink{::fdopen(fd, "wb")};
  if (sink.file == nullptr) {
    ::close(fd);
    return fail("EXPORT_WRITE_FAILED", "cannot open " + destination.string());
  }
  CURL* curl = curl_easy_init();
  if (curl == nullptr) {
    std::fclose(sink.file);
    return fail("GATEWAY_UNREACHABLE", "libcurl could not create a transfer handle (out of memory?)");
  }
  const std::string url =
      base_url_ + "/v1/console/evidence/" + std::string(device_id) + "/" + std::string(package_id) + "/archive";
  const std::string authorization = "Authorization: Bearer " + token_;
  curl_slist* headers = curl_slist_append(nullptr, authorization.c_str());
  char error_detail[CURL_ERROR_SIZE] = {};
  const long timeout_seconds = std::max<long>(1, static_cast<long>(timeout_.count() / 1000));
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "https");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error_detail);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, write_to_file);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &sink);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_.count()));
  // No total timeout (an archive may be gigabytes); a stalled transfer is given up instead.
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME, timeout_seconds);
  curl_easy_setopt(curl, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file_.c_str());
  curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);
  const CURLcode code = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_off_t received = 0;
  curl_easy_getinfo(curl, CURLINFO_SIZE_DOWNLOAD_T, &received);
  curl_slist_free_all(headers);
  curl_easy_cleanup(curl);
  const bool flushed = std::fflush(sink.file) == 0 && ::fsync(::fileno(sink.file)) == 0;
  std::fclose(sink.file);

  const auto discard = [&destination] {
    std::error_code ignored;
    std::filesystem::remove(destination, ignored);
  };
  if (code != CURLE_OK || sink.failed || !flushed) {
    discard();
    if (sink.failed || !flushed) return fail("EXPORT_WRITE_FAILED", "cannot write " + destination.string());
    if (code == CURLE_OPERATION_TIMEDOUT) return fail("GATEWAY_TIMEOUT", "the archive download stalled");
    if (code == CURLE_PEER_FAILED_VERIFICATION || code == CURLE_SSL_CACERT_BADFILE) {
      return fail("GATEWAY_CERT_UNTRUSTED", std::string("the gateway's certificate is not trusted: ") + error_detail);
    }
    return fail("GATEWAY_UNREACHABLE", std::string("the archive download failed: ") +
                                           (error_detail[0] != '\0' ? error_detail : curl_easy_strerror(code)));
  }
  if (status != 200) {
    std::string body;
    {
      std::ifstream in(destination, std::ios::binary);
      body.resize(kMaxErrorBodyBytes);
      in.read(body.data(), static_cast<std::streamsize>(body.size()));
      body.resize(static_cast<std::size_t>(in.gcount()));
    }
    discard();
    return std::unexpected(refusal_of(status, body));
  }
  return static_cast<std::uint64_t>(received);
}

Result<std::string> EvidenceExportClient::device_certificate(std::string_view device_id, std::string_view package_id) {
  auto answer = client_.get(
      "/v1/console/evidence/" + std::string(device_id) + "/certificate?package_id=" + std::string(package_id), token_);
  if (!answer) return std::unexpected(answer.error());
  if (answer->status != 200) return std::unexpected(refusal_of(answer->status, answer->body));
  const json parsed = json::parse(answer->body, nullptr, false);
  if (!parsed.is_object() ||
      text_of(parsed, "certificate_pem").find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    return fail("EXPORT_BAD_ANSWER", "the certificate answer holds no PEM certificate");
  }
  return text_of(parsed, "certificate_pem");
}

}  // namespace kiosk::sync
