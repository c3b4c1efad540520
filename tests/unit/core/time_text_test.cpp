#include "kiosk/core/time_text.hpp"

#include <gtest/gtest.h>

namespace kiosk {
namespace {

TEST(TimeText, Iso8601InUtc) {
  const TimePoint time{std::chrono::seconds{1'700'000'000} + std::chrono::milliseconds{7}};
  EXPECT_EQ(utc_iso8601(time), "2023-11-14T22:13:20Z");
  EXPECT_EQ(utc_iso8601(time, TimePrecision::milliseconds), "2023-11-14T22:13:20.007Z");
}

TEST(TimeText, BeforeTheEpochRoundsDown) {
  const TimePoint time{std::chrono::milliseconds{-1}};
  EXPECT_EQ(utc_iso8601(time, TimePrecision::milliseconds), "1969-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace kiosk
