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

TEST(KioskRuntime, ScriptTapsThroughToTheIdentityCheck) {
  const auto result = run_kiosk(headless(R"(wait_frames 2
expect_screen attract
screenshot attract
tap start
wait_frames 3
expect_screen choose_operation
tap op.freeze
wait_frames 3
expect_screen place_card
quit
)"));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_EQ(result.final_state.screen, Screen::place_card);
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

// Escape, Alt+F4, the window manager's close and even the maintenance chord must not end a kiosk
// whose configuration does not allow the maintenance exit: the script runs on to its last step.
TEST(KioskRuntime, KeyboardAndCloseRequestsCannotLeaveTheKiosk) {
  const auto shot = std::filesystem::temp_directory_path() / "kiosk_runtime_test" / "after_keys.png";
  std::filesystem::remove(shot);
  const auto result = run_kiosk(headless(R"(wait_frames 1
tap start
wait_frames 3
key escape
wait_frames 3
key alt+f4
wait_frames 3
key close
wait_frames 3
key ctrl+alt+shift+q
wait_frames 3
expect_screen choose_operation
screenshot after_keys
quit
)"));
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_FALSE(result.final_state.exit_requested);
  EXPECT_TRUE(std::filesystem::exists(shot));
}

TEST(KioskRuntime, MaintenanceChordExitsWhereConfigAllowsIt) {
  for (const char* chord : {"ctrl+alt+shift+q", "close"}) {
    const auto shot = std::filesystem::temp_directory_path() / "kiosk_runtime_test" / "not_reached.png";
    std::filesystem::remove(shot);
    auto options =
        headless(std::string("wait_frames 1\nkey ") + chord + "\nwait_frames 5\nscreenshot not_reached\nquit\n");
    options.config.maintenance_exit = true;
    const auto result = run_kiosk(options);
    EXPECT_EQ(result.exit_code, 0) << chord;
    EXPECT_TRUE(result.final_state.exit_requested) << chord;
    EXPECT_FALSE(std::filesystem::exists(shot)) << chord;
  }
}

TEST(KioskRuntime, MissingCatalogsFailStartUp) {
  auto options = headless("quit\n");
  options.catalog_dir = "/nonexistent";
  EXPECT_EQ(run_kiosk(options).exit_code, 2);
}

}  // namespace
}  // namespace kiosk::app
