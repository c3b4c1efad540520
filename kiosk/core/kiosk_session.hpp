// The kiosk's top-level session: which screen the investor sees, the language, the idle timer
// and what the kiosk knows of head office. Single-threaded and deterministic: events go in,
// a new KioskState comes out. Device and network threads never call this directly; they post
// events to the app's queue, which the UI thread drains into handle().
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/operation.hpp"

namespace kiosk {

enum class Language { zh_CN, en };
constexpr std::string_view to_string(Language language) { return language == Language::zh_CN ? "zh_CN" : "en"; }
std::optional<Language> language_from_string(std::string_view text);

enum class Screen {
  attract,                // waiting for an investor; touching anywhere starts a session
  choose_operation,       // the six operations
  operation_unavailable,  // the chosen operation cannot be done at this kiosk yet (clear refusal)
};
std::string_view to_string(Screen screen);

enum class GatewayLink { unknown, online, offline };

struct KioskSettings {
  std::chrono::seconds idle_timeout{90};  // inactivity before the "are you still there?" warning
  std::chrono::seconds idle_warning{20};  // countdown shown before the session is cleared
  Language default_language = Language::zh_CN;
  bool maintenance_exit_allowed = false;  // only development/maintenance configs set this
};

struct KioskState {
  Screen screen = Screen::attract;
  Language language = Language::zh_CN;
  std::optional<Operation> operation;  // chosen on the operation screen
  bool idle_warning = false;
  std::chrono::seconds idle_seconds_left{0};
  GatewayLink gateway = GatewayLink::unknown;
  std::string gateway_problem;  // stable error code of the last failed check, empty when online
  bool exit_requested = false;  // the app leaves its loop at the next frame
  std::uint64_t revision = 0;   // increases with every change, so the UI can tell a new state
};

// Intents come from the UI; the other events from timers, devices, the network and signals.
namespace event {
struct Start {};  // the investor touched the attract screen
struct ChooseOperation {
  Operation operation;
};
struct Back {};
struct SetLanguage {
  Language language;
};
struct StillHere {};     // dismisses the idle warning
struct EndSession {};    // the investor pressed "finish"
struct UserActivity {};  // any touch, even one that hits no button
struct Tick {};          // periodic; drives the idle timer
struct GatewayChecked {
  bool reachable;
  std::string problem_code;
};
struct MaintenanceExit {};  // refused unless settings allow it
struct Shutdown {};         // SIGTERM/SIGINT from the service manager
}  // namespace event

using Event = std::variant<event::Start, event::ChooseOperation, event::Back, event::SetLanguage, event::StillHere,
                           event::EndSession, event::UserActivity, event::Tick, event::GatewayChecked,
                           event::MaintenanceExit, event::Shutdown>;

class KioskSession {
 public:
  KioskSession(KioskSettings settings, const Clock& clock);

  void handle(const Event& event);
  [[nodiscard]] const KioskState& state() const { return state_; }
  [[nodiscard]] const KioskSettings& settings() const { return settings_; }

 private:
  void on(const event::Start&);
  void on(const event::ChooseOperation&);
  void on(const event::Back&);
  void on(const event::SetLanguage&);
  void on(const event::StillHere&);
  void on(const event::EndSession&);
  void on(const event::UserActivity&);
  void on(const event::Tick&);
  void on(const event::GatewayChecked&);
  void on(const event::MaintenanceExit&);
  void on(const event::Shutdown&);

  void touch();          // records investor activity
  void clear_session();  // forgets everything about the investor and returns to the attract screen

  KioskSettings settings_;
  const Clock& clock_;
  KioskState state_;
  TimePoint last_activity_;
};

}  // namespace kiosk
