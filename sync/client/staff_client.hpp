// The kiosk's side of on-site staff confirmation (REQ-27, REQ-49): the staff member at the counter
// types their id and password at the kiosk, and head office says who that is. POST
// /v1/device/staff/verify on the gateway's device listener (mutual TLS). The password is wiped from
// memory as soon as it has been sent; nothing here logs, and no error message carries the staff id,
// the display name or the password.
#pragma once

#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"
#include "sync/client/https_client.hpp"

namespace kiosk::sync {

struct VerifiedStaff {
  std::string staff_id;
  std::string display_name;  // for the screen only; never logged
  std::string role;          // "witness", "operator" or "reviewer" (checked)
};

inline constexpr std::size_t kMaxStaffDisplayNameBytes = 128;  // what the gateway's store accepts

// Validates a 200 answer's body. STAFF_REPLY_INVALID says what is wrong: not a JSON object (or
// nested deeper than 8); "staff_id", "display_name" or "role" missing or not a string; "staff_id"
// not the id that was asked about; "display_name" empty, longer than kMaxStaffDisplayNameBytes or
// holding a control character; "role" not witness, operator or reviewer. Unknown extra fields are
// ignored (forward compatibility).
Result<VerifiedStaff> parse_staff_reply(std::string_view body, std::string_view expected_staff_id);

// Asks the gateway who `staff_id` with `password` is. `password` is overwritten and emptied before
// this returns, whatever the outcome. Transport failures keep HttpsClient's codes
// (GATEWAY_UNREACHABLE, TLS_HANDSHAKE_FAILED, ...); a refusal keeps the gateway's code
// (SIGN_IN_REFUSED for a wrong id or password, SIGN_IN_THROTTLED after too many, FIELD_INVALID, ...)
// with the HTTP status in the message; a non-200 answer without a usable code, or a bad 200 answer,
// is STAFF_REPLY_INVALID.
Result<VerifiedStaff> verify_staff(HttpsClient& client, std::string_view staff_id, std::string& password);

// Overwrites every byte the string holds (up to its capacity) in a way the compiler may not drop,
// then empties it.
void wipe_secret(std::string& secret);

}  // namespace kiosk::sync
