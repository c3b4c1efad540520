#include "kiosk/core/log.hpp"

#include <gtest/gtest.h>

namespace kiosk::log {
namespace {

TEST(Log, LineIsOneJsonObjectWithEscapedFields) {
  const std::string line =
      format_line("2026-11-24T10:00:00.000Z", Level::warn, "gateway", "tls_refused", {{"peer", "a\"b\\c\nd"}});
  EXPECT_EQ(
      line,
      R"({"ts":"2026-11-24T10:00:00.000Z","level":"warn","program":"gateway","event":"tls_refused","peer":"a\"b\\c\nd"})"
      "\n");
}

TEST(Log, ControlCharactersAreEscaped) { EXPECT_EQ(json_escape(std::string("a\x01z", 3)), "a\\u0001z"); }

TEST(Log, IdNumbersKeepOnlyFirstAndLastFour) {
  EXPECT_EQ(mask_id_number("11010119900307123X"), "1101**********123X");
  EXPECT_EQ(mask_id_number("12345678"), "********");
  EXPECT_EQ(mask_id_number(""), "");
}

}  // namespace
}  // namespace kiosk::log
