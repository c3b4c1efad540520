// The first checks every JSON route of the gateway makes on a request body, in one place so that
// every route answers the same code and message for the same mistake: size, emptiness, nesting
// depth, well-formedness, and "an object at the top".
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <string_view>

#include "kiosk/core/error.hpp"

namespace kiosk::gateway {

// BODY_TOO_LARGE past `max_body_bytes`; BAD_JSON when empty, nested deeper than `max_depth`, not
// JSON, or not an object. The routes then check their own fields.
Result<nlohmann::json> parse_json_object_body(std::string_view body, std::size_t max_body_bytes, std::size_t max_depth);

}  // namespace kiosk::gateway
