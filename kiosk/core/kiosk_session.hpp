// The kiosk's top-level session: which screen the investor sees, the language, the idle timer
// and what the kiosk knows of head office. Single-threaded and deterministic: events go in,
// a new KioskState comes out. Device and network threads never call this directly; they post
// events to the app's queue, which the UI thread drains into handle().
#pragma once

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/domain.hpp"
#include "kiosk/core/operation.hpp"
#include "kiosk/core/transaction_port.hpp"

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
  // The certificate transaction, one screen per step kind (the rule pack orders the steps).
  choose_medium,       // apply: a USB token or a soft certificate, when the pack allows both
  consent,             // separate consent to cameras and recording (REQ-46)
  terms,               // the subscriber terms, with their version (REQ-51)
  staff_sign_in,       // a staff member on site signs in at the kiosk to take a step
  staff_verifying,     // head office is checking the staff member's password
  staff_decision,      // the signed-in staff member confirms or rejects the step
  revocation_confirm,  // revoke: the investor confirms that revocation is final (REQ-37)
  choose_reason,       // freeze, reissue, revoke: the reason code (M3)
  insert_token,        // waiting for the USB token
  token_pin,           // the investor's private PIN entry
  token_working,       // key generation, request, CA, import, read-back
  remove_token,        // done: take the token out
  soft_grant,          // soft apply: the reference and authorisation code (and QR code)
  transaction_done,    // the operation is complete
  transaction_failed,  // the transaction ended without the operation: what happened and why
  // The engineer's screens, reached from the attract screen by holding a hidden corner.
  engineer_unavailable,  // no staff verification with head office at this kiosk: nobody gets in
  engineer_sign_in,      // an operator signs in (staff id and password, checked by head office)
  engineer_verifying,    // head office is checking the operator's password
  engineer_status,       // device status for the signed-in operator: the evidence upload
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
  bool operator==(const ChipPhoto&) const = default;
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
  bool operator==(const IdentitySummary&) const = default;
};

// Apply, renew and reissue put a new key and certificate on a token; the others only change the
// certificate's state at head office.
bool operation_writes_token(Operation operation);

// What a staff step asks of the person who signs in.
enum class StaffTask { identity_check, countersign, review };
std::optional<StaffTask> staff_task_of(StepId step);
StaffRole staff_role_for(StaffTask task);

enum class PinEntryKind { current, initial_then_new };
struct PinRequest {
  PinEntryKind kind = PinEntryKind::current;
  unsigned min_length = 4;
  unsigned max_length = 16;
  bool count_low = false;  // an earlier PIN was wrong
  bool final_try = false;  // one more wrong PIN locks the token
  bool operator==(const PinRequest&) const = default;
};

enum class TokenStage { waiting, checking, keygen, request, ca_call, import, verify };
std::string_view to_string(TokenStage stage);

// Why the certificate part failed, as the investor is told it (token.problem.<name>.* in the catalogs).
enum class TokenProblem {
  model_not_allowed,         // REQ-04: this token model is not on the allowlist
  pin_locked,                // the PIN is blocked: the certificate has to be reissued on a new token
  token_removed,             // the token left during the write: rolled back, nothing was issued
  not_subjects_certificate,  // the certificate on the token is not this investor's (REQ-38)
  no_certificate,            // no certificate on the token, and head office knows none to act on
  ca_refused,                // head office refused the operation (the code says why)
  head_office_unreachable,   // try again later
  token_fault,               // the token or its driver failed
};
std::string_view to_string(TokenProblem problem);

// The certificate the operation produced or changed, for the done screen.
struct CertificateOutcome {
  std::string serial;
  std::string state;  // the CA's state name
  std::string not_after;
  std::string retired_serial;
  bool operator==(const CertificateOutcome&) const = default;
};

// Soft apply: what the investor's own software needs. Shown once; the code is never journaled.
struct SoftGrant {
  std::string serial;
  std::string reference;
  std::string code;
  std::string expires_at;
  bool operator==(const SoftGrant&) const = default;
};

struct KioskSettings {
  std::chrono::seconds idle_timeout{90};  // inactivity before the "are you still there?" warning
  std::chrono::seconds idle_warning{20};  // countdown shown before the session is cleared
  Language default_language = Language::zh_CN;
  bool maintenance_exit_allowed = false;  // only development/maintenance configs set this
  // How long the hidden corner of the attract screen must be held to open the engineer sign-in.
  std::chrono::seconds engineer_hold{3};
};

// The only staff role head office may vouch for to open the engineer screen.
inline constexpr std::string_view kEngineerRole = "operator";

// The evidence upload worker's latest report (kiosk/app/evidence_upload_worker), for the engineer
// screen. Package ids only: nothing personal.
struct EvidenceUploadStatus {
  std::uint64_t sealed = 0;  // packages per outbox state
  std::uint64_t uploading = 0;
  std::uint64_t uploaded = 0;  // head office holds the bytes; no verified receipt yet
  std::uint64_t receipted = 0;
  std::uint64_t purgeable = 0;
  std::uint64_t purged = 0;
  std::uint64_t rejected = 0;   // uploaded packages head office refused: kept, call head office
  std::string current_package;  // short id of the package being sent; empty when none
  std::uint64_t current_offset = 0;
  std::uint64_t current_length = 0;
  double bytes_per_second = 0;
  std::string last_error_code;  // of the last failure or rejection; empty when none
  bool operator==(const EvidenceUploadStatus&) const = default;
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
  // The certificate transaction.
  std::uint64_t flow_attempt = 0;  // a new value for every transaction; device reports carry it
  std::string transaction_id;
  std::string evidence_transaction_id;  // "tx-00000042": the name head office knows it by
  Medium medium = Medium::hard;
  std::vector<StepId> steps;        // mandatory, in order
  std::size_t next_step_index = 0;  // the first step not yet done
  std::vector<std::string> reason_codes;
  std::string reason;                   // chosen reason code (freeze, reissue, revoke)
  std::optional<StaffTask> staff_task;  // the staff step waiting on this screen
  std::string staff_display_name;       // who signed in for it (public roster name)
  std::string staff_id;
  std::string staff_problem_code;  // why the last sign-in or assignment was refused
  std::optional<PinRequest> pin_request;
  TokenStage token_stage = TokenStage::waiting;
  bool token_reinsert = false;  // insert_token asks for the same token back (pulled mid-write)
  std::optional<TokenProblem> token_problem;
  std::optional<CertificateOutcome> outcome;
  std::optional<SoftGrant> soft_grant;
  // The evidence upload worker's latest report; absent until it reports.
  std::optional<EvidenceUploadStatus> evidence_upload;
  std::string failure_code;     // transaction_failed: the stable code
  bool exit_requested = false;  // the app leaves its loop at the next frame
  std::uint64_t revision = 0;   // increases with every change, so the UI can tell a new state
  bool operator==(const KioskState&) const = default;
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
struct ChooseMedium {
  Medium medium;
};
struct ConsentAnswer {
  bool agreed;
};
struct TermsAnswer {
  bool accepted;
};
struct StaffSignInSubmitted {};  // the UI handed the typed id and password to the verifier
struct StaffVerified {
  std::uint64_t attempt;
  std::string staff_id;
  std::string display_name;
  std::string role = {};  // head office's role name; the engineer screen admits kEngineerRole only
};
struct StaffRefused {
  std::uint64_t attempt;
  std::string code;
};
struct StaffDecision {
  bool approved;
};
struct RevocationConfirmed {
  bool confirmed;
};
struct ChooseReason {
  std::string code;
};
// From the token worker (and the soft-apply task), tagged with the transaction's flow attempt.
struct TokenWaiting {
  std::uint64_t attempt;
  bool reinsert = false;  // the token left during the write: the same token must come back
};
struct TokenPinNeeded {
  std::uint64_t attempt;
  PinRequest request;
};
struct PinSubmitted {};  // the UI handed the PIN to the worker
struct TokenProgress {
  std::uint64_t attempt;
  TokenStage stage;
};
struct TokenDone {
  std::uint64_t attempt;
  CertificateOutcome outcome;
  std::vector<std::uint8_t> certificate_der;  // evidence; passed to the journal, not kept in the state
  std::vector<std::uint8_t> request_der;
  bool removal_detectable;  // the module reports removal; otherwise "done" is a touch
};
struct TokenFailed {
  std::uint64_t attempt;
  TokenProblem problem;
  std::string code;
};
struct TokenRemoved {
  std::uint64_t attempt;
};
struct SoftGranted {
  std::uint64_t attempt;
  SoftGrant grant;
};
struct TokenTakenOut {};  // "I have taken the token" on a kiosk whose module cannot see removal
// The hidden engineer corner of the attract screen was pressed (down) or let go; held for
// KioskSettings::engineer_hold, the next Tick opens the engineer sign-in.
struct EngineerCornerHold {
  bool down;
};
struct MaintenanceExit {};  // refused unless settings allow it
struct Shutdown {};         // SIGTERM/SIGINT from the service manager
// From the evidence upload worker after each change.
using EvidenceUploadStatus = ::kiosk::EvidenceUploadStatus;
}  // namespace event

using Event =
    std::variant<event::Start, event::ChooseOperation, event::Back, event::SetLanguage, event::StillHere,
                 event::EndSession, event::UserActivity, event::Tick, event::GatewayChecked, event::CardReaderStatus,
                 event::CardDetected, event::IdentityVerified, event::IdentityFailed, event::RetryIdentity,
                 event::ContinueAfterIdentity, event::ChooseMedium, event::ConsentAnswer, event::TermsAnswer,
                 event::StaffSignInSubmitted, event::StaffVerified, event::StaffRefused, event::StaffDecision,
                 event::RevocationConfirmed, event::ChooseReason, event::TokenWaiting, event::TokenPinNeeded,
                 event::PinSubmitted, event::TokenProgress, event::TokenDone, event::TokenFailed, event::TokenRemoved,
                 event::SoftGranted, event::TokenTakenOut, event::EngineerCornerHold, event::MaintenanceExit,
                 event::Shutdown, event::EvidenceUploadStatus>;

class KioskSession {
 public:
  // `transactions` may be null: the kiosk then offers identity only and refuses the rest openly.
  KioskSession(KioskSettings settings, const Clock& clock, TransactionPort* transactions = nullptr);

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
  void on(const event::ChooseMedium&);
  void on(const event::ConsentAnswer&);
  void on(const event::TermsAnswer&);
  void on(const event::StaffSignInSubmitted&);
  void on(const event::StaffVerified&);
  void on(const event::StaffRefused&);
  void on(const event::StaffDecision&);
  void on(const event::RevocationConfirmed&);
  void on(const event::ChooseReason&);
  void on(const event::TokenWaiting&);
  void on(const event::TokenPinNeeded&);
  void on(const event::PinSubmitted&);
  void on(const event::TokenProgress&);
  void on(const event::TokenDone&);
  void on(const event::TokenFailed&);
  void on(const event::TokenRemoved&);
  void on(const event::SoftGranted&);
  void on(const event::TokenTakenOut&);
  void on(const event::EngineerCornerHold&);
  void on(const event::MaintenanceExit&);
  void on(const event::Shutdown&);
  void on(const event::EvidenceUploadStatus&);

  void touch();           // records investor activity
  void clear_session();   // forgets everything about the investor and returns to the attract screen
  void begin_identity();  // a new identity attempt: the "place your card" screen
  void forget_identity();
  // The engineer's screens. The engineer_* handlers return true when the event was theirs.
  void open_engineer_sign_in();
  bool engineer_staff_submitted();
  bool engineer_staff_verified(const event::StaffVerified& e);
  bool engineer_staff_refused(const event::StaffRefused& e);
  bool engineer_back();
  [[nodiscard]] bool on_engineer_screen() const;
  // The certificate transaction (kiosk_session_transaction.cpp).
  void open_transaction(Medium medium);
  void show_next_step();                      // the screen of the first step not yet done
  bool commit(StepId step, StepInput input);  // false: the transaction ended (refused or failed)
  void fail_transaction(std::string code);
  void forget_transaction();
  [[nodiscard]] std::optional<StepId> next_step() const;
  [[nodiscard]] bool transaction_report_is_current(std::uint64_t attempt, std::initializer_list<Screen> screens) const;

  KioskSettings settings_;
  const Clock& clock_;
  TransactionPort* transactions_;
  KioskState state_;
  TimePoint last_activity_;
  std::optional<TimePoint> engineer_corner_down_since_;  // while the hidden corner is held on attract
};

}  // namespace kiosk
