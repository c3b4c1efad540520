// Certificate lifecycle (REQ-31..38). The expected transition table is written here by hand from
// requirements.md (REQ-31 and M3), not derived from the code under test.
#include "kiosk/core/certificate/certificate.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace kiosk::certificate {
namespace {

using namespace std::chrono;

const TimePoint kNow{sys_days{year{2026} / 11 / 24} + hours{10}};
const std::vector<std::string> kFreezeReasons{"LOST_MEDIUM", "SUSPECTED_COMPROMISE", "HOLDER_REQUEST", "OTHER"};
const std::vector<std::string> kReissueReasons{"LOST", "DAMAGED", "LOCKED"};
const RenewalWindow kWindow{days{30}};

const Subject kPerson{InvestorType::natural, DocumentType::prc_id, "11010119900307123X"};
const Requester kHolder{InvestorType::natural, DocumentType::prc_id, "11010119900307123x", "", false};

CertificateRecord record(CertState state, TimePoint not_after = kNow + days{10}) {
  CertificateRecord out;
  out.serial = "C-OLD";
  out.subject = kPerson;
  out.kind = SubjectKind::person;
  out.medium = Medium::hard;
  out.state = state;
  out.not_after = not_after;
  if (state == CertState::frozen) out.freeze_reason = "LOST_MEDIUM";
  return out;
}

template <class T>
std::string code_of(const Result<T>& result) {
  return result ? "OK" : result.error().code;
}

// Runs `op` with every other precondition satisfied, so only the state decides.
std::string attempt(Operation op, const CertificateRecord& cert) {
  switch (op) {
    case Operation::renew: return code_of(renew(cert, kHolder, "C-NEW", kNow + days{730}, kWindow, kNow));
    case Operation::freeze: return code_of(freeze(cert, kHolder, "HOLDER_REQUEST", kFreezeReasons, kNow));
    case Operation::unfreeze: return code_of(unfreeze(cert, kHolder, kNow));
    case Operation::reissue:
      return code_of(reissue(cert, kHolder, {"LOST", "C-NEW", Medium::hard, kNow + days{730}}, kReissueReasons, kNow));
    case Operation::revoke: return code_of(revoke(cert, kHolder, true, kNow));
    case Operation::apply: return code_of(next_state(cert.state, Operation::apply));
  }
  return "?";
}

// REQ-31: the whole table. Rows: state before; columns: operation. "OK" or the refusal code.
TEST(TransitionTable, Req31EveryStateAndOperation) {
  const std::map<CertState, std::map<Operation, std::string>> expected{
      {CertState::pending_download,
       {{Operation::apply, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::renew, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::freeze, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::unfreeze, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::reissue, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::revoke, "CERT_TRANSITION_NOT_ALLOWED"}}},
      {CertState::active,
       {{Operation::apply, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::renew, "OK"},
        {Operation::freeze, "OK"},
        {Operation::unfreeze, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::reissue, "OK"},
        {Operation::revoke, "OK"}}},
      {CertState::frozen,
       {{Operation::apply, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::renew, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::freeze, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::unfreeze, "OK"},
        {Operation::reissue, "OK"},
        {Operation::revoke, "OK"}}},
      {CertState::revoked,
       {{Operation::apply, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::renew, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::freeze, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::unfreeze, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::reissue, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::revoke, "CERT_TRANSITION_NOT_ALLOWED"}}},
      {CertState::expired,
       {{Operation::apply, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::renew, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::freeze, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::unfreeze, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::reissue, "CERT_TRANSITION_NOT_ALLOWED"},
        {Operation::revoke, "CERT_TRANSITION_NOT_ALLOWED"}}},
  };
  for (const auto& [state, row] : expected) {
    for (const auto& [op, code] : row) {
      EXPECT_EQ(attempt(op, record(state)), code) << to_string(op) << " on " << to_string(state);
    }
  }
}

TEST(TransitionTable, Req31ExpiryByTimeRefusesLikeTheExpiredState) {
  for (const CertState state : {CertState::active, CertState::frozen}) {
    const CertificateRecord lapsed = record(state, kNow - hours{1});
    EXPECT_EQ(effective_state(lapsed, kNow), CertState::expired);
    for (const Operation op : {Operation::renew, Operation::freeze, Operation::reissue, Operation::revoke}) {
      EXPECT_EQ(attempt(op, lapsed), "CERT_TRANSITION_NOT_ALLOWED") << to_string(op);
    }
  }
}

TEST(TransitionTable, RefusalNamesStateAndOperation) {
  const auto refused = unfreeze(record(CertState::active), kHolder, kNow);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().message, "unfreeze is not allowed on a certificate in state active");
}

TEST(Apply, SoftWaitsForDownloadHardIsActive) {
  auto soft = apply({"C-1", kPerson, SubjectKind::person, Medium::soft, kNow + days{730}}, kHolder, {}, {}, kNow);
  ASSERT_TRUE(soft) << soft.error().to_string();
  EXPECT_EQ(soft->state, CertState::pending_download);
  auto downloaded = confirm_download(*soft, kNow);
  ASSERT_TRUE(downloaded);
  EXPECT_EQ(downloaded->state, CertState::active);
  EXPECT_EQ(code_of(confirm_download(*downloaded, kNow)), "CERT_TRANSITION_NOT_ALLOWED");

  auto hard = apply({"C-2", kPerson, SubjectKind::person, Medium::hard, kNow + days{730}}, kHolder, {}, {}, kNow);
  ASSERT_TRUE(hard);
  EXPECT_EQ(hard->state, CertState::active);
}

TEST(Apply, Req32SecondLiveCertificateIsRefusedUnlessAllowed) {
  const std::vector<CertificateRecord> existing{record(CertState::frozen)};
  const NewCertificate request{"C-2", kPerson, SubjectKind::person, Medium::hard, kNow + days{730}};
  EXPECT_EQ(code_of(apply(request, kHolder, existing, {}, kNow)), "CERT_DUPLICATE_LIVE");
  EXPECT_EQ(code_of(apply(request, kHolder, existing, ApplyRules{true}, kNow)), "OK");
  const std::vector<CertificateRecord> revoked{record(CertState::revoked)};
  EXPECT_EQ(code_of(apply(request, kHolder, revoked, {}, kNow)), "OK");
}

// REQ-33: renewal needs an ACTIVE certificate inside the window; the old one is superseded.
TEST(Renew, Req33FrozenOrOutsideWindowIsRefused) {
  EXPECT_EQ(attempt(Operation::renew, record(CertState::frozen)), "CERT_TRANSITION_NOT_ALLOWED");
  const CertificateRecord early = record(CertState::active, kNow + days{31});
  EXPECT_EQ(code_of(renew(early, kHolder, "C-NEW", kNow + days{730}, kWindow, kNow)), "CERT_OUTSIDE_RENEWAL_WINDOW");
  EXPECT_EQ(code_of(renew(record(CertState::active), kHolder, "C-OLD", kNow + days{730}, kWindow, kNow)),
            "CERT_SERIAL_INVALID");
}

TEST(Renew, Req33InsideWindowSupersedesTheOldCertificate) {
  auto renewed = renew(record(CertState::active), kHolder, "C-NEW", kNow + days{730}, kWindow, kNow);
  ASSERT_TRUE(renewed) << renewed.error().to_string();
  EXPECT_EQ(renewed->retired.serial, "C-OLD");
  EXPECT_EQ(renewed->retired.state, CertState::revoked);
  EXPECT_EQ(renewed->retired.revocation_reason, kSupersededReason);
  EXPECT_EQ(renewed->retired.replaced_by, "C-NEW");
  EXPECT_EQ(renewed->successor.serial, "C-NEW");
  EXPECT_EQ(renewed->successor.state, CertState::active);
  EXPECT_EQ(renewed->successor.not_after, kNow + days{730});
  EXPECT_EQ(renewed->successor.subject.id_number, kPerson.id_number);
}

// REQ-34: freezing needs an ACTIVE certificate and a reason code from the rule pack's set.
TEST(Freeze, Req34FrozenIsRefusedAndReasonIsMandatory) {
  EXPECT_EQ(attempt(Operation::freeze, record(CertState::frozen)), "CERT_TRANSITION_NOT_ALLOWED");
  EXPECT_EQ(code_of(freeze(record(CertState::active), kHolder, "", kFreezeReasons, kNow)), "CERT_REASON_REQUIRED");
  EXPECT_EQ(code_of(freeze(record(CertState::active), kHolder, "BORED", kFreezeReasons, kNow)), "CERT_REASON_UNKNOWN");
  auto frozen = freeze(record(CertState::active), kHolder, "SUSPECTED_COMPROMISE", kFreezeReasons, kNow);
  ASSERT_TRUE(frozen);
  EXPECT_EQ(frozen->state, CertState::frozen);
  EXPECT_EQ(frozen->freeze_reason, "SUSPECTED_COMPROMISE");
}

// REQ-35: unfreezing needs the subject and an unexpired certificate.
TEST(Unfreeze, Req35SomeoneElseOrAnExpiredCertificateIsRefused) {
  const Requester other{InvestorType::natural, DocumentType::prc_id, "110101198001011111", "", false};
  EXPECT_EQ(code_of(unfreeze(record(CertState::frozen), other, kNow)), "CERT_SUBJECT_MISMATCH");
  EXPECT_EQ(code_of(unfreeze(record(CertState::frozen, kNow - days{1}), kHolder, kNow)), "CERT_EXPIRED");
  auto thawed = unfreeze(record(CertState::frozen), kHolder, kNow);
  ASSERT_TRUE(thawed);
  EXPECT_EQ(thawed->state, CertState::active);
  EXPECT_TRUE(thawed->freeze_reason.empty());
}

// REQ-36: reissue revokes the old and issues the new as one unit; if the old cannot be revoked,
// no new certificate exists, and if the new cannot be recorded, the old is untouched.
TEST(Reissue, Req36NoNewCertificateWhenTheOldCannotBeRevoked) {
  CertificateBook book;
  ASSERT_TRUE(book.add(record(CertState::revoked)));
  const ReissueRequest request{"LOST", "C-NEW", Medium::hard, kNow + days{730}};
  EXPECT_EQ(code_of(book.reissue("C-OLD", kHolder, request, kReissueReasons, kNow)), "CERT_TRANSITION_NOT_ALLOWED");
  EXPECT_EQ(book.find("C-NEW"), nullptr);
  EXPECT_EQ(book.size(), 1U);
}

TEST(Reissue, Req36OldCertificateUntouchedWhenTheNewCannotBeRecorded) {
  CertificateBook book;
  ASSERT_TRUE(book.add(record(CertState::frozen)));
  CertificateRecord clash = record(CertState::revoked);
  clash.serial = "C-NEW";
  ASSERT_TRUE(book.add(clash));
  const ReissueRequest request{"DAMAGED", "C-NEW", Medium::hard, kNow + days{730}};
  EXPECT_EQ(code_of(book.reissue("C-OLD", kHolder, request, kReissueReasons, kNow)), "CERT_SERIAL_DUPLICATE");
  ASSERT_NE(book.find("C-OLD"), nullptr);
  EXPECT_EQ(book.find("C-OLD")->state, CertState::frozen);
  EXPECT_EQ(book.find("C-NEW")->state, CertState::revoked);
}

TEST(Reissue, Req36BothRecordsChangeTogether) {
  CertificateBook book;
  ASSERT_TRUE(book.add(record(CertState::frozen)));
  const ReissueRequest request{"LOCKED", "C-NEW", Medium::hard, kNow + days{730}};
  auto done = book.reissue("C-OLD", kHolder, request, kReissueReasons, kNow);
  ASSERT_TRUE(done) << done.error().to_string();
  EXPECT_EQ(book.find("C-OLD")->state, CertState::revoked);
  EXPECT_EQ(book.find("C-OLD")->revocation_reason, "LOCKED");
  EXPECT_EQ(book.find("C-OLD")->replaced_by, "C-NEW");
  EXPECT_EQ(book.find("C-NEW")->state, CertState::active);
  EXPECT_EQ(code_of(reissue(record(CertState::active), kHolder, {"", "C-X", Medium::hard, kNow + days{9}},
                            kReissueReasons, kNow)),
            "CERT_REASON_REQUIRED");
}

// REQ-37: revocation needs explicit confirmation and is terminal.
TEST(Revoke, Req37NeedsConfirmationAndNothingFollowsIt) {
  EXPECT_EQ(code_of(revoke(record(CertState::active), kHolder, false, kNow)), "CERT_REVOCATION_NOT_CONFIRMED");
  auto revoked = revoke(record(CertState::frozen), kHolder, true, kNow);
  ASSERT_TRUE(revoked);
  EXPECT_EQ(revoked->state, CertState::revoked);
  for (const Operation op : kAllOperations) {
    EXPECT_EQ(attempt(op, *revoked), "CERT_TRANSITION_NOT_ALLOWED") << to_string(op);
  }
  EXPECT_EQ(code_of(confirm_download(*revoked, kNow)), "CERT_TRANSITION_NOT_ALLOWED");
}

// REQ-38: every lifecycle operation is for the certificate's own subject only.
TEST(Subject, Req38AnotherPersonsCertificateIsBlockedForEveryOperation) {
  const Requester other{InvestorType::natural, DocumentType::prc_id, "110101198001011111", "", false};
  const CertificateRecord active = record(CertState::active);
  EXPECT_EQ(code_of(renew(active, other, "C-NEW", kNow + days{730}, kWindow, kNow)), "CERT_SUBJECT_MISMATCH");
  EXPECT_EQ(code_of(freeze(active, other, "HOLDER_REQUEST", kFreezeReasons, kNow)), "CERT_SUBJECT_MISMATCH");
  EXPECT_EQ(code_of(unfreeze(record(CertState::frozen), other, kNow)), "CERT_SUBJECT_MISMATCH");
  EXPECT_EQ(code_of(reissue(active, other, {"LOST", "C-NEW", Medium::hard, kNow + days{730}}, kReissueReasons, kNow)),
            "CERT_SUBJECT_MISMATCH");
  EXPECT_EQ(code_of(revoke(active, other, true, kNow)), "CERT_SUBJECT_MISMATCH");
  EXPECT_EQ(code_of(apply({"C-2", kPerson, SubjectKind::person, Medium::hard, kNow + days{9}}, other, {}, {}, kNow)),
            "CERT_SUBJECT_MISMATCH");
}

TEST(Subject, Req38SameNumberOnAnotherDocumentTypeDoesNotMatch) {
  Requester permit = kHolder;
  permit.id_type = DocumentType::hkmo_permit;
  EXPECT_EQ(code_of(check_subject(kPerson, permit)), "CERT_SUBJECT_MISMATCH");
  EXPECT_EQ(code_of(check_subject(kPerson, kHolder)), "OK");  // check digit x and X are the same
}

TEST(Subject, Req38InstitutionNeedsItsCreditCodeAndAnAuthorisedAgent) {
  const Subject firm{InvestorType::institution, DocumentType::prc_id, "91110000100000000A"};
  Requester agent{InvestorType::institution, DocumentType::prc_id, "110101198001011111", "91110000100000000A", true};
  EXPECT_EQ(code_of(check_subject(firm, agent)), "OK");
  agent.agent_authorised = false;
  EXPECT_EQ(code_of(check_subject(firm, agent)), "CERT_SUBJECT_MISMATCH");
  agent.agent_authorised = true;
  agent.credit_code = "91110000100000000B";
  EXPECT_EQ(code_of(check_subject(firm, agent)), "CERT_SUBJECT_MISMATCH");
  const Requester person_with_same_number{InvestorType::natural, DocumentType::prc_id, "91110000100000000A", "", false};
  EXPECT_EQ(code_of(check_subject(firm, person_with_same_number)), "CERT_SUBJECT_MISMATCH");
}

}  // namespace
}  // namespace kiosk::certificate
