// The kiosk's identity thread against the real idcard-sim: a card placed while armed is read,
// checked and reported once, with its evidence on disk; each refusal reaches the session as its
// own problem; a reader unplugged and plugged back is used again by the same worker.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <thread>

#include "kiosk/app/identity_worker.hpp"
#include "tests/support/idcard_sim_process.hpp"

namespace kiosk::app {
namespace {

using std::chrono::milliseconds;

class IdentityWorkerAgainstSim : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/identity-worker-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    directory_ = pattern;
    sim_ = kiosk::testing::IdcardSimProcess::start(IDCARD_SIM_BINARY, directory_ / "tty", IDCARD_SIM_CARDS);
    ASSERT_NE(sim_, nullptr);
  }
  void TearDown() override {
    worker_.reset();
    sim_.reset();
    std::filesystem::remove_all(directory_);
  }

  static policy::AcceptedDocuments prc_id_only() {
    return {{DocumentType::prc_id, policy::DocumentProcedure{.methods = {policy::VerificationMethod::chip_read,
                                                                         policy::VerificationMethod::nciis},
                                                             .images = {},
                                                             .reviewer_confirmation = false}}};
  }

  void start_worker(NciisCheck nciis, policy::AcceptedDocuments accepted = prc_id_only()) {
    IdentityWorkerConfig config;
    config.reader.device_path = (directory_ / "tty").string();
    config.accepted_documents = std::move(accepted);
    config.evidence_dir = directory_ / "evidence";
    config.poll_interval = milliseconds{50};
    config.health_interval = milliseconds{200};
    worker_ = std::make_unique<IdentityWorker>(std::move(config), std::move(nciis), queue_);
  }

  // Waits for the first event of type E, dropping others.
  template <class E>
  std::optional<E> wait_for(milliseconds timeout = milliseconds{5000}) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      for (auto& event : queue_.drain()) {
        if (auto* wanted = std::get_if<E>(&event)) return *wanted;
      }
      std::this_thread::sleep_for(milliseconds{20});
    }
    return std::nullopt;
  }

  // Answers `result`; `asked_for` receives the transaction id of the last check.
  static NciisCheck answering(std::string result, std::shared_ptr<std::string> asked_for = nullptr) {
    return [result, asked_for](const std::string& transaction_id, const std::string&,
                               const std::string& id_number) -> Result<NciisOutcome> {
      EXPECT_EQ(id_number.size(), 18u);
      if (asked_for) *asked_for = transaction_id;
      return NciisOutcome{.result = result,
                          .request_id = "0123456789abcdef0123456789abcdef",
                          .checked_at = "2026-11-24T10:00:00Z",
                          .photo_sha256 = ""};
    };
  }

  std::string evidence_manifest() {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(directory_ / "evidence")) {
      if (entry.path().filename() == "idv.json") {
        std::ifstream in(entry.path());
        std::stringstream text;
        text << in.rdbuf();
        return text.str();
      }
    }
    return {};
  }

  std::filesystem::path directory_;
  std::unique_ptr<kiosk::testing::IdcardSimProcess> sim_;
  EventQueue<Event> queue_;
  std::unique_ptr<IdentityWorker> worker_;
};

TEST_F(IdentityWorkerAgainstSim, ReadsAndVerifiesAResidentCard) {
  auto asked_for = std::make_shared<std::string>();
  start_worker(answering("MATCH", asked_for));
  ASSERT_EQ(sim_->command("place resident").rfind("ok", 0), 0u);
  worker_->arm(7, "tx-00000007");
  auto detected = wait_for<event::CardDetected>();
  ASSERT_TRUE(detected);
  EXPECT_EQ(detected->attempt, 7u);
  auto verified = wait_for<event::IdentityVerified>();
  ASSERT_TRUE(verified);
  EXPECT_EQ(verified->summary.document_type, "prc-id");
  EXPECT_EQ(verified->summary.masked_number, "1101**********002X");
  EXPECT_EQ(verified->summary.masked_name, "测**");
  EXPECT_EQ(verified->summary.nciis_result, "MATCH");
  EXPECT_EQ(*asked_for, "tx-00000007");  // head office links the check to the transaction's evidence
  // No vendor decoder configured: the screen is told so; no picture is made up.
  EXPECT_EQ(verified->summary.photo.status, PhotoStatus::decoder_not_installed);
  EXPECT_EQ(verified->summary.photo.rgb, nullptr);

  const std::string manifest = evidence_manifest();
  EXPECT_NE(manifest.find("\"kind\":\"id_chip_read\""), std::string::npos);
  EXPECT_NE(manifest.find("\"reader_id\":\"05.01-20101111-0012345678-1234567890\""), std::string::npos);
  EXPECT_NE(manifest.find("\"result\":\"MATCH\""), std::string::npos);
  EXPECT_EQ(manifest.find("11010519491231002X"), std::string::npos);  // no clear number in the manifest
}

TEST_F(IdentityWorkerAgainstSim, NciisMismatchEndsWithTheEvidenceKept) {
  start_worker(answering("NOT_FOUND"));
  ASSERT_EQ(sim_->command("place resident").rfind("ok", 0), 0u);
  worker_->arm(1);
  auto failed = wait_for<event::IdentityFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->problem, IdentityProblem::nciis_mismatch);
  EXPECT_EQ(failed->code, "NCIIS_NOT_FOUND");
  EXPECT_NE(evidence_manifest().find("\"result\":\"NOT_FOUND\""), std::string::npos);
}

TEST_F(IdentityWorkerAgainstSim, NciisUnreachableMayBeRetried) {
  start_worker([](const std::string&, const std::string&, const std::string&) -> Result<NciisOutcome> {
    return fail("GATEWAY_UNREACHABLE", "head office did not answer");
  });
  ASSERT_EQ(sim_->command("place resident").rfind("ok", 0), 0u);
  worker_->arm(1);
  auto failed = wait_for<event::IdentityFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->problem, IdentityProblem::nciis_unavailable);
  EXPECT_TRUE(identity_retry_allowed(failed->problem));
}

TEST_F(IdentityWorkerAgainstSim, ExpiredCardIsRefused) {
  start_worker(answering("MATCH"));
  ASSERT_EQ(sim_->command("place expired").rfind("ok", 0), 0u);
  worker_->arm(1);
  auto failed = wait_for<event::IdentityFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->problem, IdentityProblem::document_expired);
  EXPECT_EQ(failed->code, "ID_EXPIRED");
}

TEST_F(IdentityWorkerAgainstSim, DocumentNotAcceptedInThisChannel) {
  start_worker(answering("MATCH"), prc_id_only());
  ASSERT_EQ(sim_->command("place hkmotw-residence").rfind("ok", 0), 0u);
  worker_->arm(1);
  auto failed = wait_for<event::IdentityFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->problem, IdentityProblem::document_not_accepted);
}

// REQ-08: a residence permit is accepted at the counter but needs both sides imaged; without a
// document camera the kiosk refuses to pass it rather than skip the images.
TEST_F(IdentityWorkerAgainstSim, DocumentsThatNeedImagesAreRefusedWithoutACamera) {
  auto accepted = prc_id_only();
  accepted[DocumentType::hkmotw_residence] =
      policy::DocumentProcedure{.methods = {policy::VerificationMethod::chip_read},
                                .images = {policy::DocumentSide::front, policy::DocumentSide::back},
                                .reviewer_confirmation = true};
  start_worker(answering("MATCH"), accepted);
  ASSERT_EQ(sim_->command("place hkmotw-residence").rfind("ok", 0), 0u);
  worker_->arm(1);
  auto failed = wait_for<event::IdentityFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->problem, IdentityProblem::document_imaging_unavailable);
  EXPECT_EQ(failed->code, "DOCUMENT_IMAGING_UNAVAILABLE");
  EXPECT_FALSE(identity_retry_allowed(failed->problem));
}

TEST_F(IdentityWorkerAgainstSim, CardRemovedEarlyAndBadCheckDigit) {
  start_worker(answering("MATCH"));
  ASSERT_EQ(sim_->command("place resident").rfind("ok", 0), 0u);
  ASSERT_EQ(sim_->command("fault remove-during-read").rfind("ok", 0), 0u);
  worker_->arm(1);
  auto failed = wait_for<event::IdentityFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->problem, IdentityProblem::card_removed_early);

  ASSERT_EQ(sim_->command("place bad-check-digit").rfind("ok", 0), 0u);
  worker_->arm(2);
  failed = wait_for<event::IdentityFailed>();
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->problem, IdentityProblem::suspect_card);
  EXPECT_EQ(failed->code, "ID_NUMBER_CHECK_DIGIT");
}

// Acceptance: the reader goes away and comes back; the same worker (the same kiosk process)
// reports it offline, then online, and reads again.
TEST_F(IdentityWorkerAgainstSim, ReaderUnpluggedAndPluggedBack) {
  start_worker(answering("MATCH"));
  auto online = wait_for<event::CardReaderStatus>();
  ASSERT_TRUE(online);
  EXPECT_TRUE(online->online);
  ASSERT_EQ(sim_->command("unplug").rfind("ok", 0), 0u);
  auto offline = wait_for<event::CardReaderStatus>();
  ASSERT_TRUE(offline);
  EXPECT_FALSE(offline->online);
  ASSERT_EQ(sim_->command("place resident").rfind("ok", 0), 0u);
  ASSERT_EQ(sim_->command("replug").rfind("ok", 0), 0u);
  worker_->arm(3);
  auto verified = wait_for<event::IdentityVerified>();
  ASSERT_TRUE(verified);
  EXPECT_EQ(verified->attempt, 3u);
}

TEST(IdentityWorkerMapping, MasksNames) {
  EXPECT_EQ(mask_name("测试一"), "测**");
  EXPECT_EQ(mask_name("TEST ALPHA"), "T*** *****");
  EXPECT_EQ(mask_name(""), "");
}

TEST(IdentityWorkerMapping, ReaderFailuresBecomeTheInvestorsProblem) {
  using hal::idcard::Completion;
  using hal::idcard::ReaderError;
  EXPECT_EQ(problem_for(ReaderError{Completion::user_error, {"IDCARD_CARD_MOVED", ""}, 0x41}),
            IdentityProblem::card_removed_early);
  EXPECT_EQ(problem_for(ReaderError{Completion::user_error, {"IDCARD_UNKNOWN_CARD", ""}, 0x40}),
            IdentityProblem::card_unreadable);
  EXPECT_EQ(problem_for(ReaderError{Completion::fraud_attempt, {"IDCARD_SUSPECT_CARD", ""}, 0x32}),
            IdentityProblem::suspect_card);
  EXPECT_EQ(problem_for(ReaderError{Completion::device_not_ready, {"IDCARD_DEVICE_GONE", ""}, std::nullopt}),
            IdentityProblem::reader_fault);
  EXPECT_EQ(problem_for_document_check("ID_EXPIRED"), IdentityProblem::document_expired);
  EXPECT_EQ(problem_for_document_check("ID_NOT_YET_VALID"), IdentityProblem::document_not_yet_valid);
  EXPECT_EQ(problem_for_document_check("ID_NUMBER_CHECK_DIGIT"), IdentityProblem::suspect_card);
}

}  // namespace
}  // namespace kiosk::app
