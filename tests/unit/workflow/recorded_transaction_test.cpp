// A whole scripted witness transaction through the real pieces: the default rule pack decides the
// steps, the workflow checks each one, the journal makes it durable with its audit trail. Then
// every log line written meanwhile is scanned for the investor's ID number and name (REQ-48).
#include "kiosk/core/workflow/recorded_transaction.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "kiosk/core/audit/audit_log.hpp"
#include "kiosk/core/log.hpp"
#include "kiosk/core/policy/policy.hpp"
#include "kiosk/core/policy/rule_pack.hpp"
#include "tests/support/staff_feed.hpp"

namespace kiosk::workflow {
namespace {

namespace fs = std::filesystem;
using std::chrono::seconds;

constexpr std::string_view kIdNumber = "11010519491231002X";
constexpr std::string_view kName = "张三丰";

std::vector<std::uint8_t> bytes(std::string_view text) { return {text.begin(), text.end()}; }

using kiosk::testing::kStaffFeed;

class RecordedTransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("recorded_tx_" + std::to_string(::getpid()) + "_" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir);
    fs::create_directories(dir);
    ASSERT_TRUE(log::open_file(dir / "test.log"));
    auto loaded = policy::load_rule_pack(KIOSK_DEFAULT_RULE_PACK, policy::LoadMode::simulator, "");
    ASSERT_TRUE(loaded) << loaded.error().to_string();
    pack = loaded->pack;
    journal::JournalOptions options;
    options.database = dir / "journal.sqlite";
    options.evidence_dir = dir / "evidence";
    options.clock = &clock;
    auto opened = journal::Journal::open(options);
    ASSERT_TRUE(opened) << opened.error().to_string();
    journal_.emplace(std::move(*opened));
    auto feed = registry::StaffRegistry::from_string(kStaffFeed, "staff.toml");
    ASSERT_TRUE(feed) << feed.error().to_string();
    staff_.emplace(std::move(*feed));
  }

  void TearDown() override {
    (void)log::open_file("/dev/null");
    fs::remove_all(dir);
  }

  RecordedTransaction open(Channel channel, Medium medium = Medium::hard) {
    const auto decision = policy::evaluate(pack, {.operation = Operation::apply,
                                                  .channel = channel,
                                                  .investor = InvestorType::natural,
                                                  .medium = medium,
                                                  .document = std::nullopt});
    EXPECT_TRUE(decision.allowed) << decision.code;
    auto tx = RecordedTransaction::open(*journal_, *staff_,
                                        {.id = "TX-E2E",
                                         .operation = Operation::apply,
                                         .channel = channel,
                                         .investor = InvestorType::natural,
                                         .medium = medium,
                                         .rule_pack_version = pack.pack_version,
                                         .mandatory_steps = decision.mandatory_steps,
                                         .accepted_documents = decision.accepted_documents},
                                        "KIOSK-0001", std::string(64, 'e'), false, clock.now());
    EXPECT_TRUE(tx) << tx.error().to_string();
    return std::move(*tx);
  }

  std::string log_text() const {
    std::ifstream in(dir / "test.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  ManualClock clock;
  fs::path dir;
  policy::RulePack pack;
  std::optional<journal::Journal> journal_;
  std::optional<registry::StaffRegistry> staff_;
};

struct ScriptedStep {
  Actor actor;
  std::vector<std::pair<std::string, std::string>> evidence;  // kind, content
  std::map<std::string, std::string> details;
};

// What each step of the witness channel is given in the script. The chip read holds the
// investor's real ID number and name: evidence may, logs may not.
ScriptedStep script_for(StepId step) {
  const Actor investor{.kind = ActorKind::investor, .staff_id = {}, .role = std::nullopt};
  const Actor kiosk{.kind = ActorKind::system, .staff_id = {}, .role = std::nullopt};
  const Actor witness{.kind = ActorKind::staff, .staff_id = "W0042", .role = StaffRole::witness};
  const Actor onsite{.kind = ActorKind::staff, .staff_id = "S0007", .role = StaffRole::onsite};
  const Actor reviewer{.kind = ActorKind::staff, .staff_id = "R0003", .role = StaffRole::reviewer};
  switch (step) {
    case StepId::consent: return {investor, {}, {{"decision", "granted"}}};
    case StepId::terms: return {investor, {}, {{"decision", "accepted"}, {"terms_version_hash", std::string(64, 'e')}}};
    case StepId::idv:
      return {kiosk,
              {{"id_chip_read", std::string(kName) + "|" + std::string(kIdNumber) + "|photo"}},
              {{"document_type", "prc-id"},
               {"verification_method", "chip-read"},
               {"reader_id", "SAM-0551-01"},
               {"read_at", "2026-01-15T09:30:00Z"},
               {"chip_data_sha256", std::string(64, 'c')},
               {"chip_photo_sha256", std::string(64, 'd')}}};
    case StepId::identity_check:
      return {witness, {{"video_marker", "00:01:10-00:01:40"}}, {{"face_match_confirmed", "true"}}};
    case StepId::witness_intro:
    case StepId::witness_signing: return {witness, {{"video_marker", "00:00:05-00:00:40"}}, {}};
    case StepId::form_capture: return {kiosk, {{"form_image", "JPEG..."}}, {}};
    case StepId::staff_countersign: return {onsite, {{"signature_image", "PNG..."}}, {}};
    case StepId::review: return {reviewer, {}, {{"review_result", "passed"}}};
    case StepId::issue: return {kiosk, {{"ca_response", "certificate"}}, {{"certificate_serial", "7F01"}}};
    default: return {investor, {{"video_marker", "00:02:00-00:02:20"}}, {}};
  }
}

// Completes the running step with the scripted evidence and details.
Result<void> complete_scripted(RecordedTransaction& tx, StepId step, const ScriptedStep& scripted, ManualClock& clock) {
  std::vector<std::vector<std::uint8_t>> contents;
  std::vector<journal::EvidenceInput> evidence;
  contents.reserve(scripted.evidence.size());
  for (const auto& [kind, content] : scripted.evidence) {
    contents.push_back(bytes(content));
    evidence.push_back(journal::EvidenceInput::from_bytes(kind, contents.back()));
  }
  return tx.complete_step(step, evidence, scripted.details, clock.now());
}

// Starts and completes one step as scripted; returns what went wrong first.
Result<void> run_scripted(RecordedTransaction& tx, StepId step, const ScriptedStep& scripted, ManualClock& clock) {
  if (auto started = tx.start_step(step, scripted.actor, clock.now()); !started) return started;
  clock.advance(seconds{4});
  return complete_scripted(tx, step, scripted, clock);
}

// The IDV step of a Taiwan permit (REQ-08): both sides imaged, confirmed by `reviewer`.
ScriptedStep tw_permit_idv(const std::string& reviewer) {
  return {{.kind = ActorKind::system, .staff_id = {}, .role = std::nullopt},
          {{"document_image_front", "JPEG front"}, {"document_image_back", "JPEG back"}},
          {{"document_type", "tw-permit"},
           {"verification_method", "document-image"},
           {"document_reviewer_id", reviewer},
           {"document_review", "confirmed"}}};
}

void run_step(RecordedTransaction& tx, StepId step, ManualClock& clock) {
  const auto done = run_scripted(tx, step, script_for(step), clock);
  ASSERT_TRUE(done) << to_string(step) << ": " << done.error().to_string();
}

TEST_F(RecordedTransactionTest, AWholeWitnessTransactionIsDurableAuditedAndLeavesNoPersonalDataInLogs) {
  auto tx = open(Channel::witness);
  while (const auto next = tx.workflow().next_step()) run_step(tx, *next, clock);

  EXPECT_EQ(tx.workflow().state(), TxState::completed);
  const auto record = journal_->transaction(tx.journal_id()).value();
  EXPECT_EQ(record.state, TxState::completed);
  EXPECT_EQ(record.header.rule_pack_version, pack.pack_version);
  ASSERT_EQ(record.steps.size(), tx.workflow().steps().size());
  for (std::size_t i = 0; i < record.steps.size(); ++i) {
    EXPECT_EQ(record.steps[i].record.step, tx.workflow().steps()[i].step);
    EXPECT_EQ(record.steps[i].evidence.size(), tx.workflow().steps()[i].evidence.size());
  }
  const auto audit = journal_->audit_log()->verify().value();
  EXPECT_FALSE(audit.problem.has_value());
  EXPECT_GT(audit.verified.count, 10);

  const std::string logs = log_text();
  EXPECT_NE(logs.find("\"event\":\"step_committed\""), std::string::npos);
  EXPECT_NE(logs.find("\"event\":\"transaction_closed\""), std::string::npos);
  EXPECT_EQ(logs.find(kIdNumber), std::string::npos) << "an unmasked ID number reached the log";
  EXPECT_EQ(logs.find(kName), std::string::npos) << "the investor's name reached the log";
  // The evidence does hold them: the scan would have found them had they leaked.
  const auto chip = record.steps[2].evidence.at(0);
  std::ifstream chip_file(dir / "evidence" / chip.relative_path);
  std::stringstream chip_text;
  chip_text << chip_file.rdbuf();
  EXPECT_NE(chip_text.str().find(kIdNumber), std::string::npos);
}

// The registry is asked when a staff member takes a step, not only at sign-in (REQ-15, REQ-16).
TEST_F(RecordedTransactionTest, StaffAreCheckedWhenTheyTakeAStep) {
  auto tx = open(Channel::witness);
  for (StepId step : {StepId::consent, StepId::terms, StepId::idv}) run_step(tx, step, clock);
  const Actor lapsed{.kind = ActorKind::staff, .staff_id = "W0099", .role = StaffRole::witness};
  EXPECT_EQ(tx.start_step(StepId::witness_intro, lapsed, clock.now()).error().code, "QUALIFICATION_EXPIRED");
  // The witness turns out to be the investor: refused at assignment.
  tx.set_verified_investor("440301198801015671", {});
  const Actor witness{.kind = ActorKind::staff, .staff_id = "W0042", .role = StaffRole::witness};
  EXPECT_EQ(tx.start_step(StepId::witness_intro, witness, clock.now()).error().code, "CONFLICT_STAFF_IS_INVESTOR");
  EXPECT_EQ(tx.workflow().next_step(), StepId::witness_intro);
  EXPECT_EQ(log_text().find("440301198801015671"), std::string::npos);
}

// A step the workflow would refuse never reaches the journal.
TEST_F(RecordedTransactionTest, ARejectedStepIsNotCommitted) {
  auto tx = open(Channel::counter);
  run_step(tx, StepId::consent, clock);
  run_step(tx, StepId::terms, clock);
  ASSERT_TRUE(
      tx.start_step(StepId::idv, {.kind = ActorKind::system, .staff_id = {}, .role = std::nullopt}, clock.now()));
  const auto typed = bytes("typed in by hand");
  const std::array evidence{journal::EvidenceInput::from_bytes("typed_id_number", typed)};
  const auto done = tx.complete_step(StepId::idv, evidence, {}, clock.now());
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error().code, "EVIDENCE_MISSING");
  EXPECT_EQ(journal_->transaction(tx.journal_id()).value().steps.size(), 2U);
  EXPECT_FALSE(fs::exists(dir / "evidence" / "tx-00000001" / "s003-idv-0-typed_id_number"));
}

// A refusal closes the journal's transaction too, with the same code and the evidence kept.
TEST_F(RecordedTransactionTest, ARefusalIsRecordedWithItsCodeAndEvidence) {
  auto tx = open(Channel::counter);
  run_step(tx, StepId::consent, clock);
  run_step(tx, StepId::terms, clock);
  ASSERT_TRUE(
      tx.start_step(StepId::idv, {.kind = ActorKind::system, .staff_id = {}, .role = std::nullopt}, clock.now()));
  const auto reply = bytes("NCIIS reply: no such number");
  const std::array evidence{journal::EvidenceInput::from_bytes("nciis_result", reply)};
  ASSERT_TRUE(tx.complete_step(StepId::idv, evidence,
                               {{"document_type", "prc-id"},
                                {"verification_method", "nciis"},
                                {"nciis_request_id", "NCIIS-REQ-77"},
                                {"nciis_checked_at", "2026-01-15T09:30:00Z"},
                                {"nciis_result", "NOT_FOUND"},
                                {"nciis_photo_sha256", ""}},
                               clock.now()));
  const auto record = journal_->transaction(tx.journal_id()).value();
  EXPECT_EQ(record.state, TxState::refused);
  EXPECT_EQ(record.outcome_reason, "NCIIS_NOT_FOUND");
  ASSERT_EQ(record.steps.size(), 3U);
  EXPECT_EQ(record.steps[2].record.result, "NCIIS_NOT_FOUND");
  EXPECT_EQ(record.steps[2].evidence.size(), 1U);
}

// REQ-08 through the default pack: a Taiwan permit at the counter needs a reviewer, and that
// reviewer is checked against the staff registry like anyone who takes a step.
TEST_F(RecordedTransactionTest, Req08_TaiwanPermitNeedsAnEligibleReviewerFromTheRegistry) {
  auto tx = open(Channel::counter);
  run_step(tx, StepId::consent, clock);
  run_step(tx, StepId::terms, clock);
  ScriptedStep unreviewed = tw_permit_idv("R0003");
  unreviewed.details.erase("document_reviewer_id");
  EXPECT_EQ(run_scripted(tx, StepId::idv, unreviewed, clock).error().code, "EVIDENCE_MISSING");
  const auto complete = [&](const std::string& reviewer) {
    return complete_scripted(tx, StepId::idv, tw_permit_idv(reviewer), clock);
  };
  EXPECT_EQ(complete("X9999").error().code, "STAFF_UNKNOWN");
  EXPECT_EQ(complete("W0042").error().code, "ROLE_NOT_HELD");  // a witness, not a reviewer
  EXPECT_EQ(journal_->transaction(tx.journal_id()).value().steps.size(), 2U);
  ASSERT_TRUE(complete("R0008"));
  EXPECT_EQ(tx.workflow().next_step(), StepId::identity_check);
  // The document reviewer takes no other role afterwards, though the registry lets R0008 work on site.
  const Actor reviewer_as_onsite{.kind = ActorKind::staff, .staff_id = "R0008", .role = StaffRole::onsite};
  EXPECT_EQ(tx.start_step(StepId::identity_check, reviewer_as_onsite, clock.now()).error().code,
            "CONFLICT_SAME_TRANSACTION_ROLE");
  const Actor onsite{.kind = ActorKind::staff, .staff_id = "S0007", .role = StaffRole::onsite};
  EXPECT_TRUE(tx.start_step(StepId::identity_check, onsite, clock.now()));
  const auto record = journal_->transaction(tx.journal_id()).value();
  ASSERT_EQ(record.steps.size(), 3U);
  EXPECT_EQ(record.steps[2].evidence.size(), 2U);  // both sides of the permit
}

// REQ-08 through the default pack: a Taiwan permit in the other-methods channel is refused by default.
TEST_F(RecordedTransactionTest, Req08_TaiwanPermitIsRefusedInTheOtherChannelByDefault) {
  auto tx = open(Channel::other, Medium::soft);
  run_step(tx, StepId::consent, clock);
  run_step(tx, StepId::terms, clock);
  ASSERT_TRUE(run_scripted(tx, StepId::idv, tw_permit_idv("R0003"), clock));
  const auto record = journal_->transaction(tx.journal_id()).value();
  EXPECT_EQ(record.state, TxState::refused);
  EXPECT_EQ(record.outcome_reason, "DOCUMENT_NOT_ACCEPTED");
  EXPECT_EQ(record.steps.back().evidence.size(), 2U);  // the images are kept
}

}  // namespace
}  // namespace kiosk::workflow
