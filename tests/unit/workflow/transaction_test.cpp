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
const std::vector<StepId> kRemoteSteps{consent, terms, idv, identity_check, form_capture, willingness, review, issue};

Actor investor() { return {.kind = ActorKind::investor, .staff_id = {}, .role = std::nullopt}; }
Actor system_actor() { return {.kind = ActorKind::system, .staff_id = {}, .role = std::nullopt}; }
Actor staff(std::string id, StaffRole role) {
  return {.kind = ActorKind::staff, .staff_id = std::move(id), .role = role};
}

EvidenceRef evidence(std::string kind) {
  return {.kind = std::move(kind), .path = "tx/e.bin", .sha256 = std::string(64, 'f')};
}

// REQ-08 procedures, written here by hand: the PRC ID by reader or NCIIS; the permits from images of
// both sides; the chip-readable residence and PR cards by reader plus images; both with a reviewer.
using policy::DocumentSide;
using policy::VerificationMethod;
const policy::DocumentProcedure kPrcIdProcedure{.methods = {VerificationMethod::chip_read, VerificationMethod::nciis},
                                                .images = {},
                                                .reviewer_confirmation = false};
const policy::DocumentProcedure kPermitProcedure{.methods = {VerificationMethod::document_image},
                                                 .images = {DocumentSide::front, DocumentSide::back},
                                                 .reviewer_confirmation = true};
const policy::DocumentProcedure kChipCardProcedure{.methods = {VerificationMethod::chip_read},
                                                   .images = {DocumentSide::front, DocumentSide::back},
                                                   .reviewer_confirmation = true};
const policy::AcceptedDocuments kAttendedDocuments{{DocumentType::prc_id, kPrcIdProcedure},
                                                   {DocumentType::hkmo_permit, kPermitProcedure},
                                                   {DocumentType::tw_permit, kPermitProcedure},
                                                   {DocumentType::foreign_pr, kChipCardProcedure},
                                                   {DocumentType::hkmotw_residence, kChipCardProcedure}};
const policy::AcceptedDocuments kRemoteDocuments{{DocumentType::prc_id, kPrcIdProcedure}};

// A chip read of a PRC ID card with everything REQ-05 asks the reader to record.
StepResult chip_read(std::string document = "prc-id") {
  return {.evidence = {evidence("id_chip_read")},
          .details = {{"document_type", std::move(document)},
                      {"verification_method", "chip-read"},
                      {"reader_id", "SAM-0551-01"},
                      {"read_at", "2023-11-14T22:13:20Z"},
                      {"chip_data_sha256", std::string(64, 'c')},
                      {"chip_photo_sha256", std::string(64, 'd')}}};
}

// An NCIIS answer; the photo comes back only on a match.
StepResult nciis_answer(const std::string& result) {
  return {.evidence = {evidence("nciis_result")},
          .details = {{"document_type", "prc-id"},
                      {"verification_method", "nciis"},
                      {"nciis_request_id", "NCIIS-REQ-77"},
                      {"nciis_checked_at", "2023-11-14T22:13:20Z"},
                      {"nciis_result", result},
                      {"nciis_photo_sha256", result == "MATCH" ? std::string(64, 'e') : std::string()}}};
}

// A Taiwan permit checked from both sides' images and confirmed by a reviewer (REQ-08).
StepResult tw_permit(std::string reviewer = "R2", std::string review = "confirmed") {
  return {.evidence = {evidence("document_image_front"), evidence("document_image_back")},
          .details = {{"document_type", "tw-permit"},
                      {"verification_method", "document-image"},
                      {"document_reviewer_id", std::move(reviewer)},
                      {"document_review", std::move(review)}}};
}

StepResult without_detail(StepResult result, const std::string& key) {
  result.details.erase(key);
  return result;
}

StepResult without_evidence(StepResult result, const std::string& kind) {
  std::erase_if(result.evidence, [&](const EvidenceRef& e) { return e.kind == kind; });
  return result;
}

class TransactionTest : public ::testing::Test {
 protected:
  TimePoint now{seconds{1'700'000'000}};

  Transaction open(Channel channel, std::vector<StepId> steps, Operation op = Operation::apply) {
    auto tx =
        Transaction::open({.id = "TX-1",
                           .operation = op,
                           .channel = channel,
                           .investor = InvestorType::natural,
                           .medium = Medium::hard,
                           .rule_pack_version = "2026.1",
                           .mandatory_steps = std::move(steps),
                           .accepted_documents = channel == Channel::other ? kRemoteDocuments : kAttendedDocuments},
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
      case idv: return {system_actor(), chip_read()};
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

  // Opens a transaction and walks it to a running `idv` step.
  Transaction at_idv(Channel channel, std::vector<StepId> steps) {
    auto tx = open(channel, std::move(steps));
    walk_until(tx, idv);
    EXPECT_TRUE(tx.start_step(idv, system_actor(), now));
    return tx;
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
  EXPECT_EQ(Transaction::open({.id = "T",
                               .rule_pack_version = "1",
                               .mandatory_steps = {consent, review},
                               .accepted_documents = kAttendedDocuments},
                              now)
                .error()
                .code,
            "WORKFLOW_INVALID");
  EXPECT_EQ(Transaction::open({.id = "T",
                               .rule_pack_version = "1",
                               .mandatory_steps = {consent, issue},
                               .accepted_documents = kAttendedDocuments},
                              now)
                .error()
                .code,
            "WORKFLOW_INVALID");
  EXPECT_EQ(Transaction::open({.id = "T",
                               .rule_pack_version = "1",
                               .mandatory_steps = {consent, review, review, issue},
                               .accepted_documents = kAttendedDocuments},
                              now)
                .error()
                .code,
            "WORKFLOW_INVALID");
}

// REQ-02: every transaction names the rule-pack version.
TEST_F(TransactionTest, Req02_RulePackVersionIsRequired) {
  EXPECT_EQ(Transaction::open({.id = "T",
                               .rule_pack_version = "",
                               .mandatory_steps = kCounterSteps,
                               .accepted_documents = kAttendedDocuments},
                              now)
                .error()
                .code,
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
  const auto tx = Transaction::open({.id = "T",
                                     .rule_pack_version = "1",
                                     .mandatory_steps = {form_capture, consent, review, issue},
                                     .accepted_documents = kAttendedDocuments},
                                    now);
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

// REQ-05: typed data is never identity verification, whatever details come with it.
TEST_F(TransactionTest, Req05_TypedIdentityNeverPassesIdv) {
  auto tx = at_idv(Channel::counter, kCounterSteps);
  StepResult typed = chip_read();
  typed.evidence = {evidence("typed_identity")};
  const auto with_typed_evidence = tx.complete_step(idv, typed, now);
  ASSERT_FALSE(with_typed_evidence);
  EXPECT_EQ(with_typed_evidence.error().code, "EVIDENCE_MISSING");
  EXPECT_NE(with_typed_evidence.error().message.find("id_chip_read"), std::string::npos);
  typed.evidence.clear();
  EXPECT_EQ(tx.complete_step(idv, typed, now).error().code, "EVIDENCE_MISSING");  // details only
  StepResult typed_nciis = nciis_answer("MATCH");
  typed_nciis.evidence = {evidence("typed_identity")};
  EXPECT_EQ(tx.complete_step(idv, typed_nciis, now).error().code, "EVIDENCE_MISSING");
  EXPECT_EQ(tx.next_step(), idv);
  EXPECT_EQ(tx.steps().back().outcome, StepOutcome::running);
  ASSERT_TRUE(tx.complete_step(idv, chip_read(), now));
  EXPECT_EQ(tx.next_step(), identity_check);
}

// REQ-05, REQ-09: a chip read records the reader, the time and hashes of the chip data and photo.
TEST_F(TransactionTest, Req05_ChipReadNeedsEachOfItsDetails) {
  auto tx = at_idv(Channel::counter, kCounterSteps);
  for (const char* key :
       {"document_type", "verification_method", "reader_id", "chip_data_sha256", "chip_photo_sha256", "read_at"}) {
    const auto missing = tx.complete_step(idv, without_detail(chip_read(), key), now);
    ASSERT_FALSE(missing) << key;
    EXPECT_EQ(missing.error().code, "EVIDENCE_MISSING") << key;
    EXPECT_NE(missing.error().message.find(key), std::string::npos) << missing.error().message;
  }
  StepResult short_hash = chip_read();
  short_hash.details["chip_photo_sha256"] = "abc";
  EXPECT_EQ(tx.complete_step(idv, short_hash, now).error().code, "EVIDENCE_MISSING");
  EXPECT_EQ(tx.next_step(), idv);
}

// REQ-05, REQ-09: an NCIIS query records its request id, time, result code and the photo's hash.
TEST_F(TransactionTest, Req05_NciisAnswerNeedsEachOfItsDetails) {
  auto tx = at_idv(Channel::other, kRemoteSteps);
  for (const char* key : {"nciis_request_id", "nciis_checked_at", "nciis_result", "nciis_photo_sha256"}) {
    const auto missing = tx.complete_step(idv, without_detail(nciis_answer("MATCH"), key), now);
    ASSERT_FALSE(missing) << key;
    EXPECT_EQ(missing.error().code, "EVIDENCE_MISSING") << key;
    EXPECT_NE(missing.error().message.find(key), std::string::npos) << missing.error().message;
  }
  StepResult match_without_photo = nciis_answer("MATCH");
  match_without_photo.details["nciis_photo_sha256"] = "";
  EXPECT_EQ(tx.complete_step(idv, match_without_photo, now).error().code, "EVIDENCE_MISSING");
  ASSERT_TRUE(tx.complete_step(idv, nciis_answer("MATCH"), now));
  EXPECT_EQ(tx.next_step(), identity_check);
}

// REQ-06: only MATCH passes; MISMATCH / NOT_FOUND end the transaction with the evidence; ERROR may be retried.
TEST_F(TransactionTest, Req06_NciisResults) {
  for (const char* result : {"MISMATCH", "NOT_FOUND"}) {
    auto tx = at_idv(Channel::other, kRemoteSteps);
    ASSERT_TRUE(tx.complete_step(idv, nciis_answer(result), now));  // no photo comes back: still complete
    EXPECT_EQ(tx.state(), TxState::refused);
    EXPECT_EQ(tx.outcome_code(), std::string("NCIIS_") + result);
    EXPECT_EQ(tx.steps().back().evidence.size(), 1u);
  }
  auto tx = at_idv(Channel::other, kRemoteSteps);
  ASSERT_TRUE(tx.complete_step(idv, nciis_answer("ERROR"), now));
  EXPECT_EQ(tx.state(), TxState::open);
  EXPECT_EQ(tx.steps().back().outcome, StepOutcome::retry);
  EXPECT_EQ(tx.next_step(), idv);  // never a bypass to the next step
  ASSERT_TRUE(tx.start_step(idv, system_actor(), now));
  ASSERT_TRUE(tx.complete_step(idv, chip_read(), now));
  EXPECT_EQ(tx.next_step(), identity_check);
}

// REQ-07: an expired document is refused; the face match needs a person's confirmation.
TEST_F(TransactionTest, Req07_ExpiredDocumentAndFaceConfirmation) {
  auto tx = at_idv(Channel::counter, kCounterSteps);
  StepResult expired = chip_read();
  expired.details["document_expired"] = "true";
  ASSERT_TRUE(tx.complete_step(idv, expired, now));
  EXPECT_EQ(tx.outcome_code(), "DOCUMENT_EXPIRED");

  auto second = open(Channel::counter, kCounterSteps);
  walk_until(second, identity_check);
  ASSERT_TRUE(second.start_step(identity_check, staff("S1", StaffRole::onsite), now));
  EXPECT_EQ(
      second.complete_step(identity_check, {.evidence = {evidence("video_marker")}, .details = {}}, now).error().code,
      "EVIDENCE_MISSING");
}

// A chip whose number fails its check digit, or a SAM that flags the card, refuses the transaction.
TEST_F(TransactionTest, Req05_SuspectDocumentIsRefused) {
  auto tx = at_idv(Channel::counter, kCounterSteps);
  StepResult suspect = chip_read();
  suspect.details["document_suspect"] = "true";
  ASSERT_TRUE(tx.complete_step(idv, suspect, now));
  EXPECT_EQ(tx.state(), TxState::refused);
  EXPECT_EQ(tx.outcome_code(), "ID_DOCUMENT_SUSPECT");
  EXPECT_EQ(tx.steps().back().evidence.size(), 1u);
}

// REQ-08: the Taiwan-permit path, imaged on both sides and confirmed by a reviewer, completes.
TEST_F(TransactionTest, Req08_TaiwanPermitWithImagesAndReviewerPasses) {
  auto tx = at_idv(Channel::counter, kCounterSteps);
  ASSERT_TRUE(tx.complete_step(idv, tw_permit(), now));
  EXPECT_EQ(tx.steps().back().details.at("verification_method"), "document-image");
  EXPECT_EQ(tx.document_reviewer_id(), "R2");
  while (tx.next_step()) do_step(tx, *tx.next_step());
  EXPECT_EQ(tx.state(), TxState::completed);
}

// REQ-08: without the reviewer's confirmation the Taiwan-permit path is blocked.
TEST_F(TransactionTest, Req08_TaiwanPermitWithoutReviewerIsBlocked) {
  auto tx = at_idv(Channel::counter, kCounterSteps);
  for (const char* key : {"document_reviewer_id", "document_review"}) {
    const auto missing = tx.complete_step(idv, without_detail(tw_permit(), key), now);
    ASSERT_FALSE(missing) << key;
    EXPECT_EQ(missing.error().code, "EVIDENCE_MISSING");
    EXPECT_NE(missing.error().message.find(key), std::string::npos) << missing.error().message;
  }
  EXPECT_EQ(tx.complete_step(idv, tw_permit("R2", "looks fine"), now).error().code, "EVIDENCE_MISSING");
  EXPECT_EQ(tx.next_step(), idv);
}

TEST_F(TransactionTest, Req08_ReviewerRejectionRefuses) {
  auto tx = at_idv(Channel::counter, kCounterSteps);
  ASSERT_TRUE(tx.complete_step(idv, tw_permit("R2", "rejected"), now));
  EXPECT_EQ(tx.state(), TxState::refused);
  EXPECT_EQ(tx.outcome_code(), "DOCUMENT_REVIEW_REJECTED");
  EXPECT_EQ(tx.steps().back().evidence.size(), 2u);
}

// REQ-08: both sides are imaged; the procedure's images are evidence kinds document_image_<side>.
TEST_F(TransactionTest, Req08_MissingBackImageIsRefused) {
  auto tx = at_idv(Channel::counter, kCounterSteps);
  const auto permit = tx.complete_step(idv, without_evidence(tw_permit(), "document_image_back"), now);
  ASSERT_FALSE(permit);
  EXPECT_EQ(permit.error().code, "EVIDENCE_MISSING");
  EXPECT_NE(permit.error().message.find("document_image_back"), std::string::npos);
  // A chip-readable card is read by the reader and imaged too.
  StepResult residence = chip_read("hkmotw-residence");
  residence.evidence.push_back(evidence("document_image_front"));
  residence.details["document_reviewer_id"] = "R2";
  residence.details["document_review"] = "confirmed";
  const auto card = tx.complete_step(idv, residence, now);
  ASSERT_FALSE(card);
  EXPECT_EQ(card.error().code, "EVIDENCE_MISSING");
  EXPECT_NE(card.error().message.find("document_image_back"), std::string::npos);
  residence.evidence.push_back(evidence("document_image_back"));
  ASSERT_TRUE(tx.complete_step(idv, residence, now));
}

// REQ-08: the method used is one the document's procedure lists.
TEST_F(TransactionTest, Req08_MethodOutsideTheProcedureIsRefused) {
  auto tx = at_idv(Channel::counter, kCounterSteps);
  StepResult permit_by_chip = tw_permit();
  permit_by_chip.evidence.push_back(evidence("id_chip_read"));
  permit_by_chip.details["verification_method"] = "chip-read";
  EXPECT_EQ(tx.complete_step(idv, permit_by_chip, now).error().code, "VERIFICATION_METHOD_NOT_ALLOWED");
  // REQ-05: a PRC ID card is never verified from pictures of it.
  StepResult id_by_image = tw_permit();
  id_by_image.details["document_type"] = "prc-id";
  EXPECT_EQ(tx.complete_step(idv, id_by_image, now).error().code, "VERIFICATION_METHOD_NOT_ALLOWED");
  StepResult unknown = chip_read();
  unknown.details["verification_method"] = "looked-at-it";
  EXPECT_EQ(tx.complete_step(idv, unknown, now).error().code, "VERIFICATION_METHOD_NOT_ALLOWED");
  EXPECT_EQ(tx.next_step(), idv);
}

// REQ-08: a document the channel does not accept refuses the transaction (Taiwan permit, remote).
TEST_F(TransactionTest, Req08_DocumentNotAcceptedInTheChannelIsRefused) {
  auto tx = at_idv(Channel::other, kRemoteSteps);
  ASSERT_TRUE(tx.complete_step(idv, tw_permit(), now));
  EXPECT_EQ(tx.state(), TxState::refused);
  EXPECT_EQ(tx.outcome_code(), "DOCUMENT_NOT_ACCEPTED");
}

// REQ-08 / REQ-27: the document reviewer is a second person, never someone acting in another role.
TEST_F(TransactionTest, Req08_DocumentReviewerWhoAlreadyActedIsRefused) {
  // A pack may put the witness's introduction before the ID check.
  auto tx =
      at_idv(Channel::witness, (std::vector<StepId>{consent, terms, witness_intro, idv, identity_check, form_capture,
                                                    witness_signing, staff_countersign, willingness, review, issue}));
  const auto same = tx.complete_step(idv, tw_permit("W1"), now);
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().code, "REVIEWER_IS_OPERATOR");
  ASSERT_TRUE(tx.complete_step(idv, tw_permit("R2"), now));
}

TEST_F(TransactionTest, Req08_DocumentReviewerCannotActInAnotherRoleLater) {
  auto tx = at_idv(Channel::counter, kCounterSteps);
  ASSERT_TRUE(tx.complete_step(idv, tw_permit("S9"), now));
  const auto later = tx.start_step(identity_check, staff("S9", StaffRole::onsite), now);
  ASSERT_FALSE(later);
  EXPECT_EQ(later.error().code, "REVIEWER_IS_OPERATOR");
  ASSERT_TRUE(tx.start_step(identity_check, staff("S1", StaffRole::onsite), now));
}

// Without the channel's procedures nothing could pass `idv`: such a transaction never opens.
TEST_F(TransactionTest, Req08_IdvWithoutAcceptedDocumentsIsAnInvalidWorkflow) {
  const auto tx = Transaction::open(
      {.id = "T", .rule_pack_version = "1", .mandatory_steps = kCounterSteps, .accepted_documents = {}}, now);
  ASSERT_FALSE(tx);
  EXPECT_EQ(tx.error().code, "WORKFLOW_INVALID");
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
  auto tx = open(Channel::other, kRemoteSteps);
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
  auto tx = open(Channel::other, kRemoteSteps);
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
