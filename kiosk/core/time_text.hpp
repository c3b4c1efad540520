// UTC timestamps as text (ISO 8601, "2026-11-24T10:00:00Z"), the one form used in logs, records and
// API answers. GCC 12 has no <format>, so this is written once here with strftime.
#pragma once

#include <string>
#include <string_view>

#include "kiosk/core/clock.hpp"

namespace kiosk {

enum class TimePrecision { seconds, milliseconds };

std::string utc_iso8601(TimePoint time, TimePrecision precision = TimePrecision::seconds);

// True for exactly the text utc_iso8601(..., milliseconds) writes, "YYYY-MM-DDTHH:MM:SS.mmmZ",
// naming a real calendar time: how every signed document (manifest, receipt) spells a time.
bool is_utc_millis_text(std::string_view text);

// The calendar date at `time` in the machine's local time zone: a document's validity (REQ-07) is
// judged by the date at the branch, not in UTC.
std::chrono::year_month_day local_date(TimePoint time);

}  // namespace kiosk
