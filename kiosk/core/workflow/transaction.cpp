#include "kiosk/core/workflow/transaction.hpp"

#include <algorithm>
#include <set>

namespace kiosk::workflow {
namespace {

std::string name(StepId step) { return std::string(kiosk::to_string(step)); }

std::string detail(const StepResult& result, const std::string& key) {
  const auto it = result.details.find(key);
  return it == result.details.end() ? std::string() : it->second;
}

bool has_evidence_kind(const StepResult& result, std::initializer_list<std::string_view> kinds) {
  return std::any_of(result.evidence.begin(), result.evidence.end(), [&](const EvidenceRef& e) {
    return std::find(kinds.begin(), kinds.end(), e.kind) != kinds.end() && !e.sha256.empty() && !e.path.empty();
  });
}

bool is_staff(const Actor& actor, std::initializer_list<StaffRole> roles) {
  return actor.kind == ActorKind::staff && !actor.staff_id.empty() && actor.role &&
         std::find(roles.begin(), roles.end(), *actor.role) != roles.end();
}

// Who may carry out each step. Identity checks are the witness's duty in the witness channel
// (REQ-19), the operator's in the remote channel (REQ-28) and on-site staff's at the counter.
Result<void> check_actor(StepId step, Channel channel, const Actor& actor) {
  bool allowed = false;
  switch (step) {
    case StepId::consent:
    case StepId::terms:
    case StepId::willingness:
    case StepId::revocation_confirmation: allowed = actor.kind == ActorKind::investor; break;
    case StepId::idv:
    case StepId::issue: allowed = actor.kind == ActorKind::system; break;
    case StepId::form_capture:
      allowed = actor.kind == ActorKind::system ||
                is_staff(actor, {StaffRole::onsite, StaffRole::witness, StaffRole::operator_});
      break;
    case StepId::witness_intro:
    case StepId::witness_signing: allowed = is_staff(actor, {StaffRole::witness}); break;
    case StepId::identity_check:
      allowed = channel == Channel::witness ? is_staff(actor, {StaffRole::witness})
                : channel == Channel::other ? is_staff(actor, {StaffRole::operator_})
                                            : is_staff(actor, {StaffRole::onsite, StaffRole::operator_});
      break;
    case StepId::institution_documents:
      allowed = is_staff(actor, {StaffRole::onsite, StaffRole::operator_, StaffRole::witness});
      break;
    case StepId::staff_countersign: allowed = is_staff(actor, {StaffRole::onsite, StaffRole::witness}); break;
    case StepId::review: allowed = is_staff(actor, {StaffRole::reviewer}); break;
  }
  if (allowed) return {};
  return fail("ACTOR_NOT_ALLOWED", "step '" + name(step) + "' cannot be carried out by this " +
                                       (actor.kind == ActorKind::investor ? std::string("investor")
                                        : actor.kind == ActorKind::system ? std::string("kiosk system")
                                        : actor.role ? "staff role '" + std::string(kiosk::to_string(*actor.role)) + "'"
                                                     : std::string("staff member without a role")));
}

std::unexpected<Error> evidence_missing(StepId step, const std::string& what) {
  return fail("EVIDENCE_MISSING", "step '" + name(step) + "' needs " + what);
}

}  // namespace

bool step_uses_camera(StepId step) {
  switch (step) {
    case StepId::witness_intro:
    case StepId::identity_check:
    case StepId::institution_documents:
    case StepId::form_capture:
    case StepId::witness_signing:
    case StepId::staff_countersign:
    case StepId::willingness:
    case StepId::revocation_confirmation: return true;
    default: return false;
  }
}

Result<Transaction> Transaction::open(TransactionSpec spec, TimePoint now) {
  const auto& steps = spec.mandatory_steps;
  if (spec.id.empty()) return fail("WORKFLOW_INVALID", "a transaction needs an id");
  if (steps.empty() || steps.back() != StepId::issue) {
    return fail("WORKFLOW_INVALID", "the step list must end with 'issue'");
  }
  std::set<StepId> seen;
  bool consent_seen = false;
  bool review_seen = false;
  for (const StepId step : steps) {
    if (!seen.insert(step).second) return fail("WORKFLOW_INVALID", "step '" + name(step) + "' appears twice");
    if (step_uses_camera(step) && !consent_seen) {
      return fail("WORKFLOW_INVALID", "step '" + name(step) + "' uses a camera but comes before 'consent' (REQ-46)");
    }
    if (step == StepId::issue && !review_seen) {
      return fail("WORKFLOW_INVALID", "'issue' must come after 'review' (REQ-27)");
    }
    consent_seen = consent_seen || step == StepId::consent;
    review_seen = review_seen || step == StepId::review;
  }
  if (spec.rule_pack_version.empty()) {
    return fail("WORKFLOW_INVALID", "a transaction must name the rule-pack version it runs under (REQ-02)");
  }
  return Transaction(std::move(spec), now);
}

bool Transaction::is_done(StepId step) const {
  return std::any_of(records_.begin(), records_.end(),
                     [step](const StepRecord& r) { return r.step == step && r.outcome == StepOutcome::done; });
}

std::optional<StepId> Transaction::running_step() const {
  if (!records_.empty() && records_.back().outcome == StepOutcome::running) return records_.back().step;
  return std::nullopt;
}

std::optional<StepId> Transaction::next_step() const {
  if (state_ != TxState::open) return std::nullopt;
  for (const StepId step : spec_.mandatory_steps) {
    if (!is_done(step)) return step;
  }
  return std::nullopt;
}

bool Transaction::cameras_allowed() const { return state_ == TxState::open && is_done(StepId::consent); }

std::vector<std::string> Transaction::operator_ids() const {
  std::vector<std::string> ids;
  for (const auto& record : records_) {
    if (record.actor.kind == ActorKind::staff && !record.actor.staff_id.empty()) ids.push_back(record.actor.staff_id);
  }
  return ids;
}

Result<void> Transaction::start_step(StepId step, Actor actor, TimePoint now) {
  if (state_ != TxState::open) {
    return fail("TRANSACTION_CLOSED", "transaction " + spec_.id + " is " + std::string(kiosk::to_string(state_)));
  }
  const auto& steps = spec_.mandatory_steps;
  if (std::find(steps.begin(), steps.end(), step) == steps.end()) {
    return fail("STEP_NOT_IN_WORKFLOW", "step '" + name(step) +
                                            "' is not part of this transaction's workflow under rule pack " +
                                            spec_.rule_pack_version);
  }
  if (const auto running = running_step()) {
    return fail("STEP_IN_PROGRESS", "step '" + name(*running) + "' must end before '" + name(step) + "' starts");
  }
  if (is_done(step)) return fail("STEP_ALREADY_DONE", "step '" + name(step) + "' is already done");
  const StepId next = *next_step();
  if (next != step) {
    return fail("STEP_OUT_OF_ORDER", "step '" + name(step) + "' cannot start before '" + name(next) + "' is done");
  }
  if (auto allowed = check_actor(step, spec_.channel, actor); !allowed) return allowed;
  if (step == StepId::review) {
    // REQ-27, REQ-16(c): the reviewer is a different person from everyone who acted before.
    const auto ids = operator_ids();
    if (std::find(ids.begin(), ids.end(), actor.staff_id) != ids.end()) {
      return fail("REVIEWER_IS_OPERATOR",
                  "the reviewer took part in this transaction already; review needs a different person (REQ-27)");
    }
  }
  records_.push_back(StepRecord{.step = step,
                                .outcome = StepOutcome::running,
                                .actor = std::move(actor),
                                .started_at = now,
                                .ended_at = std::nullopt,
                                .evidence = {},
                                .details = {}});
  return {};
}

Result<Transaction::Completion> Transaction::check_completion(StepId step, const StepResult& result) const {
  if (state_ != TxState::open) {
    return fail("TRANSACTION_CLOSED", "transaction " + spec_.id + " is " + std::string(kiosk::to_string(state_)));
  }
  const auto running = running_step();
  if (!running || *running != step) {
    return fail("STEP_NOT_RUNNING", "step '" + name(step) + "' was not started");
  }

  // What each step must bring, and which answers end the transaction.
  std::string refusal;
  bool retry = false;
  switch (step) {
    case StepId::consent: {
      const std::string decision = detail(result, "decision");
      if (decision != "granted" && decision != "refused") return evidence_missing(step, "decision granted or refused");
      if (decision == "refused") refusal = "CONSENT_REFUSED";
      break;
    }
    case StepId::terms: {
      if (detail(result, "terms_version_hash").size() != 64) {
        return evidence_missing(step, "the SHA-256 of the terms version shown (REQ-51)");
      }
      const std::string decision = detail(result, "decision");
      if (decision != "accepted" && decision != "declined")
        return evidence_missing(step, "decision accepted or declined");
      if (decision == "declined") refusal = "TERMS_DECLINED";
      break;
    }
    case StepId::idv: {
      // REQ-05: a chip read or an NCIIS answer; typed-in data never verifies anyone.
      if (!has_evidence_kind(result, {"id_chip_read", "nciis_result"})) {
        return evidence_missing(step, "a chip read or an NCIIS answer (typed data is not verification, REQ-05)");
      }
      const std::string nciis = detail(result, "nciis_result");
      if (!nciis.empty() && nciis != "MATCH") {
        if (nciis == "ERROR") {
          retry = true;  // REQ-06: retry or switch to the card reader, never a bypass
        } else if (nciis == "MISMATCH" || nciis == "NOT_FOUND") {
          refusal = "NCIIS_" + nciis;
        } else {
          return evidence_missing(step, "an NCIIS result of MATCH, MISMATCH, NOT_FOUND or ERROR");
        }
      }
      if (detail(result, "document_expired") == "true") refusal = "DOCUMENT_EXPIRED";  // REQ-07
      break;
    }
    case StepId::identity_check:
      // REQ-07: a person confirms the live face matches the photo; a score alone is not enough.
      if (detail(result, "face_match_confirmed") != "true" && detail(result, "face_match_confirmed") != "false") {
        return evidence_missing(step, "the staff member's face-match confirmation (true or false)");
      }
      if (result.evidence.empty()) return evidence_missing(step, "the recording range of the check");
      if (detail(result, "face_match_confirmed") == "false") refusal = "FACE_MISMATCH";
      break;
    case StepId::review: {
      const std::string verdict = detail(result, "review_result");
      if (verdict != "passed" && verdict != "failed") return evidence_missing(step, "review_result passed or failed");
      if (verdict == "failed") refusal = "REVIEW_FAILED";
      break;
    }
    case StepId::issue:
      if (result.evidence.empty() || detail(result, "certificate_serial").empty()) {
        return evidence_missing(step, "the CA's answer and the certificate serial");
      }
      break;
    default:
      if (result.evidence.empty())
        return evidence_missing(step, "at least one evidence item (image, recording or marker)");
      break;
  }

  if (!refusal.empty()) return Completion{StepOutcome::refused, refusal};
  return Completion{retry ? StepOutcome::retry : StepOutcome::done, {}};
}

Result<void> Transaction::complete_step(StepId step, StepResult result, TimePoint now) {
  auto completion = check_completion(step, result);
  if (!completion) return std::unexpected(completion.error());
  StepRecord& record = records_.back();
  record.ended_at = now;
  record.evidence = std::move(result.evidence);
  record.details = std::move(result.details);
  record.outcome = completion->outcome;
  if (completion->outcome == StepOutcome::refused) {
    close(TxState::refused, completion->refusal_code, now);
  } else if (!next_step()) {
    close(TxState::completed, "COMPLETED", now);
  }
  return {};
}

void Transaction::close(TxState state, std::string code, TimePoint now) {
  if (!records_.empty() && records_.back().outcome == StepOutcome::running) {
    // The interrupted step keeps its start; it ends with the transaction.
    records_.back().outcome = StepOutcome::refused;
    records_.back().ended_at = now;
  }
  state_ = state;
  outcome_code_ = std::move(code);
  closed_at_ = now;
}

Result<void> Transaction::refuse(std::string reason_code, TimePoint now) {
  if (state_ != TxState::open) return fail("TRANSACTION_CLOSED", "transaction " + spec_.id + " is already closed");
  if (reason_code.empty()) return fail("REASON_REQUIRED", "a refusal needs a reason code");
  close(TxState::refused, std::move(reason_code), now);
  return {};
}

Result<void> Transaction::abort(std::string reason_code, TimePoint now) {
  if (state_ != TxState::open) return fail("TRANSACTION_CLOSED", "transaction " + spec_.id + " is already closed");
  if (reason_code.empty()) return fail("REASON_REQUIRED", "an abort needs a reason code");
  close(TxState::aborted, std::move(reason_code), now);
  return {};
}

}  // namespace kiosk::workflow
