// The transaction state machine against the REQ rows it owns. Step lists are written here by
// hand (not taken from the rule pack) so that a wrong pack cannot make these tests pass.
#include "kiosk/core/workflow/transaction.hpp"

#include <gtest/gtest.h>

namespace kiosk::workflow {
namespace {

using std::chrono::seconds;
using enum StepId;

const std::string kTermsHash(64, 'a');

const std::vector<StepId> kWitnessSteps{
    consent,           terms,       idv,    witness_intro, identity_check, form_capture, witness_signing,
    staff_countersign, willingness, review, issue};
const std::vector<StepId> kCounterSteps{consent,           terms,  idv,  identity_check, form_capture,
                                        staff_countersign, review, issue};

Actor investor() { return {.kind = ActorKind::investor, .staff_id = {}, .role = std::nullopt}; }
Actor system_actor() { return {.kind = ActorKind::system, .staff_id = {}, .role = std::nullopt}; }
Actor staff(std::string id, StaffRole role) {
  return {.kind = ActorKind::staff, .staff_id = std::move(id), .role = role};
}

EvidenceRef evidence(std::string kind) {
  return {.kind = std::move(kind), .path = "tx/e.bin", .sha256 = std::string(64, 'f')};
}

class TransactionTest : public ::testing::Test {
 protected:
  TimePoint now{seconds{1'700'000'000}};

  Transaction open(Channel channel, std::vector<StepId> steps, Operation op = Operation::apply) {
    auto tx = Transaction::open({.id = "TX-1",
                                 .operation = op,
                                 .channel = channel,
                                 .investor = InvestorType::natural,
                                 .medium = Medium::hard,
                                 .rule_pack_version = "2026.1",
                                 .mandatory_steps = std::move(steps)},
                                now);
    EXPECT_TRUE(tx) << tx.error().to_string();
    return std::move(*tx);
  }

  // The actor and a result that satisfies each step, for walking a transaction to its end.
  static std::pair<Actor, StepResult> good(StepId step, Channel channel) {
    switch (step) {
      case consent: return {investor(), {.evidence = {}, .details = {{"decision", "granted"}}}};
      case terms:
        return {investor(),
                {.evidence = {}, .details = {{"decision", "accepted"}, {"terms_version_hash", kTermsHash}}}};
      case idv: return {system_actor(), {.evidence = {evidence("id_chip_read")}, .details = {}}};
      case witness_intro:
      case witness_signing:
        return {staff("W1", StaffRole::witness), {.evidence = {evidence("video_marker")}, .details = {}}};
      case identity_check:
        return {channel == Channel::witness ? staff("W1", StaffRole::witness)
                : channel == Channel::other ? staff("O1", StaffRole::operator_)
                                            : staff("S1", StaffRole::onsite),
                {.evidence = {evidence("video_marker")}, .details = {{"face_match_confirmed", "true"}}}};
      case staff_countersign:
        return {staff("S1", StaffRole::onsite), {.evidence = {evidence("signature_image")}, .details = {}}};
      case review:
        return {staff("R1", StaffRole::reviewer), {.evidence = {}, .details = {{"review_result", "passed"}}}};
      case issue:
        return {system_actor(), {.evidence = {evidence("ca_response")}, .details = {{"certificate_serial", "01AB"}}}};
      case form_capture: return {system_actor(), {.evidence = {evidence("form_image")}, .details = {}}};
      case institution_documents:
        return {staff("S1", StaffRole::onsite), {.evidence = {evidence("power_of_attorney")}, .details = {}}};
      default: return {investor(), {.evidence = {evidence("video_marker")}, .details = {}}};
    }
  }

  void do_step(Transaction& tx, StepId step) {
    auto [actor, result] = good(step, tx.spec().channel);
    ASSERT_TRUE(tx.start_step(step, actor, now)) << to_string(step);
    now += seconds{5};
    ASSERT_TRUE(tx.complete_step(step, result, now)) << to_string(step);
  }

  void walk_until(Transaction& tx, StepId stop) {
    while (tx.next_step() && *tx.next_step() != stop) do_step(tx, *tx.next_step());
  }
};

TEST_F(TransactionTest, WitnessTransactionRecordsEveryStepAndCompletes) {
  auto tx = open(Channel::witness, kWitnessSteps);
  for (const StepId step : kWitnessSteps) do_step(tx, step);
  EXPECT_EQ(tx.state(), TxState::completed);
  ASSERT_EQ(tx.steps().size(), kWitnessSteps.size());
  for (std::size_t i = 0; i < kWitnessSteps.size(); ++i) {
    const StepRecord& record = tx.steps()[i];
    EXPECT_EQ(record.step, kWitnessSteps[i]);
    EXPECT_EQ(record.outcome, StepOutcome::done);
    ASSERT_TRUE(record.ended_at);
    EXPECT_GT(*record.ended_at, record.started_at);
  }
  EXPECT_EQ(tx.steps()[3].actor.staff_id, "W1");
  EXPECT_EQ(tx.steps()[3].actor.role, StaffRole::witness);
}

// REQ-39: no API reaches `issue` (or any later step) before the earlier mandatory steps.
TEST_F(TransactionTest, Req39_CannotJumpToIssue) {
  auto tx = open(Channel::counter, kCounterSteps);
  const auto jumped = tx.start_step(issue, system_actor(), now);
  ASSERT_FALSE(jumped);
  EXPECT_EQ(jumped.error().code, "STEP_OUT_OF_ORDER");
  walk_until(tx, review);
  EXPECT_EQ(tx.start_step(issue, system_actor(), now).error().code, "STEP_OUT_OF_ORDER");
  EXPECT_EQ(tx.state(), TxState::open);
}

TEST_F(TransactionTest, Req39_StepsOutsideThePackAreRefused) {
  auto tx = open(Channel::counter, kCounterSteps);
  EXPECT_EQ(tx.start_step(witness_intro, staff("W1", StaffRole::witness), now).error().code, "STEP_NOT_IN_WORKFLOW");
}

TEST_F(TransactionTest, Req39_AStepListWithoutIssueLastOrReviewBeforeIssueIsInvalid) {
  EXPECT_EQ(
      Transaction::open({.id = "T", .rule_pack_version = "1", .mandatory_steps = {consent, review}}, now).error().code,
      "WORKFLOW_INVALID");
  EXPECT_EQ(
      Transaction::open({.id = "T", .rule_pack_version = "1", .mandatory_steps = {consent, issue}}, now).error().code,
      "WORKFLOW_INVALID");
  EXPECT_EQ(
      Transaction::open({.id = "T", .rule_pack_version = "1", .mandatory_steps = {consent, review, review, issue}}, now)
          .error()
          .code,
      "WORKFLOW_INVALID");
}

// REQ-02: every transaction names the rule-pack version.
TEST_F(TransactionTest, Req02_RulePackVersionIsRequired) {
  EXPECT_EQ(Transaction::open({.id = "T", .rule_pack_version = "", .mandatory_steps = kCounterSteps}, now).error().code,
            "WORKFLOW_INVALID");
}

// REQ-46: cameras only after consent; a refusal ends the transaction cleanly with its record.
TEST_F(TransactionTest, Req46_ConsentRefusedKeepsCamerasOffAndRefuses) {
  auto tx = open(Channel::witness, kWitnessSteps);
  EXPECT_FALSE(tx.cameras_allowed());
  ASSERT_TRUE(tx.start_step(consent, investor(), now));
  ASSERT_TRUE(tx.complete_step(consent, {.evidence = {}, .details = {{"decision", "refused"}}}, now));
  EXPECT_EQ(tx.state(), TxState::refused);
  EXPECT_EQ(tx.outcome_code(), "CONSENT_REFUSED");
  EXPECT_FALSE(tx.cameras_allowed());
  ASSERT_EQ(tx.steps().size(), 1u);
  EXPECT_EQ(tx.steps()[0].outcome, StepOutcome::refused);
}

TEST_F(TransactionTest, Req46_ACameraStepBeforeConsentIsAnInvalidWorkflow) {
  const auto tx = Transaction::open(
      {.id = "T", .rule_pack_version = "1", .mandatory_steps = {form_capture, consent, review, issue}}, now);
  ASSERT_FALSE(tx);
  EXPECT_NE(tx.error().message.find("REQ-46"), std::string::npos);
}

// REQ-51: terms acceptance carries the terms' version hash.
TEST_F(TransactionTest, Req51_TermsNeedTheirVersionHash) {
  auto tx = open(Channel::counter, kCounterSteps);
  do_step(tx, consent);
  ASSERT_TRUE(tx.start_step(terms, investor(), now));
  const auto missing = tx.complete_step(terms, {.evidence = {}, .details = {{"decision", "accepted"}}}, now);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "EVIDENCE_MISSING");
  ASSERT_TRUE(tx.complete_step(
      terms, {.evidence = {}, .details = {{"decision", "accepted"}, {"terms_version_hash", kTermsHash}}}, now));
  EXPECT_EQ(tx.steps()[1].details.at("terms_version_hash"), kTermsHash);
}

// REQ-05: typed data is never identity verification.
TEST_F(TransactionTest, Req05_IdvNeedsAChipReadOrNciisAnswer) {
  auto tx = open(Channel::counter, kCounterSteps);
  walk_until(tx, idv);
  ASSERT_TRUE(tx.start_step(idv, system_actor(), now));
  const auto typed = tx.complete_step(idv, {.evidence = {evidence("typed_id_number")}, .details = {}}, now);
  ASSERT_FALSE(typed);
  EXPECT_EQ(typed.error().code, "EVIDENCE_MISSING");
  EXPECT_EQ(tx.next_step(), idv);
}

// REQ-06: only MATCH passes; MISMATCH / NOT_FOUND end the transaction with the evidence; ERROR may be retried.
TEST_F(TransactionTest, Req06_NciisResults) {
  for (const char* result : {"MISMATCH", "NOT_FOUND"}) {
    auto tx = open(Channel::other, {consent, terms, idv, identity_check, form_capture, willingness, review, issue});
    walk_until(tx, idv);
    ASSERT_TRUE(tx.start_step(idv, system_actor(), now));
    ASSERT_TRUE(
        tx.complete_step(idv, {.evidence = {evidence("nciis_result")}, .details = {{"nciis_result", result}}}, now));
    EXPECT_EQ(tx.state(), TxState::refused);
    EXPECT_EQ(tx.outcome_code(), std::string("NCIIS_") + result);
    EXPECT_EQ(tx.steps().back().evidence.size(), 1u);
  }
  auto tx = open(Channel::other, {consent, terms, idv, identity_check, form_capture, willingness, review, issue});
  walk_until(tx, idv);
  ASSERT_TRUE(tx.start_step(idv, system_actor(), now));
  ASSERT_TRUE(
      tx.complete_step(idv, {.evidence = {evidence("nciis_result")}, .details = {{"nciis_result", "ERROR"}}}, now));
  EXPECT_EQ(tx.state(), TxState::open);
  EXPECT_EQ(tx.steps().back().outcome, StepOutcome::retry);
  EXPECT_EQ(tx.next_step(), idv);  // never a bypass to the next step
  ASSERT_TRUE(tx.start_step(idv, system_actor(), now));
  ASSERT_TRUE(tx.complete_step(idv, {.evidence = {evidence("id_chip_read")}, .details = {}}, now));
  EXPECT_EQ(tx.next_step(), identity_check);
}

// REQ-07: an expired document is refused; the face match needs a person's confirmation.
TEST_F(TransactionTest, Req07_ExpiredDocumentAndFaceConfirmation) {
  auto tx = open(Channel::counter, kCounterSteps);
  walk_until(tx, idv);
  ASSERT_TRUE(tx.start_step(idv, system_actor(), now));
  ASSERT_TRUE(
      tx.complete_step(idv, {.evidence = {evidence("id_chip_read")}, .details = {{"document_expired", "true"}}}, now));
  EXPECT_EQ(tx.outcome_code(), "DOCUMENT_EXPIRED");

  auto second = open(Channel::counter, kCounterSteps);
  walk_until(second, identity_check);
  ASSERT_TRUE(second.start_step(identity_check, staff("S1", StaffRole::onsite), now));
  EXPECT_EQ(
      second.complete_step(identity_check, {.evidence = {evidence("video_marker")}, .details = {}}, now).error().code,
      "EVIDENCE_MISSING");
}

// REQ-14: in the witness channel nothing after the introduction happens before it.
TEST_F(TransactionTest, Req14_WitnessIntroductionComesFirst) {
  auto tx = open(Channel::witness, kWitnessSteps);
  walk_until(tx, witness_intro);
  EXPECT_EQ(tx.start_step(identity_check, staff("W1", StaffRole::witness), now).error().code, "STEP_OUT_OF_ORDER");
  EXPECT_EQ(tx.start_step(witness_intro, staff("S1", StaffRole::onsite), now).error().code, "ACTOR_NOT_ALLOWED");
}

// REQ-19: the identity check in the witness channel is the witness's own duty.
TEST_F(TransactionTest, Req19_OnlyTheWitnessChecksIdentityInTheWitnessChannel) {
  auto tx = open(Channel::witness, kWitnessSteps);
  walk_until(tx, identity_check);
  EXPECT_EQ(tx.start_step(identity_check, staff("S1", StaffRole::onsite), now).error().code, "ACTOR_NOT_ALLOWED");
}

// REQ-27: the reviewer is a different person from the operator, even under another role.
TEST_F(TransactionTest, Req27_ReviewerMustBeADifferentPerson) {
  auto tx = open(Channel::other, {consent, terms, idv, identity_check, form_capture, willingness, review, issue});
  walk_until(tx, review);
  const auto same = tx.start_step(review, staff("O1", StaffRole::reviewer), now);
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code, "REVIEWER_IS_OPERATOR");
  EXPECT_EQ(tx.start_step(review, staff("O2", StaffRole::operator_), now).error().code, "ACTOR_NOT_ALLOWED");
  ASSERT_TRUE(tx.start_step(review, staff("R1", StaffRole::reviewer), now));
}

TEST_F(TransactionTest, Req27_FailedReviewRefusesBeforeSubmission) {
  auto tx = open(Channel::counter, kCounterSteps);
  walk_until(tx, review);
  ASSERT_TRUE(tx.start_step(review, staff("R1", StaffRole::reviewer), now));
  ASSERT_TRUE(tx.complete_step(review, {.evidence = {}, .details = {{"review_result", "failed"}}}, now));
  EXPECT_EQ(tx.outcome_code(), "REVIEW_FAILED");
  EXPECT_EQ(tx.start_step(issue, system_actor(), now).error().code, "TRANSACTION_CLOSED");
}

// REQ-28: the willingness statement leaves a recorded marker.
TEST_F(TransactionTest, Req28_WillingnessNeedsItsRecording) {
  auto tx = open(Channel::other, {consent, terms, idv, identity_check, form_capture, willingness, review, issue});
  walk_until(tx, willingness);
  ASSERT_TRUE(tx.start_step(willingness, investor(), now));
  EXPECT_EQ(tx.complete_step(willingness, {}, now).error().code, "EVIDENCE_MISSING");
}

// Refusals and aborts keep the evidence recorded so far.
TEST_F(TransactionTest, AbortKeepsStepsAndEndsTheRunningOne) {
  auto tx = open(Channel::counter, kCounterSteps);
  walk_until(tx, form_capture);
  ASSERT_TRUE(tx.start_step(form_capture, system_actor(), now));
  now += seconds{3};
  ASSERT_TRUE(tx.abort("KIOSK_RESTARTED", now));
  EXPECT_EQ(tx.state(), TxState::aborted);
  EXPECT_EQ(tx.outcome_code(), "KIOSK_RESTARTED");
  EXPECT_EQ(tx.steps().size(), 5u);
  EXPECT_EQ(tx.steps().back().outcome, StepOutcome::refused);
  EXPECT_EQ(tx.steps().back().ended_at, now);
  EXPECT_EQ(tx.steps()[2].evidence.size(), 1u);
  EXPECT_EQ(tx.abort("AGAIN", now).error().code, "TRANSACTION_CLOSED");
  EXPECT_EQ(tx.refuse("", now).error().code, "TRANSACTION_CLOSED");
}

TEST_F(TransactionTest, OneStepAtATime) {
  auto tx = open(Channel::counter, kCounterSteps);
  ASSERT_TRUE(tx.start_step(consent, investor(), now));
  EXPECT_EQ(tx.start_step(terms, investor(), now).error().code, "STEP_IN_PROGRESS");
  EXPECT_EQ(tx.complete_step(terms, {}, now).error().code, "STEP_NOT_RUNNING");
}

}  // namespace
}  // namespace kiosk::workflow
