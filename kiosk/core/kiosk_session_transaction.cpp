// The certificate transaction inside the kiosk session: which screen serves the next mandatory
// step, and committing each step through the TransactionPort before the screen moves on (durable
// before acknowledged). The order of steps is the rule pack's; this file only maps steps to screens.
#include <algorithm>
#include <string>

#include "kiosk/core/kiosk_session.hpp"
#include "kiosk/core/log.hpp"
#include "kiosk/core/time_text.hpp"

namespace kiosk {
namespace {

std::string json_text(std::string_view text) { return "\"" + log::json_escape(text) + "\""; }

std::vector<std::uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

workflow::Actor investor() {
  workflow::Actor actor;
  actor.kind = workflow::ActorKind::investor;
  return actor;
}
workflow::Actor kiosk_system() { return workflow::Actor{}; }  // ActorKind::system

}  // namespace

bool kiosk_can_perform(StepId step) {
  switch (step) {
    case StepId::consent:
    case StepId::terms:
    case StepId::idv:
    case StepId::identity_check:
    case StepId::staff_countersign:
    case StepId::revocation_confirmation:
    case StepId::review:
    case StepId::issue: return true;
    // The witness call (issue 8), the document camera (issue 7) and institutions' documents.
    case StepId::witness_intro:
    case StepId::institution_documents:
    case StepId::form_capture:
    case StepId::witness_signing:
    case StepId::willingness: return false;
  }
  return false;
}

bool operation_writes_token(Operation operation) {
  return operation == Operation::apply || operation == Operation::renew || operation == Operation::reissue;
}

std::optional<StaffTask> staff_task_of(StepId step) {
  switch (step) {
    case StepId::identity_check: return StaffTask::identity_check;
    case StepId::staff_countersign: return StaffTask::countersign;
    case StepId::review: return StaffTask::review;
    default: return std::nullopt;
  }
}

StaffRole staff_role_for(StaffTask task) {
  switch (task) {
    case StaffTask::identity_check: return StaffRole::onsite;  // counter: the staff member at the kiosk
    case StaffTask::countersign: return StaffRole::onsite;
    case StaffTask::review: return StaffRole::reviewer;
  }
  return StaffRole::onsite;
}

std::string_view to_string(TokenStage stage) {
  switch (stage) {
    case TokenStage::waiting: return "waiting";
    case TokenStage::checking: return "checking";
    case TokenStage::keygen: return "keygen";
    case TokenStage::request: return "request";
    case TokenStage::ca_call: return "ca_call";
    case TokenStage::import: return "import";
    case TokenStage::verify: return "verify";
  }
  return "waiting";
}

std::string_view to_string(TokenProblem problem) {
  switch (problem) {
    case TokenProblem::model_not_allowed: return "model_not_allowed";
    case TokenProblem::pin_locked: return "pin_locked";
    case TokenProblem::token_removed: return "token_removed";
    case TokenProblem::not_subjects_certificate: return "not_subjects_certificate";
    case TokenProblem::no_certificate: return "no_certificate";
    case TokenProblem::ca_refused: return "ca_refused";
    case TokenProblem::head_office_unreachable: return "head_office_unreachable";
    case TokenProblem::token_fault: return "token_fault";
  }
  return "token_fault";
}

std::optional<StepId> KioskSession::next_step() const {
  if (state_.next_step_index >= state_.steps.size()) return std::nullopt;
  return state_.steps[state_.next_step_index];
}

bool KioskSession::transaction_report_is_current(std::uint64_t attempt, std::initializer_list<Screen> screens) const {
  if (attempt != state_.flow_attempt || state_.transaction_id.empty()) return false;
  for (const Screen screen : screens) {
    if (state_.screen == screen) return true;
  }
  return false;
}

void KioskSession::open_transaction(Medium medium) {
  auto opened = transactions_->open(*state_.operation, medium);
  if (!opened) {
    state_.failure_code = opened.error().code;
    state_.screen = Screen::operation_unavailable;
    log::info("operation_refused", {{"operation", std::string(to_string(*state_.operation))},
                                    {"code", opened.error().code},
                                    {"reason", opened.error().message}});
    return;
  }
  ++state_.flow_attempt;
  state_.medium = medium;
  state_.transaction_id = opened->id;
  state_.evidence_transaction_id = opened->evidence_id;
  state_.steps = opened->steps;
  state_.reason_codes = opened->reason_codes;
  state_.next_step_index = 0;
  log::info("transaction_opened", {{"transaction", opened->id},
                                   {"operation", std::string(to_string(*state_.operation))},
                                   {"medium", std::string(to_string(medium))},
                                   {"steps", std::to_string(opened->steps.size())}});
  show_next_step();
}

void KioskSession::show_next_step() {
  state_.staff_task.reset();
  state_.staff_problem_code.clear();
  const auto step = next_step();
  if (!step) {
    state_.screen = state_.soft_grant ? Screen::soft_grant : Screen::transaction_done;
    return;
  }
  switch (*step) {
    case StepId::consent: state_.screen = Screen::consent; return;
    case StepId::terms: state_.screen = Screen::terms; return;
    case StepId::idv: begin_identity(); return;
    case StepId::identity_check:
    case StepId::staff_countersign:
    case StepId::review:
      state_.staff_task = staff_task_of(*step);
      state_.staff_display_name.clear();
      state_.staff_id.clear();
      state_.screen = Screen::staff_sign_in;
      return;
    case StepId::revocation_confirmation: state_.screen = Screen::revocation_confirm; return;
    case StepId::issue:
      if (!state_.reason_codes.empty() && state_.reason.empty()) {
        state_.screen = Screen::choose_reason;
      } else if (state_.medium == Medium::soft || !operation_writes_token(*state_.operation)) {
        // Soft apply, freeze, unfreeze and revoke act on head office's record of the investor's
        // certificate (found by the verified identity): no token needed, so a lost one is no obstacle.
        state_.token_stage = TokenStage::ca_call;
        state_.screen = Screen::token_working;
      } else {
        state_.token_stage = TokenStage::waiting;
        state_.screen = Screen::insert_token;
      }
      return;
    default:
      // open() refuses packs with steps this kiosk cannot perform; reaching here is a bug.
      fail_transaction("STEP_NOT_AVAILABLE_AT_KIOSK");
      return;
  }
}

bool KioskSession::commit(StepId step, StepInput input) {
  auto completion = transactions_->complete(step, std::move(input));
  if (!completion) {
    log::error("step_not_committed", {{"transaction", state_.transaction_id},
                                      {"step", std::string(to_string(step))},
                                      {"code", completion.error().code}});
    fail_transaction(completion.error().code);
    return false;
  }
  if (completion->outcome == workflow::StepOutcome::refused) {
    log::info("transaction_refused", {{"transaction", state_.transaction_id},
                                      {"step", std::string(to_string(step))},
                                      {"code", completion->refusal_code}});
    state_.failure_code = completion->refusal_code;
    state_.transaction_id.clear();  // closed by the refusal
    state_.evidence_transaction_id.clear();
    state_.screen = Screen::transaction_failed;
    return false;
  }
  ++state_.next_step_index;
  return true;
}

void KioskSession::fail_transaction(std::string code) {
  if (!state_.transaction_id.empty() && transactions_ != nullptr) transactions_->abort(code);
  log::info("transaction_ended", {{"transaction", state_.transaction_id}, {"code", code}});
  state_.failure_code = std::move(code);
  state_.transaction_id.clear();
  state_.evidence_transaction_id.clear();
  state_.screen = Screen::transaction_failed;
}

void KioskSession::forget_transaction() {
  if (!state_.transaction_id.empty() && transactions_ != nullptr) {
    transactions_->abort("SESSION_ENDED");
    log::info("transaction_ended", {{"transaction", state_.transaction_id}, {"code", "SESSION_ENDED"}});
  }
  state_.transaction_id.clear();
  state_.evidence_transaction_id.clear();
  state_.steps.clear();
  state_.next_step_index = 0;
  state_.reason_codes.clear();
  state_.reason.clear();
  state_.staff_task.reset();
  state_.staff_display_name.clear();
  state_.staff_id.clear();
  state_.staff_problem_code.clear();
  state_.pin_request.reset();
  state_.token_stage = TokenStage::waiting;
  state_.token_reinsert = false;
  state_.token_problem.reset();
  state_.outcome.reset();
  state_.soft_grant.reset();
  state_.failure_code.clear();
  ++state_.flow_attempt;  // late device reports belong to no one now
}

void KioskSession::on(const event::ChooseMedium& e) {
  touch();
  if (state_.screen != Screen::choose_medium || !state_.operation) return;
  open_transaction(e.medium);
}

void KioskSession::on(const event::ConsentAnswer& e) {
  touch();
  if (state_.screen != Screen::consent) return;
  StepInput input{.actor = investor(), .details = {{"decision", e.agreed ? "granted" : "refused"}}, .evidence = {}};
  if (commit(StepId::consent, std::move(input))) show_next_step();
}

void KioskSession::on(const event::TermsAnswer& e) {
  touch();
  if (state_.screen != Screen::terms) return;
  // The port adds terms_version_hash: it knows the text this kiosk shows.
  StepInput input{.actor = investor(), .details = {{"decision", e.accepted ? "accepted" : "declined"}}, .evidence = {}};
  if (commit(StepId::terms, std::move(input))) show_next_step();
}

void KioskSession::on(const event::StaffSignInSubmitted&) {
  touch();
  if (engineer_staff_submitted()) return;
  if (state_.screen != Screen::staff_sign_in) return;
  state_.staff_problem_code.clear();
  state_.screen = Screen::staff_verifying;
}

void KioskSession::on(const event::StaffVerified& e) {
  if (engineer_staff_verified(e)) return;
  if (!transaction_report_is_current(e.attempt, {Screen::staff_verifying})) return;
  touch();
  state_.staff_id = e.staff_id;
  state_.staff_display_name = e.display_name;
  state_.screen = Screen::staff_decision;
}

void KioskSession::on(const event::StaffRefused& e) {
  if (engineer_staff_refused(e)) return;
  if (!transaction_report_is_current(e.attempt, {Screen::staff_verifying})) return;
  touch();
  state_.staff_problem_code = e.code;
  state_.screen = Screen::staff_sign_in;
}

void KioskSession::on(const event::StaffDecision& e) {
  touch();
  if (state_.screen != Screen::staff_decision || !state_.staff_task) return;
  const auto step = next_step();
  if (!step) return;
  const StaffTask task = *state_.staff_task;
  StepInput input;
  input.actor =
      workflow::Actor{.kind = workflow::ActorKind::staff, .staff_id = state_.staff_id, .role = staff_role_for(task)};
  const char* detail_key = task == StaffTask::identity_check ? "face_match_confirmed"
                           : task == StaffTask::review       ? "review_result"
                                                             : "countersigned";
  const char* yes = task == StaffTask::review ? "passed" : "true";
  const char* no = task == StaffTask::review ? "failed" : "false";
  input.details[detail_key] = e.approved ? yes : no;
  // The staff member's statement is the step's evidence (at the counter there is no recording).
  const std::string record =
      "{\"kind\":\"staff_confirmation\",\"step\":" + json_text(to_string(*step)) +
      ",\"staff_id\":" + json_text(state_.staff_id) + ",\"role\":" + json_text(to_string(staff_role_for(task))) +
      ",\"approved\":" + (e.approved ? "true" : "false") + ",\"at\":" + json_text(utc_iso8601(clock_.now())) + "}\n";
  input.evidence.emplace_back("staff_confirmation", bytes_of(record));
  auto completion = transactions_->complete(*step, std::move(input));
  if (!completion) {
    // A refused assignment (conflict of interest, role not held, REQ-16/27) lets someone else sign in.
    const std::string& code = completion.error().code;
    const bool assignment_refused = code.starts_with("CONFLICT_") || code == "STAFF_UNKNOWN" ||
                                    code == "ROLE_NOT_HELD" || code == "ACTOR_NOT_ALLOWED" ||
                                    code == "REVIEWER_IS_OPERATOR" || code.starts_with("STATUS_") ||
                                    code.starts_with("QUALIFICATION_") || code == "TRAINING_MISSING" ||
                                    code == "NO_LABOR_CONTRACT" || code == "REASSESSMENT_OVERDUE";
    if (assignment_refused) {
      log::info("staff_assignment_refused", {{"step", std::string(to_string(*step))}, {"code", code}});
      state_.staff_problem_code = code;
      state_.staff_id.clear();
      state_.staff_display_name.clear();
      state_.screen = Screen::staff_sign_in;
      return;
    }
    fail_transaction(code);
    return;
  }
  if (completion->outcome == workflow::StepOutcome::refused) {
    log::info("transaction_refused", {{"transaction", state_.transaction_id},
                                      {"step", std::string(to_string(*step))},
                                      {"code", completion->refusal_code}});
    state_.failure_code = completion->refusal_code;
    state_.transaction_id.clear();
    state_.evidence_transaction_id.clear();
    state_.screen = Screen::transaction_failed;
    return;
  }
  ++state_.next_step_index;
  show_next_step();
}

void KioskSession::on(const event::RevocationConfirmed& e) {
  touch();
  if (state_.screen != Screen::revocation_confirm) return;
  if (!e.confirmed) {
    fail_transaction("REVOCATION_NOT_CONFIRMED");
    return;
  }
  const std::string record = "{\"kind\":\"revocation_statement\",\"statement\":\"revoke.final\",\"language\":" +
                             json_text(to_string(state_.language)) +
                             ",\"confirmed_at\":" + json_text(utc_iso8601(clock_.now())) + "}\n";
  StepInput input{.actor = investor(), .details = {{"confirmed", "true"}}, .evidence = {}};
  input.evidence.emplace_back("investor_statement", bytes_of(record));
  if (commit(StepId::revocation_confirmation, std::move(input))) show_next_step();
}

void KioskSession::on(const event::ChooseReason& e) {
  touch();
  if (state_.screen != Screen::choose_reason) return;
  if (std::find(state_.reason_codes.begin(), state_.reason_codes.end(), e.code) == state_.reason_codes.end()) return;
  state_.reason = e.code;
  show_next_step();
}

void KioskSession::on(const event::TokenWaiting& e) {
  if (!transaction_report_is_current(e.attempt, {Screen::insert_token, Screen::token_working})) return;
  state_.token_stage = TokenStage::waiting;
  state_.token_reinsert = e.reinsert;
  state_.screen = Screen::insert_token;
}

void KioskSession::on(const event::TokenPinNeeded& e) {
  if (!transaction_report_is_current(e.attempt, {Screen::insert_token, Screen::token_working, Screen::token_pin}))
    return;
  touch();
  state_.pin_request = e.request;
  state_.screen = Screen::token_pin;
}

void KioskSession::on(const event::PinSubmitted&) {
  touch();
  if (state_.screen != Screen::token_pin) return;
  state_.pin_request.reset();
  state_.token_stage = TokenStage::checking;
  state_.screen = Screen::token_working;
}

void KioskSession::on(const event::TokenProgress& e) {
  if (!transaction_report_is_current(e.attempt, {Screen::insert_token, Screen::token_working})) return;
  state_.token_stage = e.stage;
  state_.token_reinsert = false;
  state_.screen = Screen::token_working;
}

void KioskSession::on(const event::TokenDone& e) {
  if (!transaction_report_is_current(e.attempt, {Screen::insert_token, Screen::token_working, Screen::token_pin}))
    return;
  touch();
  StepInput input{.actor = kiosk_system(),
                  .details = {{"certificate_serial", e.outcome.serial},
                              {"certificate_state", e.outcome.state},
                              {"request_id", state_.transaction_id + "-issue"}},
                  .evidence = {}};
  if (!e.outcome.retired_serial.empty()) input.details["retired_serial"] = e.outcome.retired_serial;
  if (!state_.reason.empty()) input.details["reason"] = state_.reason;
  const std::string answer = "{\"kind\":\"ca_answer\",\"serial\":" + json_text(e.outcome.serial) +
                             ",\"state\":" + json_text(e.outcome.state) +
                             ",\"not_after\":" + json_text(e.outcome.not_after) +
                             ",\"retired_serial\":" + json_text(e.outcome.retired_serial) + "}\n";
  input.evidence.emplace_back("ca_answer", bytes_of(answer));
  if (!e.certificate_der.empty()) input.evidence.emplace_back("certificate", e.certificate_der);
  if (!e.request_der.empty()) input.evidence.emplace_back("certificate_request", e.request_der);
  state_.outcome = e.outcome;
  if (!commit(StepId::issue, std::move(input))) return;
  state_.transaction_id.clear();  // `issue` is the last step: the transaction is complete
  state_.evidence_transaction_id.clear();
  log::info("transaction_completed", {{"operation", std::string(to_string(*state_.operation))}});
  // Freeze, unfreeze and revoke may run without the token (lost): nothing to take out then.
  const bool token_written = !e.certificate_der.empty();
  state_.screen = token_written && e.removal_detectable ? Screen::remove_token : Screen::transaction_done;
}

void KioskSession::on(const event::TokenFailed& e) {
  if (!transaction_report_is_current(e.attempt, {Screen::insert_token, Screen::token_working, Screen::token_pin}))
    return;
  touch();
  state_.token_problem = e.problem;
  fail_transaction(e.code);
}

void KioskSession::on(const event::TokenRemoved& e) {
  if (e.attempt != state_.flow_attempt || state_.screen != Screen::remove_token) return;
  touch();
  state_.screen = Screen::transaction_done;
}

void KioskSession::on(const event::TokenTakenOut&) {
  touch();
  if (state_.screen == Screen::remove_token) state_.screen = Screen::transaction_done;
}

void KioskSession::on(const event::SoftGranted& e) {
  if (!transaction_report_is_current(e.attempt, {Screen::token_working})) return;
  touch();
  // The authorisation code is for the investor's eyes only: the journal gets the reference.
  StepInput input{.actor = kiosk_system(),
                  .details = {{"certificate_serial", e.grant.serial},
                              {"certificate_state", "pending_download"},
                              {"download_reference", e.grant.reference},
                              {"download_expires_at", e.grant.expires_at},
                              {"request_id", state_.transaction_id + "-issue"}},
                  .evidence = {}};
  const std::string answer = "{\"kind\":\"ca_answer\",\"serial\":" + json_text(e.grant.serial) +
                             ",\"state\":\"pending_download\",\"download_reference\":" + json_text(e.grant.reference) +
                             ",\"expires_at\":" + json_text(e.grant.expires_at) + "}\n";
  input.evidence.emplace_back("ca_answer", bytes_of(answer));
  if (!commit(StepId::issue, std::move(input))) return;
  state_.transaction_id.clear();
  state_.evidence_transaction_id.clear();
  log::info("transaction_completed", {{"operation", "apply"}, {"medium", "soft"}});
  state_.soft_grant = e.grant;
  state_.outcome =
      CertificateOutcome{.serial = e.grant.serial, .state = "pending_download", .not_after = {}, .retired_serial = {}};
  state_.screen = Screen::soft_grant;
}

}  // namespace kiosk
