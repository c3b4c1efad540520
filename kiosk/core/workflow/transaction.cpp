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

template <NamedEnum E>
std::string names_of(const std::vector<E>& values) {
  std::string out;
  for (const E value : values) out += (out.empty() ? "" : ", ") + std::string(kiosk::to_string(value));
  return out.empty() ? std::string("none") : out;
}

template <NamedEnum E>
std::string all_names() {
  std::string out;
  for (const auto& [value, text] : EnumNames<E>::values) out += (out.empty() ? "" : ", ") + std::string(text);
  return out;
}

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

// Checks that every named detail is present and not empty.
Result<void> require_details(const StepResult& result, std::initializer_list<std::string_view> keys) {
  for (const std::string_view key : keys) {
    if (detail(result, std::string(key)).empty()) {
      return evidence_missing(StepId::idv, "detail '" + std::string(key) + "'");
    }
  }
  return {};
}

Result<void> require_sha256(const StepResult& result, const std::string& key) {
  if (!is_sha256_hex(detail(result, key))) {
    return evidence_missing(StepId::idv, "detail '" + key + "' (a SHA-256 as 64 hex digits)");
  }
  return {};
}

// The evidence the method itself leaves (REQ-05, REQ-09): a chip read records the reader, the time
// and hashes of the chip data and photo; an NCIIS query its request id, time, result and photo hash.
Result<void> check_method_evidence(policy::VerificationMethod method, const StepResult& result) {
  using policy::VerificationMethod;
  switch (method) {
    case VerificationMethod::chip_read:
      if (!has_evidence_kind(result, {"id_chip_read"})) {
        return evidence_missing(StepId::idv,
                                "evidence 'id_chip_read' for a chip read (typed data is not verification, REQ-05)");
      }
      if (auto ok = require_details(result, {"reader_id", "read_at"}); !ok) return ok;
      if (auto ok = require_sha256(result, "chip_data_sha256"); !ok) return ok;
      return require_sha256(result, "chip_photo_sha256");
    case VerificationMethod::nciis: {
      if (!has_evidence_kind(result, {"nciis_result"})) {
        return evidence_missing(StepId::idv,
                                "evidence 'nciis_result' for an NCIIS check (typed data is not verification, REQ-05)");
      }
      if (auto ok = require_details(result, {"nciis_request_id", "nciis_checked_at", "nciis_result"}); !ok) return ok;
      // The photo comes back only on a match; the key is still recorded, empty, otherwise.
      const auto photo = result.details.find("nciis_photo_sha256");
      if (photo == result.details.end()) return evidence_missing(StepId::idv, "detail 'nciis_photo_sha256'");
      if (detail(result, "nciis_result") == "MATCH" || !photo->second.empty()) {
        return require_sha256(result, "nciis_photo_sha256");
      }
      return {};
    }
    case VerificationMethod::document_image:
      // Checked from its images alone, so both sides whatever a procedure says.
      for (const char* kind : {"document_image_front", "document_image_back"}) {
        if (!has_evidence_kind(result, {kind})) {
          return evidence_missing(StepId::idv, "evidence '" + std::string(kind) + "' for a document-image check");
        }
      }
      return {};
  }
  return {};
}

// REQ-05, REQ-06, REQ-07, REQ-08: what `idv` needs, in the order the kiosk learns it: which
// document, by which method, what that method left, what the read itself says, then the images and
// the second person the document's procedure asks for.
Result<Transaction::Completion> check_idv(const TransactionSpec& spec, const StepResult& result,
                                          const std::vector<std::string>& staff_ids) {
  using Completion = Transaction::Completion;
  const StepId step = StepId::idv;
  const std::string document_name = detail(result, "document_type");
  const auto document = parse_enum<DocumentType>(document_name);
  if (!document) {
    return evidence_missing(step,
                            "detail 'document_type' naming the document read (" + all_names<DocumentType>() + ")");
  }
  const auto accepted = spec.accepted_documents.find(*document);
  if (accepted == spec.accepted_documents.end()) return Completion{StepOutcome::refused, "DOCUMENT_NOT_ACCEPTED"};
  const policy::DocumentProcedure& procedure = accepted->second;

  const std::string method_name = detail(result, "verification_method");
  if (method_name.empty()) {
    return evidence_missing(
        step, "detail 'verification_method' (for " + document_name + ": " + names_of(procedure.methods) + ")");
  }
  const auto method = parse_enum<policy::VerificationMethod>(method_name);
  if (!method || std::find(procedure.methods.begin(), procedure.methods.end(), *method) == procedure.methods.end()) {
    return fail("VERIFICATION_METHOD_NOT_ALLOWED", "step 'idv': '" + method_name.substr(0, 40) +
                                                       "' is not a verification method of the " + document_name +
                                                       " procedure; it allows " + names_of(procedure.methods));
  }
  if (auto ok = check_method_evidence(*method, result); !ok) return std::unexpected(ok.error());

  // What the read says ends the business before anyone reviews it.
  if (detail(result, "document_suspect") == "true") return Completion{StepOutcome::refused, "ID_DOCUMENT_SUSPECT"};
  if (detail(result, "document_expired") == "true") return Completion{StepOutcome::refused, "DOCUMENT_EXPIRED"};
  const std::string nciis = detail(result, "nciis_result");
  if (!nciis.empty() && nciis != "MATCH") {
    if (nciis == "MISMATCH" || nciis == "NOT_FOUND") return Completion{StepOutcome::refused, "NCIIS_" + nciis};
    if (nciis != "ERROR") return evidence_missing(step, "an NCIIS result of MATCH, MISMATCH, NOT_FOUND or ERROR");
    return Completion{StepOutcome::retry, {}};  // REQ-06: retry or switch to the card reader, never a bypass
  }

  for (const policy::DocumentSide side : procedure.images) {
    const std::string kind = "document_image_" + std::string(kiosk::to_string(side));
    if (!has_evidence_kind(result, {kind})) {
      return evidence_missing(step, "evidence '" + kind + "': the " + document_name + " procedure images that side");
    }
  }

  // A review given when none is required is still honoured: a rejection is never ignored.
  const std::string reviewer = detail(result, "document_reviewer_id");
  const std::string review = detail(result, "document_review");
  if (procedure.reviewer_confirmation || !reviewer.empty() || !review.empty()) {
    if (reviewer.empty()) {
      return evidence_missing(step, "detail 'document_reviewer_id': the " + document_name +
                                        " procedure needs a reviewer's confirmation (REQ-08)");
    }
    if (review != "confirmed" && review != "rejected") {
      return evidence_missing(step, "detail 'document_review' confirmed or rejected");
    }
    if (std::find(staff_ids.begin(), staff_ids.end(), reviewer) != staff_ids.end()) {
      return fail("REVIEWER_IS_OPERATOR",
                  "the document reviewer took part in this transaction already; the confirmation needs a "
                  "different person (REQ-08)");
    }
    if (review == "rejected") return Completion{StepOutcome::refused, "DOCUMENT_REVIEW_REJECTED"};
  }
  return Completion{StepOutcome::done, {}};
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
  if (seen.contains(StepId::idv)) {
    const bool verifiable = std::any_of(spec.accepted_documents.begin(), spec.accepted_documents.end(),
                                        [](const auto& entry) { return !entry.second.methods.empty(); });
    if (!verifiable) {
      return fail("WORKFLOW_INVALID",
                  "'idv' needs the channel's accepted documents and their verification procedures from the rule "
                  "pack (REQ-08)");
    }
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

std::optional<std::string> Transaction::document_reviewer_id() const {
  for (const auto& record : records_) {
    if (record.step != StepId::idv || record.outcome != StepOutcome::done) continue;
    const auto it = record.details.find("document_reviewer_id");
    if (it != record.details.end() && !it->second.empty()) return it->second;
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
  // REQ-08: whoever confirmed the identity document is a reviewer here and takes no other role.
  if (const auto document_reviewer = document_reviewer_id(); document_reviewer && actor.kind == ActorKind::staff &&
                                                             actor.role && actor.staff_id == *document_reviewer &&
                                                             *actor.role != StaffRole::reviewer) {
    return fail("REVIEWER_IS_OPERATOR", "the person who confirmed the identity document cannot also act as " +
                                            std::string(kiosk::to_string(*actor.role)) + " (REQ-08)");
  }
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
    case StepId::idv: return check_idv(spec_, result, operator_ids());
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
  return Completion{StepOutcome::done, {}};
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
