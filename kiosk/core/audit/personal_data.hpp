// Personal data in logs and audit entries (REQ-48, ARCHITECTURE.md rule 4): names are never
// written anywhere but the evidence store, so mask_name() returns a fixed placeholder whatever it is
// given; ID numbers appear only as first 4 + stars + last 4 (log::mask_id_number).
#pragma once

#include <string>
#include <string_view>

namespace kiosk::audit {

inline constexpr std::string_view kMaskedName = "[name withheld]";

// Always kMaskedName: a name is never logged, not even in part.
std::string mask_name(std::string_view name);
// "110101199003071234" -> "1101**********1234"; short values are fully masked.
std::string mask_id(std::string_view id_number);

}  // namespace kiosk::audit
