// The kiosk's top-level session: which screen the investor sees, the language, the idle timer
// and what the kiosk knows of head office. Single-threaded and deterministic: events go in,
// a new KioskState comes out. Device and network threads never call this directly; they post
// events to the app's queue, which the UI thread drains into handle().
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

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
  place_card,             // identity (REQ-05): "place your ID card on the reader"
  reading_card,           // a card is on the reader and being read (and checked online)
  identity_result,        // the card was read and accepted: the masked identity is shown
  identity_failed,        // the read or a check failed: what happened and what to do
};
std::string_view to_string(Screen screen);

enum class GatewayLink { unknown, online, offline };
enum class ReaderLink { unknown, online, offline };

// Why an identity check did not pass, as the investor is told it. Each maps to one message and
// one action in the catalogs (identity.problem.<name>.*).
enum class IdentityProblem {
  card_unreadable,     // another card, or the card lies wrong (upside down, not flat)
  card_removed_early,  // the card left the reader during the read
  reader_fault,        // the reader is absent or broken: call staff
  suspect_card,        // the chip failed an authenticity or consistency check: call staff
  document_expired,    // REQ-07
  document_not_yet_valid,
  document_not_accepted,         // this document type is not accepted in this channel (REQ-08)
  document_imaging_unavailable,  // the procedure needs both sides imaged; no document camera here yet
  nciis_mismatch,                // NCIIS said MISMATCH or NOT_FOUND: the business stops (REQ-06)
  nciis_unavailable,             // NCIIS could not answer: try again, never a bypass (REQ-06)
};
std::string_view to_string(IdentityProblem problem);
// Whether the investor may simply try again (a card placed better, a service back online).
bool identity_retry_allowed(IdentityProblem problem);

// The chip photo as the screen may show it: decoded by the vendor plug-in, or a reason why not.
enum class PhotoStatus { decoder_not_installed, decode_failed, decoded };
struct ChipPhoto {
  PhotoStatus status = PhotoStatus::decoder_not_installed;
  int width = 0;
  int height = 0;
  std::shared_ptr<const std::vector<std::uint8_t>> rgb;  // width*height*3 when decoded
};

// What the identity screens show: masked, never the full name or number (the screen faces a
// branch full of people; the full data stays in the evidence).
struct IdentitySummary {
  std::string document_type;  // "prc-id", "hkmotw-residence", "foreign-pr-2017", "foreign-pr-2023"
  std::string masked_name;
  std::string masked_number;
  std::string valid_until;   // "YYYY-MM-DD" or "long-term"
  std::string nciis_result;  // "MATCH", or empty when no online check was made
  ChipPhoto photo;
};

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
  ReaderLink reader = ReaderLink::unknown;
  std::string reader_problem;  // stable error code while the reader is offline
  // Identity: which attempt is running (results of an older attempt are ignored), and its outcome.
  std::uint64_t identity_attempt = 0;
  std::optional<IdentitySummary> identity;
  std::optional<IdentityProblem> identity_problem;
  std::string identity_problem_code;  // the stable code behind the problem, for staff
  bool exit_requested = false;        // the app leaves its loop at the next frame
  std::uint64_t revision = 0;         // increases with every change, so the UI can tell a new state
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
// The ID-card reader's state changed (from the device thread).
struct CardReaderStatus {
  bool online;
  std::string problem_code;
};
// From the identity worker, tagged with the attempt they belong to.
struct CardDetected {
  std::uint64_t attempt;
};
struct IdentityVerified {
  std::uint64_t attempt;
  IdentitySummary summary;
};
struct IdentityFailed {
  std::uint64_t attempt;
  IdentityProblem problem;
  std::string code;
};
struct RetryIdentity {};          // "try again" on the failure screen
struct ContinueAfterIdentity {};  // "continue" on the result screen
struct MaintenanceExit {};        // refused unless settings allow it
struct Shutdown {};               // SIGTERM/SIGINT from the service manager
}  // namespace event

using Event = std::variant<event::Start, event::ChooseOperation, event::Back, event::SetLanguage, event::StillHere,
                           event::EndSession, event::UserActivity, event::Tick, event::GatewayChecked,
                           event::CardReaderStatus, event::CardDetected, event::IdentityVerified, event::IdentityFailed,
                           event::RetryIdentity, event::ContinueAfterIdentity, event::MaintenanceExit, event::Shutdown>;

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
  void on(const event::CardReaderStatus&);
  void on(const event::CardDetected&);
  void on(const event::IdentityVerified&);
  void on(const event::IdentityFailed&);
  void on(const event::RetryIdentity&);
  void on(const event::ContinueAfterIdentity&);
  void on(const event::MaintenanceExit&);
  void on(const event::Shutdown&);

  void touch();           // records investor activity
  void clear_session();   // forgets everything about the investor and returns to the attract screen
  void begin_identity();  // a new identity attempt: the "place your card" screen
  void forget_identity();

  KioskSettings settings_;
  const Clock& clock_;
  KioskState state_;
  TimePoint last_activity_;
};

}  // namespace kiosk
