// One certificate transaction as a state machine whose steps come from the rule pack (REQ-39).
// The ordered list of mandatory steps is fixed when the transaction opens; a step can start only
// when every step before it is done, so no API can skip a key step or jump to `issue`. Each step
// records who did it (actor and role), when it started and ended, and the evidence it produced.
// Deterministic: time is passed in; persistence is the journal's job (the caller commits each
// StepRecord before it acknowledges the step to anyone).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/operation.hpp"
#include "kiosk/core/policy/document_procedure.hpp"

namespace kiosk::workflow {

// Who acted: the investor at the kiosk, a staff member in a role, or the kiosk itself (a chip
// read, an NCIIS answer, the CA's reply).
enum class ActorKind { investor, staff, system };
struct Actor {
  ActorKind kind = ActorKind::system;
  std::string staff_id;           // staff only
  std::optional<StaffRole> role;  // staff only
};

// An evidence item a step produced, already durable in the evidence store.
struct EvidenceRef {
  std::string kind;    // e.g. "id_chip_read", "nciis_result", "form_image", "recording_segment"
  std::string path;    // relative to the evidence directory
  std::string sha256;  // hex
};

// How an attempt at a step ended: done; failed in a way that may be tried again (an NCIIS
// service error, REQ-06); or refused, which also refuses the transaction.
enum class StepOutcome { running, done, retry, refused };

struct StepRecord {
  StepId step = StepId::consent;
  StepOutcome outcome = StepOutcome::running;
  Actor actor;
  TimePoint started_at{};
  std::optional<TimePoint> ended_at;
  std::vector<EvidenceRef> evidence;
  std::map<std::string, std::string> details;  // e.g. terms_version_hash, decision, review_result
};

struct TransactionSpec {
  std::string id;
  Operation operation = Operation::apply;
  Channel channel = Channel::counter;
  InvestorType investor = InvestorType::natural;
  Medium medium = Medium::hard;
  std::string rule_pack_version;        // REQ-02: every transaction names the pack it ran under
  std::vector<StepId> mandatory_steps;  // from policy evaluation, in order; must end with `issue`
  // From policy evaluation (PolicyDecision::accepted_documents), copied at open time like the
  // steps: the documents this channel accepts and how each is verified (REQ-05, REQ-08).
  policy::AcceptedDocuments accepted_documents;
};

// What completing a step supplies.
struct StepResult {
  std::vector<EvidenceRef> evidence;
  std::map<std::string, std::string> details;
};

class Transaction {
 public:
  // WORKFLOW_INVALID when the step list is empty, repeats a step, lacks `issue` at the end, or
  // puts a camera step before `consent` (REQ-46) or `issue` before `review` (REQ-27), or when it
  // has `idv` but no accepted document with a verification method (nothing could pass it).
  static Result<Transaction> open(TransactionSpec spec, TimePoint now);

  // Starts the next step. Errors: TRANSACTION_CLOSED, STEP_NOT_IN_WORKFLOW, STEP_ALREADY_DONE,
  // STEP_IN_PROGRESS (another step is running), STEP_OUT_OF_ORDER (an earlier step is not done),
  // ACTOR_NOT_ALLOWED (this kind of actor or role cannot do this step), REVIEWER_IS_OPERATOR.
  Result<void> start_step(StepId step, Actor actor, TimePoint now);

  // Completes the running step. EVIDENCE_MISSING names what the step needs (for example a chip
  // read or NCIIS answer for `idv`, the terms version hash for `terms`). A step whose answer is a
  // refusal (consent refused, NCIIS mismatch, review failed) completes and refuses the transaction
  // with its code, keeping the evidence (REQ-06, REQ-46). `idv` (REQ-05, REQ-07, REQ-08) also
  // returns VERIFICATION_METHOD_NOT_ALLOWED (a method the document's procedure does not list) and
  // REVIEWER_IS_OPERATOR (the document reviewer already acted in another role); its refusals are
  // DOCUMENT_NOT_ACCEPTED, ID_DOCUMENT_SUSPECT, DOCUMENT_EXPIRED, NCIIS_MISMATCH, NCIIS_NOT_FOUND
  // and DOCUMENT_REVIEW_REJECTED. The README lists the details each method needs.
  Result<void> complete_step(StepId step, StepResult result, TimePoint now);

  // What complete_step would decide, without changing anything: the step's outcome and, for a
  // refusal, its code; or the error complete_step would return. Lets a caller make the step
  // durable in the journal only when the workflow will accept it.
  struct Completion {
    StepOutcome outcome = StepOutcome::done;
    std::string refusal_code;  // set when outcome is refused
  };
  [[nodiscard]] Result<Completion> check_completion(StepId step, const StepResult& result) const;

  // Ends the transaction early; the steps and evidence recorded so far are kept.
  Result<void> refuse(std::string reason_code, TimePoint now);
  Result<void> abort(std::string reason_code, TimePoint now);

  [[nodiscard]] const TransactionSpec& spec() const { return spec_; }
  [[nodiscard]] TxState state() const { return state_; }
  [[nodiscard]] const std::string& outcome_code() const { return outcome_code_; }
  [[nodiscard]] const std::vector<StepRecord>& steps() const { return records_; }
  [[nodiscard]] std::optional<StepId> next_step() const;
  [[nodiscard]] std::optional<StepId> running_step() const;
  // REQ-46: no camera may start before the investor's separate consent is recorded.
  [[nodiscard]] bool cameras_allowed() const;
  [[nodiscard]] TimePoint opened_at() const { return opened_at_; }
  [[nodiscard]] std::optional<TimePoint> closed_at() const { return closed_at_; }
  // The staff id of the person who confirmed the identity document in a done `idv` step (REQ-08).
  [[nodiscard]] std::optional<std::string> document_reviewer_id() const;

 private:
  Transaction(TransactionSpec spec, TimePoint now) : spec_(std::move(spec)), opened_at_(now) {}
  [[nodiscard]] bool is_done(StepId step) const;
  [[nodiscard]] std::vector<std::string> operator_ids() const;
  void close(TxState state, std::string code, TimePoint now);

  TransactionSpec spec_;
  TxState state_ = TxState::open;
  std::string outcome_code_;
  std::vector<StepRecord> records_;
  TimePoint opened_at_;
  std::optional<TimePoint> closed_at_;
};

// Steps that use a camera (face, form or video): allowed only after consent (REQ-46).
bool step_uses_camera(StepId step);

}  // namespace kiosk::workflow
