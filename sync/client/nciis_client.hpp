// The kiosk's side of the NCIIS identity check (REQ-05, REQ-06): POST /v1/device/nciis-check on the
// gateway's device listener, and strict validation of the answer before the workflow sees it.
// Nothing here logs or puts the name or ID number in an error message.
#pragma once

#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"
#include "sync/client/https_client.hpp"

namespace kiosk::sync {

enum class NciisResult { match, mismatch, not_found, error };
std::string_view to_string(NciisResult result);  // "MATCH", "MISMATCH", "NOT_FOUND", "ERROR"

struct NciisQuery {
  std::string transaction_id;  // the kiosk's transaction this check belongs to
  std::string name;            // as read from the chip
  std::string id_number;       // 18 characters
};

struct NciisAnswer {
  std::string request_id;  // the gateway's id of the query (32 lowercase hex digits)
  NciisResult result = NciisResult::error;
  std::string checked_at;    // UTC ISO 8601, "2026-11-24T10:00:00Z"
  std::string photo;         // the registered photo's bytes; empty when none came back
  std::string photo_sha256;  // recomputed here and checked against the gateway's; empty with no photo
  std::string error_code;    // ERROR only: why NCIIS could not answer (retry or use the card reader)
  std::string error_message;
};

inline constexpr std::size_t kMaxNciisPhotoBytes = 512 * 1024;

// Validates a 200 answer's body. NCIIS_REPLY_INVALID says what is wrong: not a JSON object; a
// required field missing or not a string (request_id, result, checked_at, photo_sha256,
// photo_base64); request_id not 32 lowercase hex digits; an unknown result; checked_at not
// "YYYY-MM-DDTHH:MM:SSZ"; photo_base64 not strict base64 or larger than kMaxNciisPhotoBytes;
// photo_sha256 not 64 lowercase hex digits, present without a photo (or the reverse), or not the
// SHA-256 of the photo; a photo with anything but MATCH; ERROR without "error_code", or
// "error_code" with anything but ERROR. Unknown extra fields are ignored (forward compatibility).
Result<NciisAnswer> parse_nciis_reply(std::string_view body);

// Sends the query and validates the answer. Transport failures keep HttpsClient's codes
// (GATEWAY_UNREACHABLE, GATEWAY_TIMEOUT, TLS_HANDSHAKE_FAILED, ...); a non-200 answer is
// NCIIS_REFUSED with the gateway's code in the message; a bad 200 answer is NCIIS_REPLY_INVALID.
// An ERROR answer is a value (answer.result == error), not a failure.
Result<NciisAnswer> check_identity(HttpsClient& client, const NciisQuery& query);

}  // namespace kiosk::sync
