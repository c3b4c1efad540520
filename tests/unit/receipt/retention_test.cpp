#include "sync/gateway/evidence/retention.hpp"

#include <gtest/gtest.h>

namespace {

using namespace kiosk::gateway::evidence;

TEST(Retention, AddsCalendarYearsKeepingTheTimeOfDay) {
  EXPECT_EQ(add_calendar_years("2026-11-24T10:07:30.250Z", 20).value(), "2046-11-24T10:07:30.250Z");
  EXPECT_EQ(add_calendar_years("2026-01-01T00:00:00.000Z", 0).value(), "2026-01-01T00:00:00.000Z");
  EXPECT_EQ(add_calendar_years("2026-12-31T23:59:59.999Z", 1).value(), "2027-12-31T23:59:59.999Z");
}

TEST(Retention, FebruaryTwentyNinthBecomesTheTwentyEighth) {
  EXPECT_EQ(add_calendar_years("2028-02-29T12:00:00.000Z", 20).value(), "2048-02-29T12:00:00.000Z");  // leap
  EXPECT_EQ(add_calendar_years("2028-02-29T12:00:00.000Z", 1).value(), "2029-02-28T12:00:00.000Z");
  EXPECT_EQ(add_calendar_years("2096-02-29T00:00:00.000Z", 4).value(), "2100-02-28T00:00:00.000Z");  // 2100: no
  EXPECT_EQ(add_calendar_years("2096-02-29T00:00:00.000Z", 104).value(), "2200-02-28T00:00:00.000Z");
  EXPECT_EQ(add_calendar_years("1996-02-29T00:00:00.000Z", 4).value(), "2000-02-29T00:00:00.000Z");  // 2000: yes
}

TEST(Retention, RetainUntilCountsFromTheLaterOfCloseAndReceipt) {
  // Received after the close (the usual case): from receipt.
  EXPECT_EQ(compute_retain_until("2026-11-24T10:07:30.250Z", "2026-11-25T08:00:00.000Z", 20).value(),
            "2046-11-25T08:00:00.000Z");
  // A kiosk clock ahead of head office: from the (later) close time.
  EXPECT_EQ(compute_retain_until("2026-11-26T00:00:00.000Z", "2026-11-25T08:00:00.000Z", 20).value(),
            "2046-11-26T00:00:00.000Z");
  EXPECT_EQ(compute_retain_until("2028-02-29T23:00:00.000Z", "2028-02-29T22:00:00.000Z", 3).value(),
            "2031-02-28T23:00:00.000Z");
}

TEST(Retention, MalformedInputIsRefused) {
  for (const char* bad : {"2026-11-24T10:07:30Z", "2026-02-30T00:00:00.000Z", "2027-02-29T00:00:00.000Z",
                          "2026-13-01T00:00:00.000Z", "2026-11-24 10:07:30.250Z", "2026-11-24T24:00:00.000Z", ""}) {
    auto result = compute_retain_until(bad, "2026-11-25T08:00:00.000Z", 20);
    ASSERT_FALSE(result.has_value()) << bad;
    EXPECT_EQ(result.error().code, "RETENTION_INVALID");
    EXPECT_FALSE(compute_retain_until("2026-11-25T08:00:00.000Z", bad, 20).has_value()) << bad;
  }
  EXPECT_FALSE(add_calendar_years("9990-01-01T00:00:00.000Z", 20).has_value());
  EXPECT_FALSE(add_calendar_years("2026-01-01T00:00:00.000Z", -1).has_value());
}

}  // namespace
