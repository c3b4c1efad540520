// Runs a Script against a live UiWindow, one step at a time between frames. The program calls
// after_frame() once per frame, after render() and before present(), so a screenshot shows
// exactly the frame that was drawn.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>

#include "ui/common/script.hpp"
#include "ui/common/touch_targets.hpp"
#include "ui/common/ui_window.hpp"

namespace kiosk::ui {

// What the script may ask of the program.
struct ScriptHost {
  std::function<std::string()> current_screen;
  // Sets text field `id`; false when there is no such field. Empty: the program has no text fields.
  std::function<bool(std::string_view id, std::string_view text)> set_text;
};

// Exit codes a scripted run ends with.
inline constexpr int kScriptExitQuit = 0;
inline constexpr int kScriptExitExpectationFailed = 3;  // expect_screen saw another screen
inline constexpr int kScriptExitStepFailed = 4;         // unknown target or field, screenshot not written

class ScriptRunner {
 public:
  enum class Status { running, done, quit, failed };

  ScriptRunner(Script script, std::filesystem::path screenshot_dir);

  Status after_frame(UiWindow& window, const TouchTargets& targets, const ScriptHost& host);
  [[nodiscard]] Status status() const { return status_; }
  [[nodiscard]] int exit_code() const { return exit_code_; }
  // True while the script still has steps: the program keeps drawing frames for it.
  [[nodiscard]] bool active() const { return status_ == Status::running; }

 private:
  Status stop(Status status, int code);

  Script script_;
  std::filesystem::path screenshot_dir_;
  std::size_t next_ = 0;
  Status status_ = Status::running;
  int exit_code_ = kScriptExitQuit;
  std::int64_t frames_left_ = -1;  // during wait_frames
  std::chrono::steady_clock::time_point wait_until_{};
  bool waiting_ms_ = false;
  std::pair<float, float> held_at_{0, 0};  // during hold: where the press went down
};

}  // namespace kiosk::ui
