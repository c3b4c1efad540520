#include "kiosk/core/kiosk_session.hpp"

#include "kiosk/core/log.hpp"

namespace kiosk {

std::optional<Language> language_from_string(std::string_view text) {
  if (text == "zh_CN") return Language::zh_CN;
  if (text == "en") return Language::en;
  return std::nullopt;
}

std::string_view to_string(Screen screen) {
  switch (screen) {
    case Screen::attract: return "attract";
    case Screen::choose_operation: return "choose_operation";
    case Screen::operation_unavailable: return "operation_unavailable";
    case Screen::place_card: return "place_card";
    case Screen::reading_card: return "reading_card";
    case Screen::identity_result: return "identity_result";
    case Screen::identity_failed: return "identity_failed";
    case Screen::choose_medium: return "choose_medium";
    case Screen::consent: return "consent";
    case Screen::terms: return "terms";
    case Screen::staff_sign_in: return "staff_sign_in";
    case Screen::staff_verifying: return "staff_verifying";
    case Screen::staff_decision: return "staff_decision";
    case Screen::revocation_confirm: return "revocation_confirm";
    case Screen::choose_reason: return "choose_reason";
    case Screen::insert_token: return "insert_token";
    case Screen::token_pin: return "token_pin";
    case Screen::token_working: return "token_working";
    case Screen::remove_token: return "remove_token";
    case Screen::soft_grant: return "soft_grant";
    case Screen::transaction_done: return "transaction_done";
    case Screen::transaction_failed: return "transaction_failed";
    case Screen::engineer_unavailable: return "engineer_unavailable";
    case Screen::engineer_sign_in: return "engineer_sign_in";
    case Screen::engineer_verifying: return "engineer_verifying";
    case Screen::engineer_status: return "engineer_status";
  }
  return "attract";
}

std::string_view to_string(IdentityProblem problem) {
  switch (problem) {
    case IdentityProblem::card_unreadable: return "card_unreadable";
    case IdentityProblem::card_removed_early: return "card_removed_early";
    case IdentityProblem::reader_fault: return "reader_fault";
    case IdentityProblem::suspect_card: return "suspect_card";
    case IdentityProblem::document_expired: return "document_expired";
    case IdentityProblem::document_not_yet_valid: return "document_not_yet_valid";
    case IdentityProblem::document_not_accepted: return "document_not_accepted";
    case IdentityProblem::document_imaging_unavailable: return "document_imaging_unavailable";
    case IdentityProblem::nciis_mismatch: return "nciis_mismatch";
    case IdentityProblem::nciis_unavailable: return "nciis_unavailable";
  }
  return "reader_fault";
}

bool identity_retry_allowed(IdentityProblem problem) {
  switch (problem) {
    case IdentityProblem::card_unreadable:
    case IdentityProblem::card_removed_early:
    case IdentityProblem::reader_fault:
    case IdentityProblem::nciis_unavailable: return true;
    // A suspect or invalid document, or an NCIIS non-match, ends the business (REQ-06, REQ-07).
    case IdentityProblem::suspect_card:
    case IdentityProblem::document_expired:
    case IdentityProblem::document_not_yet_valid:
    case IdentityProblem::document_not_accepted:
    case IdentityProblem::document_imaging_unavailable:
    case IdentityProblem::nciis_mismatch: return false;
  }
  return false;
}

KioskSession::KioskSession(KioskSettings settings, const Clock& clock, TransactionPort* transactions)
    : settings_(settings), clock_(clock), transactions_(transactions), last_activity_(clock.now()) {
  state_.language = settings_.default_language;
}

void KioskSession::handle(const Event& event) {
  const KioskState before = state_;
  std::visit([this](const auto& e) { on(e); }, event);
  // Every field counts: the UI redraws when anything the screens show has changed.
  const bool changed = !(before == state_);
  if (changed) ++state_.revision;
}

void KioskSession::touch() {
  last_activity_ = clock_.now();
  state_.idle_warning = false;
  state_.idle_seconds_left = std::chrono::seconds{0};
}

void KioskSession::clear_session() {
  forget_transaction();
  state_.screen = Screen::attract;
  state_.operation.reset();
  forget_identity();
  state_.language = settings_.default_language;
  state_.idle_warning = false;
  state_.idle_seconds_left = std::chrono::seconds{0};
  last_activity_ = clock_.now();
  engineer_corner_down_since_.reset();
}

void KioskSession::on(const event::Start&) {
  touch();
  if (state_.screen == Screen::attract) {
    state_.screen = Screen::choose_operation;
    log::info("session_started");
  }
}

void KioskSession::on(const event::ChooseOperation& e) {
  touch();
  if (state_.screen != Screen::choose_operation) return;
  state_.operation = e.operation;
  if (transactions_ == nullptr) {
    // Identity only: every operation starts by proving who the investor is (REQ-05).
    begin_identity();
    return;
  }
  const auto media = transactions_->media_allowed(e.operation);
  if (media.empty()) {
    state_.failure_code = "MEDIUM_NOT_AVAILABLE";
    state_.screen = Screen::operation_unavailable;
    log::info("operation_refused",
              {{"operation", std::string(to_string(e.operation))}, {"code", "MEDIUM_NOT_AVAILABLE"}});
  } else if (media.size() > 1) {
    state_.screen = Screen::choose_medium;
  } else {
    open_transaction(media.front());
  }
}

void KioskSession::begin_identity() {
  forget_identity();
  ++state_.identity_attempt;
  state_.screen = Screen::place_card;
  log::info("identity_started", {{"attempt", std::to_string(state_.identity_attempt)}});
}

void KioskSession::forget_identity() {
  state_.identity.reset();
  state_.identity_problem.reset();
  state_.identity_problem_code.clear();
}

void KioskSession::on(const event::Back&) {
  touch();
  if (engineer_back()) return;
  const Screen screen = state_.screen;
  if (screen == Screen::operation_unavailable || screen == Screen::place_card || screen == Screen::identity_failed ||
      screen == Screen::choose_medium || screen == Screen::consent || screen == Screen::terms ||
      screen == Screen::choose_reason || screen == Screen::staff_sign_in || screen == Screen::revocation_confirm) {
    forget_transaction();
    state_.screen = Screen::choose_operation;
    state_.operation.reset();
    forget_identity();
    ++state_.identity_attempt;  // a read still running belongs to no one now
  } else if (state_.screen == Screen::choose_operation) {
    clear_session();
  }
}

void KioskSession::on(const event::SetLanguage& e) {
  touch();
  state_.language = e.language;
}

void KioskSession::on(const event::StillHere&) { touch(); }

void KioskSession::on(const event::EndSession&) {
  if (state_.screen != Screen::attract) log::info("session_ended", {{"reason", "investor"}});
  clear_session();
}

void KioskSession::on(const event::UserActivity&) { touch(); }

void KioskSession::on(const event::Tick&) {
  if (state_.screen == Screen::attract) {
    if (engineer_corner_down_since_ && clock_.now() - *engineer_corner_down_since_ >= settings_.engineer_hold) {
      open_engineer_sign_in();
    }
    return;
  }
  const auto idle = clock_.now() - last_activity_;
  const auto limit = settings_.idle_timeout + settings_.idle_warning;
  if (idle >= limit) {
    log::info("session_ended", {{"reason", "idle_timeout"}});
    clear_session();
  } else if (idle >= settings_.idle_timeout) {
    state_.idle_warning = true;
    // Round up so the countdown shows 20..1, never 0, while the warning is visible.
    const auto left = std::chrono::ceil<std::chrono::seconds>(limit - idle);
    state_.idle_seconds_left = left;
  }
}

void KioskSession::on(const event::GatewayChecked& e) {
  state_.gateway = e.reachable ? GatewayLink::online : GatewayLink::offline;
  state_.gateway_problem = e.reachable ? std::string() : e.problem_code;
}

void KioskSession::on(const event::CardReaderStatus& e) {
  state_.reader = e.online ? ReaderLink::online : ReaderLink::offline;
  state_.reader_problem = e.online ? std::string() : e.problem_code;
}

void KioskSession::on(const event::CardDetected& e) {
  if (e.attempt != state_.identity_attempt || state_.screen != Screen::place_card) return;
  touch();  // placing a card is activity
  state_.screen = Screen::reading_card;
}

void KioskSession::on(const event::IdentityVerified& e) {
  if (e.attempt != state_.identity_attempt) return;
  if (state_.screen != Screen::place_card && state_.screen != Screen::reading_card) return;
  touch();
  state_.identity = e.summary;
  state_.screen = Screen::identity_result;
  log::info("identity_verified", {{"attempt", std::to_string(e.attempt)},
                                  {"document_type", e.summary.document_type},
                                  {"nciis", e.summary.nciis_result.empty() ? "not_checked" : e.summary.nciis_result}});
}

void KioskSession::on(const event::IdentityFailed& e) {
  if (e.attempt != state_.identity_attempt) return;
  if (state_.screen != Screen::place_card && state_.screen != Screen::reading_card) return;
  touch();
  state_.identity.reset();
  state_.identity_problem = e.problem;
  state_.identity_problem_code = e.code;
  state_.screen = Screen::identity_failed;
  if (!identity_retry_allowed(e.problem) && !state_.transaction_id.empty() && transactions_ != nullptr) {
    // The business ends here (REQ-06, REQ-07); the read's evidence stays in the evidence folder.
    transactions_->abort(e.code);
    log::info("transaction_ended", {{"transaction", state_.transaction_id}, {"code", e.code}});
    state_.transaction_id.clear();
    state_.evidence_transaction_id.clear();
  }
  log::info("identity_failed",
            {{"attempt", std::to_string(e.attempt)}, {"problem", std::string(to_string(e.problem))}, {"code", e.code}});
}

void KioskSession::on(const event::RetryIdentity&) {
  touch();
  if (state_.screen != Screen::identity_failed || !state_.identity_problem) return;
  if (!identity_retry_allowed(*state_.identity_problem)) return;  // REQ-06: never a bypass
  begin_identity();
}

void KioskSession::on(const event::ContinueAfterIdentity&) {
  touch();
  if (state_.screen != Screen::identity_result || !state_.operation) return;
  if (transactions_ != nullptr && !state_.transaction_id.empty()) {
    // The port brings this attempt's chip read (evidence and details) to the `idv` step.
    StepInput input{.actor = workflow::Actor{},  // the kiosk itself (ActorKind::system)
                    .details = {{"identity_attempt", std::to_string(state_.identity_attempt)}},
                    .evidence = {}};
    if (commit(StepId::idv, std::move(input))) show_next_step();
    return;
  }
  // The rest of the transaction (consent, form, witness, token) arrives with the next issues;
  // until then the kiosk says so openly instead of pretending to go on.
  state_.screen = Screen::operation_unavailable;
  log::info("operation_refused",
            {{"operation", std::string(to_string(*state_.operation))}, {"code", "OPERATION_NOT_AVAILABLE"}});
}

// The engineer's screens. Staff sign-in reuses the transaction's path (the UI hands the typed id
// and password to the app's verifier, which asks head office and reports StaffVerified or
// StaffRefused tagged with flow_attempt); only the role decides who gets in.

void KioskSession::on(const event::EngineerCornerHold& e) {
  if (state_.screen != Screen::attract || !e.down) {
    engineer_corner_down_since_.reset();
    return;
  }
  if (!engineer_corner_down_since_) engineer_corner_down_since_ = clock_.now();
}

void KioskSession::open_engineer_sign_in() {
  engineer_corner_down_since_.reset();
  touch();
  forget_transaction();  // a fresh flow attempt: late staff answers belong to no one
  // Without the transaction services there is no staff verification with head office, and
  // without it nobody may open the engineer screen.
  state_.screen = transactions_ != nullptr ? Screen::engineer_sign_in : Screen::engineer_unavailable;
  log::info("engineer_sign_in_opened", {{"available", transactions_ != nullptr ? "true" : "false"}});
}

bool KioskSession::on_engineer_screen() const {
  const Screen screen = state_.screen;
  return screen == Screen::engineer_unavailable || screen == Screen::engineer_sign_in ||
         screen == Screen::engineer_verifying || screen == Screen::engineer_status;
}

bool KioskSession::engineer_staff_submitted() {
  if (state_.screen != Screen::engineer_sign_in) return false;
  state_.staff_problem_code.clear();
  state_.screen = Screen::engineer_verifying;
  return true;
}

bool KioskSession::engineer_staff_verified(const event::StaffVerified& e) {
  if (state_.screen != Screen::engineer_verifying) return false;
  if (e.attempt != state_.flow_attempt) return true;  // an older sign-in's answer
  touch();
  if (e.role != kEngineerRole) {
    state_.staff_problem_code = "ENGINEER_ROLE_NOT_ALLOWED";
    state_.screen = Screen::engineer_sign_in;
    log::info("engineer_sign_in_refused", {{"code", state_.staff_problem_code}});
    return true;
  }
  state_.staff_id = e.staff_id;
  state_.staff_display_name = e.display_name;
  state_.screen = Screen::engineer_status;
  log::info("engineer_signed_in");
  return true;
}

bool KioskSession::engineer_staff_refused(const event::StaffRefused& e) {
  if (state_.screen != Screen::engineer_verifying) return false;
  if (e.attempt != state_.flow_attempt) return true;
  touch();
  state_.staff_problem_code = e.code;
  state_.screen = Screen::engineer_sign_in;
  log::info("engineer_sign_in_refused", {{"code", e.code}});
  return true;
}

// Exit, from any engineer screen, goes back to the attract screen and forgets who signed in.
bool KioskSession::engineer_back() {
  if (!on_engineer_screen()) return false;
  if (state_.screen == Screen::engineer_status) log::info("engineer_signed_out");
  clear_session();
  return true;
}

void KioskSession::on(const event::MaintenanceExit&) {
  if (!settings_.maintenance_exit_allowed) {
    log::warn("maintenance_exit_refused", {{"reason", "not allowed by configuration"}});
    return;
  }
  log::info("maintenance_exit");
  state_.exit_requested = true;
}

// Device status, not the investor's: it survives clear_session().
void KioskSession::on(const event::EvidenceUploadStatus& e) { state_.evidence_upload = e; }

void KioskSession::on(const event::Shutdown&) {
  log::info("shutdown_requested");
  state_.exit_requested = true;
}

}  // namespace kiosk
