#include "sync/gateway/json_body.hpp"

#include <string>

#include "kiosk/core/json_nesting.hpp"

namespace kiosk::gateway {

Result<nlohmann::json> parse_json_object_body(std::string_view body, std::size_t max_body_bytes,
                                              std::size_t max_depth) {
  if (body.size() > max_body_bytes) {
    return fail("BODY_TOO_LARGE", "the request body is larger than " + std::to_string(max_body_bytes) + " bytes");
  }
  if (body.empty()) return fail("BAD_JSON", "the request body is empty; send a JSON object");
  if (!json_nesting_within(body, max_depth)) return fail("BAD_JSON", "the JSON is nested too deeply");
  nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return fail("BAD_JSON", "the request body is not valid JSON");
  if (!parsed.is_object()) return fail("BAD_JSON", "the request body must be a JSON object");
  return parsed;
}

}  // namespace kiosk::gateway
