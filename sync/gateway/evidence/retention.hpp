// Retention of stored evidence (REQ-42): how long head office must keep a package. A pure function
// of the package's close time, the time head office received it and the configured number of years.
#pragma once

#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"
#include "kiosk/core/time_text.hpp"

namespace kiosk::gateway::evidence {

inline constexpr int kDefaultRetentionYears = 20;

// Times are UTC text "YYYY-MM-DDTHH:MM:SS.mmmZ" (kiosk::is_utc_millis_text).
// `text` (the form above) moved by `years` calendar years, same month, day and time of day; a
// February 29 lands on February 28 when the target year has none. RETENTION_INVALID for a malformed
// time, years outside 0..200, or a result beyond year 9999.
Result<std::string> add_calendar_years(std::string_view text, int years);

// retain_until = max(closed_at, received_at) + retention_years (REQ-42): the later of the two, so
// a package whose kiosk clock ran ahead is still kept its full term, and one received years late
// is kept from when head office had it. RETENTION_INVALID as add_calendar_years, or for a malformed
// closed_at / received_at.
Result<std::string> compute_retain_until(std::string_view closed_at, std::string_view received_at, int retention_years);

}  // namespace kiosk::gateway::evidence
