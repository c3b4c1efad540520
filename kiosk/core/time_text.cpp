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

bool is_utc_millis_text(std::string_view text) {
  constexpr std::string_view shape = "dddd-dd-ddTdd:dd:dd.dddZ";
  if (text.size() != shape.size()) return false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const bool digit = text[i] >= '0' && text[i] <= '9';
    if (shape[i] == 'd' ? !digit : text[i] != shape[i]) return false;
  }
  const auto number = [&](std::size_t at) { return (text[at] - '0') * 10 + (text[at + 1] - '0'); };
  const int year = number(0) * 100 + number(2);
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(number(5))},
                                         std::chrono::day{static_cast<unsigned>(number(8))}};
  return date.ok() && number(11) < 24 && number(14) < 60 && number(17) < 60;
}

}  // namespace kiosk
