#include "kiosk/app/kiosk_args.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace kiosk::app {
namespace {

Result<KioskArgs> parse(std::vector<std::string_view> args) { return parse_kiosk_args(args); }

TEST(KioskArgs, DefaultsWithoutArguments) {
  const auto args = parse({});
  ASSERT_TRUE(args);
  EXPECT_FALSE(args->config);
  EXPECT_FALSE(args->windowed);
  EXPECT_FALSE(args->help);
}

TEST(KioskArgs, ReadsEveryOption) {
  const auto args = parse({"--config", "k.toml", "--windowed", "--size", "1280x720", "--script", "s.script",
                           "--screenshot-dir", "shots", "--catalog-dir", "i18n"});
  ASSERT_TRUE(args) << args.error().to_string();
  EXPECT_EQ(*args->config, "k.toml");
  EXPECT_TRUE(args->windowed);
  EXPECT_EQ(args->size->width, 1280);
  EXPECT_EQ(args->size->height, 720);
  EXPECT_EQ(*args->script, "s.script");
  EXPECT_EQ(*args->screenshot_dir, "shots");
  EXPECT_EQ(*args->catalog_dir, "i18n");
}

TEST(KioskArgs, RejectsBadInput) {
  EXPECT_FALSE(parse({"--config"}));
  EXPECT_FALSE(parse({"--size", "big"}));
  EXPECT_FALSE(parse({"--size", "10x10"}));
  EXPECT_FALSE(parse({"--fullscreen"}));
  const auto unknown = parse({"--frobnicate"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "ARGS_INVALID");
  EXPECT_NE(unknown.error().message.find("--frobnicate"), std::string::npos);
}

TEST(KioskArgs, HelpExplainsOptionsAndKeyboardPolicy) {
  const std::string help = kiosk_help_text();
  for (const char* needle : {"--config", "--windowed", "--size", "--script", "--screenshot-dir", "--catalog-dir",
                             "Alt+F4", "Ctrl+Alt+Shift+Q", "maintenance_exit", "Example"}) {
    EXPECT_NE(help.find(needle), std::string::npos) << needle;
  }
}

}  // namespace
}  // namespace kiosk::app
