#include "kiosk/core/time_text.hpp"

#include <cstdio>
#include <ctime>

namespace kiosk {

std::string utc_iso8601(TimePoint time, TimePrecision precision) {
  const auto since_epoch = time.time_since_epoch();
  const auto whole_seconds = std::chrono::floor<std::chrono::seconds>(since_epoch);
  const std::time_t seconds = static_cast<std::time_t>(whole_seconds.count());
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t length = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string result(text, length);
  if (precision == TimePrecision::milliseconds) {
    const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - whole_seconds).count();
    char fraction[8];
    std::snprintf(fraction, sizeof fraction, ".%03d", static_cast<int>(millis));
    result += fraction;
  }
  return result + "Z";
}

std::chrono::year_month_day local_date(TimePoint time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm local{};
  ::localtime_r(&seconds, &local);
  return std::chrono::year_month_day{std::chrono::year{local.tm_year + 1900},
                                     std::chrono::month{static_cast<unsigned>(local.tm_mon + 1)},
                                     std::chrono::day{static_cast<unsigned>(local.tm_mday)}};
}

}  // namespace kiosk
