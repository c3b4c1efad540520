#include "sync/client/nciis_client.hpp"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>

#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/json_nesting.hpp"

namespace kiosk::sync {
namespace {

using nlohmann::json;

constexpr std::string_view kNciisPath = "/v1/device/nciis-check";

// No valid answer nests at all; a deeply nested body is refused before nlohmann builds (and later
// tears down) a huge tree.
constexpr std::size_t kMaxJsonDepth = 8;

std::unexpected<Error> invalid(std::string message) {
  return fail("NCIIS_REPLY_INVALID", "the gateway's NCIIS answer is invalid: " + std::move(message));
}

bool is_lower_hex(std::string_view text, std::size_t length) {
  if (text.size() != length) return false;
  for (const char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool is_digits(std::string_view text) {
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// "YYYY-MM-DDTHH:MM:SSZ" with plausible field ranges (what kiosk/core/time_text.hpp writes).
bool is_utc_timestamp(std::string_view text) {
  if (text.size() != 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' || text[16] != ':' ||
      text[19] != 'Z') {
    return false;
  }
  const auto field = [&](std::size_t at, std::size_t length) -> std::optional<int> {
    const auto part = text.substr(at, length);
    if (!is_digits(part)) return std::nullopt;
    int value = 0;
    for (const char c : part) value = value * 10 + (c - '0');
    return value;
  };
  const auto month = field(5, 2), day = field(8, 2), hour = field(11, 2), minute = field(14, 2), second = field(17, 2);
  return field(0, 4) && month && day && hour && minute && second && *month >= 1 && *month <= 12 && *day >= 1 &&
         *day <= 31 && *hour <= 23 && *minute <= 59 && *second <= 60;
}

// Strict RFC 4648 base64 (standard alphabet, padding required, no whitespace); nullopt when not.
std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last = i + 4 == text.size();
    const std::size_t padding = last ? (text[i + 3] == '=') + (text[i + 2] == '=' && text[i + 3] == '=') : 0;
    std::uint32_t n = 0;
    for (std::size_t k = 0; k < 4; ++k) {
      const char c = text[i + k];
      int v = 0;
      if (k >= 4 - padding) {
        v = 0;  // the '=' of the last group
      } else {
        v = value(c);
        if (v < 0) return std::nullopt;
      }
      n = (n << 6) | static_cast<std::uint32_t>(v);
    }
    out += static_cast<char>((n >> 16) & 0xFF);
    if (padding < 2) out += static_cast<char>((n >> 8) & 0xFF);
    if (padding < 1) out += static_cast<char>(n & 0xFF);
    // Non-zero bits under the padding mean two encodings for one value; refuse the non-canonical one.
    if ((padding == 1 && (n & 0xFF) != 0) || (padding == 2 && (n & 0xFFFF) != 0)) return std::nullopt;
  }
  return out;
}

std::optional<NciisResult> result_from(std::string_view text) {
  if (text == "MATCH") return NciisResult::match;
  if (text == "MISMATCH") return NciisResult::mismatch;
  if (text == "NOT_FOUND") return NciisResult::not_found;
  if (text == "ERROR") return NciisResult::error;
  return std::nullopt;
}

std::string sha256_of(std::string_view bytes) {
  return journal::sha256_hex(
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
}

}  // namespace

std::string_view to_string(NciisResult result) {
  switch (result) {
    case NciisResult::match: return "MATCH";
    case NciisResult::mismatch: return "MISMATCH";
    case NciisResult::not_found: return "NOT_FOUND";
    case NciisResult::error: return "ERROR";
  }
  return "ERROR";
}

Result<NciisAnswer> parse_nciis_reply(std::string_view body) {
  if (!json_nesting_within(body, kMaxJsonDepth)) return invalid("the JSON is nested too deeply");
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return invalid("the body is not a JSON object");
  auto text_field = [&](const char* name) -> Result<std::string> {
    const auto found = parsed.find(name);
    if (found == parsed.end()) return invalid(std::string("the field \"") + name + "\" is missing");
    if (!found->is_string()) return invalid(std::string("the field \"") + name + "\" is not a string");
    return found->get<std::string>();
  };

  NciisAnswer answer;
  auto request_id = text_field("request_id");
  if (!request_id) return std::unexpected(request_id.error());
  if (!is_lower_hex(*request_id, 32)) return invalid("\"request_id\" is not 32 lowercase hex digits");
  answer.request_id = std::move(*request_id);

  auto result_text = text_field("result");
  if (!result_text) return std::unexpected(result_text.error());
  const auto result = result_from(*result_text);
  if (!result) return invalid("\"result\" is not MATCH, MISMATCH, NOT_FOUND or ERROR");
  answer.result = *result;

  auto checked_at = text_field("checked_at");
  if (!checked_at) return std::unexpected(checked_at.error());
  if (!is_utc_timestamp(*checked_at)) return invalid("\"checked_at\" is not a UTC time YYYY-MM-DDTHH:MM:SSZ");
  answer.checked_at = std::move(*checked_at);

  auto photo_sha256 = text_field("photo_sha256");
  if (!photo_sha256) return std::unexpected(photo_sha256.error());
  auto photo_base64 = text_field("photo_base64");
  if (!photo_base64) return std::unexpected(photo_base64.error());
  if (photo_base64->size() > (kMaxNciisPhotoBytes + 2) / 3 * 4) {
    return invalid("the photo is larger than " + std::to_string(kMaxNciisPhotoBytes) + " bytes");
  }
  auto photo = base64_decode(*photo_base64);
  if (!photo) return invalid("\"photo_base64\" is not valid base64");
  if (photo->empty() != photo_sha256->empty()) {
    return invalid("\"photo_sha256\" and \"photo_base64\" must both be empty or both be set");
  }
  if (!photo->empty()) {
    if (!is_lower_hex(*photo_sha256, 64)) return invalid("\"photo_sha256\" is not 64 lowercase hex digits");
    answer.photo_sha256 = sha256_of(*photo);
    if (answer.photo_sha256 != *photo_sha256) {
      return invalid("the photo's SHA-256 does not match \"photo_sha256\" (damaged in transit?)");
    }
    if (answer.result != NciisResult::match) return invalid("a photo came back with a result other than MATCH");
    answer.photo = std::move(*photo);
  }

  const auto error_code = parsed.find("error_code");
  if (answer.result == NciisResult::error) {
    if (error_code == parsed.end() || !error_code->is_string() || error_code->get<std::string>().empty()) {
      return invalid("an ERROR result has no \"error_code\"");
    }
    answer.error_code = error_code->get<std::string>();
    if (answer.error_code.size() > 64) return invalid("\"error_code\" is longer than 64 bytes");
    const auto message = parsed.find("error_message");
    if (message != parsed.end()) {
      if (!message->is_string()) return invalid("\"error_message\" is not a string");
      answer.error_message = message->get<std::string>();
    }
  } else if (error_code != parsed.end()) {
    return invalid("\"error_code\" came with a result other than ERROR");
  }
  return answer;
}

Result<NciisAnswer> check_identity(HttpsClient& client, const NciisQuery& query) {
  const json request{{"transaction_id", query.transaction_id}, {"name", query.name}, {"id_number", query.id_number}};
  // Invalid UTF-8 becomes U+FFFD instead of throwing; the gateway then refuses the name itself.
  auto response = client.post_json(kNciisPath, request.dump(-1, ' ', false, json::error_handler_t::replace));
  if (!response) return std::unexpected(response.error());
  if (response->status != 200) {
    std::string code = "unknown";
    std::string message;
    const json parsed = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) {
      if (const auto found = parsed.find("code"); found != parsed.end() && found->is_string()) code = *found;
      if (const auto found = parsed.find("message"); found != parsed.end() && found->is_string()) message = *found;
    }
    return fail("NCIIS_REFUSED", "the gateway refused the NCIIS check: HTTP " + std::to_string(response->status) + " " +
                                     code + (message.empty() ? "" : ": " + message));
  }
  return parse_nciis_reply(response->body);
}

}  // namespace kiosk::sync
