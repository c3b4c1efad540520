// The real kiosk loop, headless (SDL dummy driver, software renderer), driven by a script.
#include "kiosk/app/kiosk_runtime.hpp"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

namespace kiosk::app {
namespace {

KioskRunOptions headless(std::string_view script_text) {
  setenv("SDL_VIDEODRIVER", "dummy", 1);
  KioskRunOptions options;
  options.config.fullscreen = false;
  options.config.renderer = "software";
  options.catalog_dir = KIOSK_I18N_DIR;
  options.gateway_monitor = false;
  auto script = ui::parse_script(script_text, "test.script");
  EXPECT_TRUE(script) << script.error().to_string();
  options.script = std::move(*script);
  options.screenshot_dir = std::filesystem::temp_directory_path() / "kiosk_runtime_test";
  std::filesystem::create_directories(options.screenshot_dir);
  return options;
}

TEST(KioskRuntime, ScriptTapsThroughToOperationUnavailable) {
  const auto result = run_kiosk(headless(R"(wait_frames 2
expect_screen attract
screenshot attract
tap start
wait_frames 3
expect_screen choose_operation
tap op.freeze
wait_frames 3
expect_screen operation_unavailable
quit
)"));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.final_state.screen, Screen::operation_unavailable);
  EXPECT_TRUE(std::filesystem::exists(std::filesystem::temp_directory_path() / "kiosk_runtime_test" / "attract.png"));
}

TEST(KioskRuntime, FailedExpectationExitsWith3) {
  const auto result = run_kiosk(headless("wait_frames 1\nexpect_screen operation_unavailable\nquit\n"));
  EXPECT_EQ(result.exit_code, 3);
}

TEST(KioskRuntime, UnknownTargetExitsWith4) {
  const auto result = run_kiosk(headless("wait_frames 1\ntap op.freeze\nquit\n"));  // not on the attract screen
  EXPECT_EQ(result.exit_code, 4);
}

TEST(KioskRuntime, ShutdownSignalEndsTheLoop) {
  auto options = headless("wait_ms 60000\n");
  std::thread signaller([] {
    std::this_thread::sleep_for(std::chrono::milliseconds{300});
    shutdown_signalled().store(true);
  });
  const auto result = run_kiosk(options);
  signaller.join();
  shutdown_signalled().store(false);
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_TRUE(result.final_state.exit_requested);
}

TEST(KioskRuntime, MissingCatalogsFailStartUp) {
  auto options = headless("quit\n");
  options.catalog_dir = "/nonexistent";
  EXPECT_EQ(run_kiosk(options).exit_code, 2);
}

}  // namespace
}  // namespace kiosk::app
