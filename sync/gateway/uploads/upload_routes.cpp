#include "sync/gateway/uploads/upload_routes.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "kiosk/core/log.hpp"

namespace kiosk::gateway::uploads {
namespace {

constexpr std::string_view kChecksumAlgorithm = "sha256";
constexpr std::string_view kPatchContentType = "application/offset+octet-stream";

std::string_view path_without_query(std::string_view target) {
  const auto query = target.find('?');
  return query == std::string_view::npos ? target : target.substr(0, query);
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

// Every upload answer carries Tus-Resumable; answers to HEAD and 204s carry no body.
ApiResponse tus_response(unsigned status, bool no_body) {
  ApiResponse response;
  response.status = status;
  response.no_body = no_body;
  response.headers.emplace_back("Tus-Resumable", std::string(kTusVersion));
  return response;
}

ApiResponse tus_error(const ApiRequest& request, unsigned status, std::string_view code, std::string_view message) {
  const bool no_body = request.method == "HEAD";
  ApiResponse response = tus_response(status, no_body);
  if (!no_body) response.body = error_body(code, message);
  return response;
}

ApiResponse from_error(const ApiRequest& request, const Error& error) {
  return tus_error(request, UploadRoutes::http_status_of(error.code), error.code, error.message);
}

std::string sha256_of(std::string_view bytes) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int size = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_sha256(), nullptr);
  return std::string(reinterpret_cast<const char*>(digest.data()), size);
}

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

std::optional<std::string> decode_base64_strict(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    int values[4];
    int padding = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = text[i + static_cast<std::size_t>(j)];
      if (c == '=' && last && j >= 2) {
        ++padding;
        values[j] = 0;
        continue;
      }
      if (padding > 0) return std::nullopt;  // data after '='
      values[j] = base64_value(c);
      if (values[j] < 0) return std::nullopt;
    }
    const unsigned triple = (static_cast<unsigned>(values[0]) << 18) | (static_cast<unsigned>(values[1]) << 12) |
                            (static_cast<unsigned>(values[2]) << 6) | static_cast<unsigned>(values[3]);
    // Canonical only: the bits hidden under the padding must be zero.
    if (padding == 2 && (triple & 0xFFFF) != 0) return std::nullopt;
    if (padding == 1 && (triple & 0xFF) != 0) return std::nullopt;
    out.push_back(static_cast<char>((triple >> 16) & 0xFF));
    if (padding < 2) out.push_back(static_cast<char>((triple >> 8) & 0xFF));
    if (padding < 1) out.push_back(static_cast<char>(triple & 0xFF));
  }
  return out;
}

std::optional<std::uint64_t> parse_decimal(std::string_view text) {
  if (text.empty() || text.size() > 19) return std::nullopt;
  if (text.size() > 1 && text.front() == '0') return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return value;
}

Result<UploadMetadata> parse_upload_metadata(std::string_view header) {
  if (header.size() > kMaxMetadataBytes) {
    return fail("FIELD_INVALID", "Upload-Metadata is longer than " + std::to_string(kMaxMetadataBytes) + " bytes");
  }
  UploadMetadata metadata;
  bool seen[3] = {false, false, false};
  std::string_view rest = header;
  while (true) {
    const auto comma = rest.find(',');
    const std::string_view pair = trim(rest.substr(0, comma));
    const auto space = pair.find(' ');
    const std::string_view key = pair.substr(0, space);
    const std::string_view encoded = space == std::string_view::npos ? std::string_view() : pair.substr(space + 1);
    int slot = -1;
    if (key == "package_id") slot = 0;
    if (key == "transaction_id") slot = 1;
    if (key == "archive_sha256") slot = 2;
    if (slot < 0) {
      return fail("FIELD_UNKNOWN",
                  "Upload-Metadata may only hold package_id, transaction_id and archive_sha256 (one key is another)");
    }
    if (seen[slot]) return fail("FIELD_INVALID", "Upload-Metadata names " + std::string(key) + " twice");
    seen[slot] = true;
    auto value = decode_base64_strict(encoded);
    if (!value) return fail("FIELD_INVALID", "Upload-Metadata " + std::string(key) + " is not strict base64");
    if (slot == 0) {
      if (!is_valid_package_id(*value)) {
        return fail("FIELD_INVALID", "package_id must be 1-64 letters, digits, '.', '_', ':' or '-'");
      }
      metadata.package_id = std::move(*value);
    } else if (slot == 1) {
      if (!is_valid_package_id(*value)) {
        return fail("FIELD_INVALID", "transaction_id must be 1-64 letters, digits, '.', '_', ':' or '-'");
      }
      metadata.transaction_id = std::move(*value);
    } else {
      if (!is_valid_archive_sha256(*value)) {
        return fail("FIELD_INVALID", "archive_sha256 must be 64 lowercase hex digits");
      }
      metadata.archive_sha256 = std::move(*value);
    }
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (!seen[0]) return fail("FIELD_MISSING", "Upload-Metadata needs package_id");
  if (!seen[1]) return fail("FIELD_MISSING", "Upload-Metadata needs transaction_id");
  if (!seen[2]) return fail("FIELD_MISSING", "Upload-Metadata needs archive_sha256");
  return metadata;
}

UploadRoutes::UploadRoutes(UploadStore& store) : store_(store) {}

unsigned UploadRoutes::http_status_of(std::string_view code) {
  if (code == "UPLOAD_NOT_FOUND") return 404;
  if (code == "UPLOAD_FAILED") return 410;
  if (code == "UPLOAD_CONFLICT" || code == "UPLOAD_COMPLETE" || code == "UPLOAD_BUSY" ||
      code == "UPLOAD_OFFSET_MISMATCH") {
    return 409;
  }
  if (code == "UPLOAD_TOO_LARGE" || code == "UPLOAD_PAST_LENGTH" || code == "BODY_TOO_LARGE") return 413;
  if (code == "UPLOAD_LIMIT") return 429;
  if (code == "UPLOAD_HASH_MISMATCH" || code == "CHECKSUM_MISMATCH") return 460;
  if (code == "UPLOAD_STORAGE_FAILED" || code == "UPLOAD_HANDOVER_FAILED") return 503;
  return 400;
}

RouteBodyLimit UploadRoutes::patch_body_limit() const {
  const std::size_t limit = store_.limits().max_patch_bytes;
  ApiResponse too_large = tus_response(413, false);
  too_large.body = error_body("BODY_TOO_LARGE", "a PATCH body may hold at most " + std::to_string(limit) +
                                                    " bytes; send the upload in smaller PATCHes");
  return RouteBodyLimit{Listener::device, "PATCH", std::string(kUploadsPath) + "/", limit, std::move(too_large)};
}

std::optional<ApiResponse> UploadRoutes::handle(const ApiRequest& request) {
  if (request.listener != Listener::device) return std::nullopt;
  const std::string_view path = path_without_query(request.target);
  if (!path.starts_with(kUploadsPath)) return std::nullopt;
  std::string_view rest = path.substr(kUploadsPath.size());
  const bool collection = rest.empty();
  if (!collection && !rest.starts_with("/")) return std::nullopt;  // e.g. /v1/device/uploadsX
  const std::string_view id = collection ? std::string_view() : rest.substr(1);

  if (collection && request.method == "OPTIONS") return options();
  // Version check first (412), for every method but OPTIONS.
  const auto version = request.headers.get("Tus-Resumable");
  if (!version || trim(*version) != kTusVersion) {
    ApiResponse refused = tus_error(request, 412, "TUS_VERSION_UNSUPPORTED", "send Tus-Resumable: 1.0.0");
    refused.headers.emplace_back("Tus-Version", std::string(kTusVersion));
    return refused;
  }
  if (request.device_id.empty()) {
    return tus_error(request, 401, "DEVICE_UNKNOWN", "uploads need a device certificate");
  }
  if (collection) {
    if (request.method == "POST") return create(request);
    ApiResponse refused = tus_error(request, 405, "METHOD_NOT_ALLOWED", "use POST to create an upload");
    refused.headers.emplace_back("Allow", "OPTIONS, POST");
    return refused;
  }
  if (request.method != "HEAD" && request.method != "PATCH" && request.method != "DELETE") {
    ApiResponse refused = tus_error(request, 405, "METHOD_NOT_ALLOWED", "use HEAD, PATCH or DELETE on an upload");
    refused.headers.emplace_back("Allow", "HEAD, PATCH, DELETE");
    return refused;
  }
  // A malformed id is answered like an unknown one.
  if (!is_valid_upload_id(id)) return tus_error(request, 404, "UPLOAD_NOT_FOUND", "no such upload");
  if (request.method == "HEAD") return head(request, id);
  if (request.method == "PATCH") return patch(request, id);
  return remove(request, id);
}

ApiResponse UploadRoutes::options() const {
  ApiResponse response = tus_response(204, true);
  response.headers.emplace_back("Tus-Version", std::string(kTusVersion));
  response.headers.emplace_back("Tus-Extension", "creation,checksum,termination");
  response.headers.emplace_back("Tus-Checksum-Algorithm", std::string(kChecksumAlgorithm));
  response.headers.emplace_back("Tus-Max-Size", std::to_string(store_.limits().max_bytes));
  return response;
}

ApiResponse UploadRoutes::create(const ApiRequest& request) {
  if (request.headers.get("Upload-Defer-Length")) {
    return tus_error(request, 400, "FIELD_INVALID", "Upload-Defer-Length is not supported; send Upload-Length");
  }
  if (!request.body.empty()) {
    return tus_error(request, 400, "FIELD_INVALID", "creation-with-upload is not supported; POST has no body");
  }
  const auto length_header = request.headers.get("Upload-Length");
  if (!length_header) return tus_error(request, 400, "FIELD_MISSING", "send Upload-Length");
  const auto length = parse_decimal(trim(*length_header));
  if (!length) return tus_error(request, 400, "FIELD_INVALID", "Upload-Length must be a decimal number");
  if (*length == 0 || *length > store_.limits().max_bytes) {
    return tus_error(request, 413, "UPLOAD_TOO_LARGE",
                     "Upload-Length must be 1.." + std::to_string(store_.limits().max_bytes) + " bytes");
  }
  const auto metadata_header = request.headers.get("Upload-Metadata");
  if (!metadata_header) return tus_error(request, 400, "FIELD_MISSING", "send Upload-Metadata");
  auto metadata = parse_upload_metadata(*metadata_header);
  if (!metadata) return from_error(request, metadata.error());

  // The certificate the TLS layer verified is kept with the upload: the intake checks the manifest
  // signature against it.
  auto created = store_.create(request.device_id, metadata->package_id, metadata->transaction_id,
                               metadata->archive_sha256, *length, request.client_certificate_pem);
  if (!created) return from_error(request, created.error());
  ApiResponse response = tus_response(created->already_existed ? 200 : 201, false);
  const std::string location = std::string(kUploadsPath) + "/" + created->record.id;
  response.headers.emplace_back("Location", location);
  response.headers.emplace_back("Upload-Offset", std::to_string(created->record.offset));
  // The id is hex, so the location needs no JSON escaping.
  response.body = "{\"location\":\"" + location + "\"}";
  return response;
}

ApiResponse UploadRoutes::head(const ApiRequest& request, std::string_view id) {
  auto found = store_.find(request.device_id, id);
  if (!found) return from_error(request, found.error());
  if (found->state == UploadState::failed) {
    return tus_error(request, 410, "UPLOAD_FAILED", "this upload failed its final hash check");
  }
  ApiResponse response = tus_response(200, true);
  response.headers.emplace_back("Upload-Offset", std::to_string(found->offset));
  response.headers.emplace_back("Upload-Length", std::to_string(found->length));
  response.headers.emplace_back("Cache-Control", "no-store");
  return response;
}

ApiResponse UploadRoutes::patch(const ApiRequest& request, std::string_view id) {
  const auto content_type = request.headers.get("Content-Type");
  if (!content_type || !equals_ignoring_case(trim(*content_type), kPatchContentType)) {
    return tus_error(request, 415, "UNSUPPORTED_MEDIA_TYPE", "send Content-Type: application/offset+octet-stream");
  }
  const auto offset_header = request.headers.get("Upload-Offset");
  if (!offset_header) return tus_error(request, 400, "FIELD_MISSING", "send Upload-Offset");
  const auto offset = parse_decimal(trim(*offset_header));
  if (!offset) return tus_error(request, 400, "FIELD_INVALID", "Upload-Offset must be a decimal number");
  const auto checksum_header = request.headers.get("Upload-Checksum");
  if (!checksum_header) return tus_error(request, 400, "FIELD_MISSING", "send Upload-Checksum: sha256 <base64>");
  const std::string_view checksum = trim(*checksum_header);
  const auto space = checksum.find(' ');
  if (space == std::string_view::npos || checksum.substr(0, space) != kChecksumAlgorithm) {
    return tus_error(request, 400, "CHECKSUM_ALGORITHM_UNSUPPORTED", "Upload-Checksum must use sha256");
  }
  const auto expected_digest = decode_base64_strict(checksum.substr(space + 1));
  if (!expected_digest || expected_digest->size() != 32) {
    return tus_error(request, 400, "FIELD_INVALID", "Upload-Checksum must be sha256 and the base64 of 32 bytes");
  }
  if (request.body.size() > store_.limits().max_patch_bytes) {
    return tus_error(request, 413, "BODY_TOO_LARGE",
                     "a PATCH body may hold at most " + std::to_string(store_.limits().max_patch_bytes) + " bytes");
  }

  // Cheap answers before hashing the body: unknown, finished, or the wrong offset.
  auto found = store_.find(request.device_id, id);
  if (!found) return from_error(request, found.error());
  if (found->state == UploadState::failed) {
    return tus_error(request, 410, "UPLOAD_FAILED", "this upload failed its final hash check; create a new one");
  }
  if (found->state == UploadState::complete) {
    return tus_error(request, 409, "UPLOAD_COMPLETE", "this upload is already complete");
  }
  auto offset_conflict = [&](std::uint64_t current) {
    ApiResponse conflict = tus_error(request, 409, "UPLOAD_OFFSET_MISMATCH",
                                     "Upload-Offset does not match the stored offset; resume from Upload-Offset");
    conflict.headers.emplace_back("Upload-Offset", std::to_string(current));
    return conflict;
  };
  if (*offset != found->offset) return offset_conflict(found->offset);
  if (request.body.size() > found->length - found->offset) {
    return tus_error(request, 413, "UPLOAD_PAST_LENGTH", "the body goes past Upload-Length");
  }
  if (sha256_of(request.body) != *expected_digest) {
    return tus_error(request, 460, "CHECKSUM_MISMATCH",
                     "the body does not match Upload-Checksum; nothing was kept, send it again");
  }

  auto appended = store_.append(request.device_id, id, *offset, request.body);
  if (!appended) {
    if (appended.error().code == "UPLOAD_OFFSET_MISMATCH") {
      // Another PATCH moved the offset between our look and the append.
      if (auto current = store_.find(request.device_id, id)) return offset_conflict(current->offset);
    }
    ApiResponse response = from_error(request, appended.error());
    if (appended.error().code == "UPLOAD_HASH_MISMATCH" || appended.error().code == "UPLOAD_HANDOVER_FAILED") {
      response.headers.emplace_back("Upload-Offset", std::to_string(found->length));
    }
    return response;
  }
  ApiResponse response = tus_response(204, true);
  response.headers.emplace_back("Upload-Offset", std::to_string(appended->offset));
  return response;
}

ApiResponse UploadRoutes::remove(const ApiRequest& request, std::string_view id) {
  if (auto removed = store_.remove(request.device_id, id); !removed) return from_error(request, removed.error());
  return tus_response(204, true);
}

}  // namespace kiosk::gateway::uploads
