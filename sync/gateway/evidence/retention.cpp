#include "sync/gateway/evidence/retention.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>

namespace kiosk::gateway::evidence {
namespace {

struct Parts {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  std::string_view time_of_day;  // "THH:MM:SS.mmmZ"
};

std::optional<Parts> split(std::string_view text) {
  if (!is_utc_millis_text(text)) return std::nullopt;
  const auto number = [&](std::size_t at, std::size_t digits) {
    int value = 0;
    for (std::size_t i = 0; i < digits; ++i) value = value * 10 + (text[at + i] - '0');
    return value;
  };
  return Parts{number(0, 4), static_cast<unsigned>(number(5, 2)), static_cast<unsigned>(number(8, 2)), text.substr(10)};
}

}  // namespace

Result<std::string> add_calendar_years(std::string_view text, int years) {
  const auto parts = split(text);
  if (!parts) return fail("RETENTION_INVALID", "a time must be UTC text YYYY-MM-DDTHH:MM:SS.mmmZ");
  if (years < 0 || years > 200) return fail("RETENTION_INVALID", "retention years must be 0 to 200");
  const int year = parts->year + years;
  if (year > 9999) return fail("RETENTION_INVALID", "the retention date would be beyond year 9999");
  unsigned day = parts->day;
  if (parts->month == 2 && day == 29 && !std::chrono::year{year}.is_leap()) day = 28;
  char date[48];
  std::snprintf(date, sizeof date, "%04d-%02u-%02u", year, parts->month, day);
  return std::string(date) + std::string(parts->time_of_day);
}

Result<std::string> compute_retain_until(std::string_view closed_at, std::string_view received_at,
                                         int retention_years) {
  if (!is_utc_millis_text(closed_at)) return fail("RETENTION_INVALID", "closed_at is not UTC text with milliseconds");
  if (!is_utc_millis_text(received_at)) {
    return fail("RETENTION_INVALID", "received_at is not UTC text with milliseconds");
  }
  // The fixed-width form sorts as time does.
  return add_calendar_years(std::max(closed_at, received_at), retention_years);
}

}  // namespace kiosk::gateway::evidence
