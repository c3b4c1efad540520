#include "ui/common/script_runner.hpp"

#include "kiosk/core/log.hpp"

namespace kiosk::ui {

ScriptRunner::ScriptRunner(Script script, std::filesystem::path screenshot_dir)
    : script_(std::move(script)), screenshot_dir_(std::move(screenshot_dir)) {}

ScriptRunner::Status ScriptRunner::stop(Status status, int code) {
  status_ = status;
  exit_code_ = code;
  return status_;
}

ScriptRunner::Status ScriptRunner::after_frame(UiWindow& window, const TouchTargets& targets, const ScriptHost& host) {
  if (status_ != Status::running) return status_;
  while (next_ < script_.steps.size()) {
    const ScriptStep& step = script_.steps[next_];
    const std::string line = std::to_string(step.line);
    switch (step.kind) {
      case StepKind::wait_frames:
        if (frames_left_ < 0) frames_left_ = step.number;
        if (frames_left_ > 0) {
          --frames_left_;
          return status_;
        }
        frames_left_ = -1;
        break;
      case StepKind::wait_ms:
        if (!waiting_ms_) {
          waiting_ms_ = true;
          wait_until_ = std::chrono::steady_clock::now() + std::chrono::milliseconds{step.number};
        }
        if (std::chrono::steady_clock::now() < wait_until_) return status_;
        waiting_ms_ = false;
        break;
      case StepKind::tap: {
        const auto rect = targets.find(step.name);
        if (!rect) {
          log::error("script_failed", {{"line", line},
                                       {"step", "tap"},
                                       {"target", step.name},
                                       {"reason", "no touch target with this id on the current frame"}});
          return stop(Status::failed, kScriptExitStepFailed);
        }
        window.push_tap(rect->centre_x(), rect->centre_y());
        log::info("script_tap", {{"line", line}, {"target", step.name}});
        ++next_;
        return status_;  // the pushed events are read before the next frame
      }
      case StepKind::hold: {
        if (!waiting_ms_) {
          const auto rect = targets.find(step.name);
          if (!rect) {
            log::error("script_failed", {{"line", line},
                                         {"step", "hold"},
                                         {"target", step.name},
                                         {"reason", "no touch target with this id on the current frame"}});
            return stop(Status::failed, kScriptExitStepFailed);
          }
          window.push_press(rect->centre_x(), rect->centre_y(), true);
          held_at_ = {rect->centre_x(), rect->centre_y()};
          waiting_ms_ = true;
          wait_until_ = std::chrono::steady_clock::now() + std::chrono::milliseconds{step.number};
          log::info("script_hold", {{"line", line}, {"target", step.name}, {"ms", std::to_string(step.number)}});
          return status_;
        }
        if (std::chrono::steady_clock::now() < wait_until_) return status_;
        waiting_ms_ = false;
        // Released where it was pressed, even when the screen has changed under the finger.
        window.push_press(held_at_.first, held_at_.second, false);
        ++next_;
        return status_;
      }
      case StepKind::key:
        window.push_key(step.chord);
        log::info("script_key", {{"line", line}, {"chord", step.name}});
        ++next_;
        return status_;  // like a tap: the events are read before the next frame
      case StepKind::type:
        if (!host.set_text || !host.set_text(step.name, step.text)) {
          log::error(
              "script_failed",
              {{"line", line}, {"step", "type"}, {"field", step.name}, {"reason", "no text field with this id"}});
          return stop(Status::failed, kScriptExitStepFailed);
        }
        log::info("script_type", {{"line", line}, {"field", step.name}});  // never the text: it may be a password
        break;
      case StepKind::screenshot: {
        const auto file = screenshot_dir_ / (step.name + ".png");
        if (auto written = window.screenshot(file); !written) {
          log::error("script_failed",
                     {{"line", line}, {"step", "screenshot"}, {"reason", written.error().to_string()}});
          return stop(Status::failed, kScriptExitStepFailed);
        }
        log::info("screenshot_written", {{"file", file.string()}});
        break;
      }
      case StepKind::expect_screen: {
        const std::string actual = host.current_screen ? host.current_screen() : std::string();
        if (actual != step.name) {
          log::error("script_expectation_failed",
                     {{"line", line}, {"expected_screen", step.name}, {"actual_screen", actual}});
          return stop(Status::failed, kScriptExitExpectationFailed);
        }
        break;
      }
      case StepKind::wait_screen: {
        const std::string actual = host.current_screen ? host.current_screen() : std::string();
        if (!waiting_ms_) {
          waiting_ms_ = true;
          wait_until_ = std::chrono::steady_clock::now() + std::chrono::milliseconds{step.number};
        }
        if (actual != step.name) {
          if (std::chrono::steady_clock::now() < wait_until_) return status_;
          waiting_ms_ = false;
          log::error("script_expectation_failed", {{"line", line},
                                                   {"expected_screen", step.name},
                                                   {"actual_screen", actual},
                                                   {"waited_ms", std::to_string(step.number)}});
          return stop(Status::failed, kScriptExitExpectationFailed);
        }
        waiting_ms_ = false;
        break;
      }
      case StepKind::quit: log::info("script_quit", {{"line", line}}); return stop(Status::quit, kScriptExitQuit);
    }
    ++next_;
  }
  log::info("script_finished", {{"script", script_.source}});
  return stop(Status::done, kScriptExitQuit);
}

}  // namespace kiosk::ui
