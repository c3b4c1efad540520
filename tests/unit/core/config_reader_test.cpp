#include "kiosk/core/config_reader.hpp"

#include <gtest/gtest.h>
#include <array>

namespace kiosk {
namespace {

ConfigReader parse(std::string_view text) {
  auto reader = ConfigReader::from_string(text, "kiosk.toml", "/etc/kiosk");
  EXPECT_TRUE(reader.has_value()) << reader.error().to_string();
  return std::move(*reader);
}

TEST(ConfigReader, MissingKeysTakeTheirDefaults) {
  auto reader = parse("");
  EXPECT_EQ(reader.get_string("gateway.url", "https://localhost:8443").value(), "https://localhost:8443");
  EXPECT_EQ(reader.get_int("ui.idle_timeout_seconds", 90, 10, 3600).value(), 90);
  EXPECT_FALSE(reader.get_bool("ui.maintenance_exit", false).value());
  EXPECT_TRUE(reader.check_no_unknown_keys().has_value());
}

TEST(ConfigReader, ReadsPresentValues) {
  auto reader = parse("[ui]\nidle_timeout_seconds = 120\nmaintenance_exit = true\nlanguage = \"en\"\n");
  EXPECT_EQ(reader.get_int("ui.idle_timeout_seconds", 90, 10, 3600).value(), 120);
  EXPECT_TRUE(reader.get_bool("ui.maintenance_exit", false).value());
  constexpr std::array<std::string_view, 2> languages{"zh_CN", "en"};
  EXPECT_EQ(reader.get_choice("ui.language", "zh_CN", languages).value(), "en");
  EXPECT_TRUE(reader.check_no_unknown_keys().has_value());
}

TEST(ConfigReader, WrongTypeNamesFileLineAndKey) {
  auto reader = parse("[ui]\n\nidle_timeout_seconds = \"ninety\"\n");
  const auto value = reader.get_int("ui.idle_timeout_seconds", 90, 10, 3600);
  ASSERT_FALSE(value.has_value());
  EXPECT_EQ(value.error().code, "CONFIG_BAD_VALUE");
  EXPECT_EQ(value.error().message,
            "kiosk.toml:3: key 'ui.idle_timeout_seconds' must be a whole number from 10 to 3600, got \"ninety\"");
}

TEST(ConfigReader, OutOfRangeIsRefused) {
  auto reader = parse("[ui]\nidle_timeout_seconds = 5\n");
  const auto value = reader.get_int("ui.idle_timeout_seconds", 90, 10, 3600);
  ASSERT_FALSE(value.has_value());
  EXPECT_NE(value.error().message.find("kiosk.toml:2:"), std::string::npos);
  EXPECT_NE(value.error().message.find("got 5"), std::string::npos);
}

TEST(ConfigReader, ChoiceOutsideTheListIsRefused) {
  auto reader = parse("[ui]\nlanguage = \"fr\"\n");
  constexpr std::array<std::string_view, 2> languages{"zh_CN", "en"};
  const auto value = reader.get_choice("ui.language", "zh_CN", languages);
  ASSERT_FALSE(value.has_value());
  EXPECT_EQ(value.error().message, "kiosk.toml:2: key 'ui.language' must be one of zh_CN, en, got \"fr\"");
}

TEST(ConfigReader, UnknownKeyIsReportedWithItsLine) {
  auto reader = parse("[ui]\nidle_timeout_seconds = 60\nidle_timout = 3\n");
  ASSERT_TRUE(reader.get_int("ui.idle_timeout_seconds", 90, 10, 3600).has_value());
  const auto check = reader.check_no_unknown_keys();
  ASSERT_FALSE(check.has_value());
  EXPECT_EQ(check.error().code, "CONFIG_UNKNOWN_KEY");
  EXPECT_NE(check.error().message.find("kiosk.toml:3: key 'ui.idle_timout'"), std::string::npos);
}

TEST(ConfigReader, UnknownTableIsReported) {
  auto reader = parse("[gatway]\nurl = \"x\"\n");
  ASSERT_TRUE(reader.get_string("gateway.url", "").has_value());
  const auto check = reader.check_no_unknown_keys();
  ASSERT_FALSE(check.has_value());
  EXPECT_NE(check.error().message.find("key 'gatway'"), std::string::npos);
}

TEST(ConfigReader, SyntaxErrorNamesLineAndColumn) {
  const auto reader = ConfigReader::from_string("[ui]\nidle = = 3\n", "kiosk.toml");
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().code, "CONFIG_SYNTAX");
  EXPECT_TRUE(reader.error().message.starts_with("kiosk.toml:2:")) << reader.error().message;
}

TEST(ConfigReader, RelativePathsResolveAgainstTheConfigDirectory) {
  auto reader = parse("[paths]\nstate = \"state\"\nabsolute = \"/var/lib/kiosk\"\n");
  EXPECT_EQ(reader.get_path("paths.state", "").value(), "/etc/kiosk/state");
  EXPECT_EQ(reader.get_path("paths.absolute", "").value(), "/var/lib/kiosk");
}

TEST(ConfigReader, MissingFileIsAClearError) {
  const auto reader = ConfigReader::from_file("/nonexistent/kiosk.toml");
  ASSERT_FALSE(reader.has_value());
  EXPECT_EQ(reader.error().code, "CONFIG_UNREADABLE");
  EXPECT_NE(reader.error().message.find("/nonexistent/kiosk.toml"), std::string::npos);
}

}  // namespace
}  // namespace kiosk
