#include "kiosk/core/text_lines.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace kiosk {
namespace {

std::vector<std::string> all_lines(std::string_view text) {
  TextLines lines(text);
  std::vector<std::string> out;
  std::string_view line;
  while (lines.next(line)) {
    out.emplace_back(line);
    EXPECT_EQ(lines.number(), static_cast<int>(out.size()));
  }
  return out;
}

TEST(TextLines, SplitsOnLfAndCrLfAndKeepsALastLineWithoutEnding) {
  EXPECT_EQ(all_lines("a\r\nb\n\nc"), (std::vector<std::string>{"a", "b", "", "c"}));
  EXPECT_EQ(all_lines("a\n"), (std::vector<std::string>{"a"}));
  EXPECT_TRUE(all_lines("").empty());
}

}  // namespace
}  // namespace kiosk
