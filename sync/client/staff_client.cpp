#include "sync/client/staff_client.hpp"

#include <nlohmann/json.hpp>

#include "kiosk/core/json_nesting.hpp"

namespace kiosk::sync {
namespace {

using nlohmann::json;

constexpr std::string_view kStaffVerifyPath = "/v1/device/staff/verify";
constexpr std::size_t kMaxJsonDepth = 8;  // a valid answer does not nest at all
constexpr std::size_t kMaxErrorCodeBytes = 64;
constexpr std::size_t kMaxErrorMessageBytes = 256;

std::unexpected<Error> invalid(std::string message) {
  return fail("STAFF_REPLY_INVALID", "the gateway's staff answer is invalid: " + std::move(message));
}

// Appends `text` as the inside of a JSON string. Done by hand into a buffer reserved up front, so
// the password never lands in a temporary or a reallocated-and-freed block that could not be wiped.
void append_json_string_content(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20) {
      out.append("\\u00");
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 0x0f]);
    } else {
      out.push_back(c);  // other bytes as they are: the gateway refuses invalid UTF-8 itself (BAD_JSON)
    }
  }
}

// Stable codes look like SIGN_IN_REFUSED; anything else from the wire is not passed on as a code.
bool is_error_code(std::string_view code) {
  if (code.empty() || code.size() > kMaxErrorCodeBytes) return false;
  for (const char c : code) {
    if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

void wipe_secret(std::string& secret) {
  // Grow to the capacity first (no reallocation) so bytes left past the end by earlier edits go too.
  secret.resize(secret.capacity());
  volatile char* bytes = secret.data();
  for (std::size_t i = 0; i < secret.size(); ++i) bytes[i] = 0;
  secret.clear();
}

Result<VerifiedStaff> parse_staff_reply(std::string_view body, std::string_view expected_staff_id) {
  if (!json_nesting_within(body, kMaxJsonDepth)) return invalid("the JSON is nested too deeply");
  const json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) return invalid("the body is not a JSON object");
  auto text_field = [&](const char* name) -> Result<std::string> {
    const auto found = parsed.find(name);
    if (found == parsed.end()) return invalid(std::string("the field \"") + name + "\" is missing");
    if (!found->is_string()) return invalid(std::string("the field \"") + name + "\" is not a string");
    return found->get<std::string>();
  };

  VerifiedStaff staff;
  auto staff_id = text_field("staff_id");
  if (!staff_id) return std::unexpected(staff_id.error());
  // The kiosk records who confirmed the step; an answer about another account must not be taken.
  if (*staff_id != expected_staff_id) return invalid("\"staff_id\" is not the staff id that was asked about");
  staff.staff_id = std::move(*staff_id);

  auto display_name = text_field("display_name");
  if (!display_name) return std::unexpected(display_name.error());
  if (display_name->empty() || display_name->size() > kMaxStaffDisplayNameBytes) {
    return invalid("\"display_name\" must be 1-" + std::to_string(kMaxStaffDisplayNameBytes) + " bytes");
  }
  for (const char c : *display_name) {
    // The parser already insists on well-formed UTF-8; control characters could still come as \u escapes.
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return invalid("\"display_name\" has a control character");
  }
  staff.display_name = std::move(*display_name);

  auto role = text_field("role");
  if (!role) return std::unexpected(role.error());
  if (*role != "witness" && *role != "operator" && *role != "reviewer") {
    return invalid("\"role\" is not witness, operator or reviewer");
  }
  staff.role = std::move(*role);
  return staff;
}

Result<VerifiedStaff> verify_staff(HttpsClient& client, std::string_view staff_id, std::string& password) {
  std::string body;
  // Wipes on every path out of this function, including an exception from the allocation below.
  struct WipeOnExit {
    std::string& body;
    std::string& password;
    ~WipeOnExit() {
      wipe_secret(body);
      wipe_secret(password);
    }
  } wipe{body, password};
  // Worst case every byte becomes a six-byte \u00XX escape; reserving that means no reallocation.
  body.reserve(40 + 6 * (staff_id.size() + password.size()));
  body.append(R"({"staff_id":")");
  append_json_string_content(body, staff_id);
  body.append(R"(","password":")");
  append_json_string_content(body, password);
  body.append(R"("})");
  auto sent = client.post_json(kStaffVerifyPath, body);
  if (!sent) return std::unexpected(sent.error());
  if (sent->status == 200) return parse_staff_reply(sent->body, staff_id);

  const json parsed = json::parse(sent->body, nullptr, /*allow_exceptions=*/false);
  std::string code;
  std::string message;
  if (parsed.is_object()) {
    if (const auto found = parsed.find("code"); found != parsed.end() && found->is_string()) code = *found;
    if (const auto found = parsed.find("message"); found != parsed.end() && found->is_string()) message = *found;
  }
  const std::string status = "HTTP " + std::to_string(sent->status);
  if (!is_error_code(code)) return invalid(status + " without an error code");
  // The gateway's messages are fixed texts about the request, never its values; a long one is cut.
  if (message.size() > kMaxErrorMessageBytes) message.resize(kMaxErrorMessageBytes);
  return fail(code, "the gateway refused the staff check: " + status + (message.empty() ? "" : ": " + message));
}

}  // namespace kiosk::sync
