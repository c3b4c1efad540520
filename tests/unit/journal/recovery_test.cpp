#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "journal_test_support.hpp"
#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/journal/journal.hpp"

namespace kiosk::journal {
namespace {

using testing::bytes_of;
using testing::JournalFixture;
using testing::read_file;
using testing::sample_header;
using testing::sample_step;

using RecoveryTest = JournalFixture;

StoredStep commit_one_file(Journal& journal, TxId tx, const ManualClock& clock, const std::string& content) {
  const auto data = bytes_of(content);
  const std::array evidence{EvidenceInput::from_bytes("item", data)};
  return journal.commit_step(tx, sample_step(StepId::form_capture, clock), evidence).value();
}

TEST_F(RecoveryTest, OpenTransactionsAreAbortedWithTheGivenReasonAndKeepTheirSteps) {
  auto journal = open_journal();
  const TxId open_tx = journal.open_transaction(sample_header()).value();
  commit_one_file(journal, open_tx, clock, "kept");
  const TxId done_tx = journal.open_transaction(sample_header()).value();
  ASSERT_TRUE(journal.close_transaction(done_tx, TxState::completed, "DONE"));
  clock.advance(std::chrono::hours{1});

  auto report = journal.recover_on_start("KIOSK_RESTARTED");
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->aborted, std::vector<TxId>{open_tx});
  EXPECT_TRUE(report->damage.empty());
  auto aborted = journal.transaction(open_tx).value();
  EXPECT_EQ(aborted.state, TxState::aborted);
  EXPECT_EQ(aborted.outcome_reason, "KIOSK_RESTARTED");
  EXPECT_EQ(aborted.closed_at, clock.now());
  EXPECT_EQ(aborted.steps.size(), 1U);
  EXPECT_EQ(journal.transaction(done_tx).value().outcome_reason, "DONE");
  EXPECT_TRUE(journal.open_transactions().value().empty());
}

TEST_F(RecoveryTest, TheResumeHookKeepsTheTransactionsItChooses) {
  auto journal = open_journal();
  const TxId keep = journal.open_transaction(sample_header()).value();
  const TxId drop = journal.open_transaction(sample_header()).value();
  std::vector<TxId> asked;
  auto report = journal.recover_on_start("KIOSK_RESTARTED", [&](const TransactionRecord& record) {
    asked.push_back(record.id);
    return record.id == keep;
  });
  ASSERT_TRUE(report);
  EXPECT_EQ(asked, (std::vector<TxId>{keep, drop}));
  EXPECT_EQ(report->resumed, std::vector<TxId>{keep});
  EXPECT_EQ(report->aborted, std::vector<TxId>{drop});
  EXPECT_EQ(journal.open_transactions().value(), std::vector<TxId>{keep});
}

TEST_F(RecoveryTest, TempFilesAndFilesNoCommittedStepReferencesAreRemovedAndReported) {
  auto journal = open_journal();
  const TxId tx = journal.open_transaction(sample_header()).value();
  const StoredStep step = commit_one_file(journal, tx, clock, "committed");
  // What a crash leaves: a temp file before its rename, and a renamed file before its COMMIT.
  const auto folder = options().evidence_dir / "tx-00000001";
  ASSERT_TRUE(write_file_atomically(folder / ".tmp-s002-review-1-item-abc", bytes_of("partial")));
  ASSERT_TRUE(write_file_atomically(folder / "s002-review-1-item", bytes_of("never committed")));

  auto report = journal.recover_on_start("KIOSK_RESTARTED");
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->removed_temp_files, std::vector<std::string>{"tx-00000001/.tmp-s002-review-1-item-abc"});
  EXPECT_EQ(report->removed_orphan_files, std::vector<std::string>{"tx-00000001/s002-review-1-item"});
  EXPECT_FALSE(std::filesystem::exists(folder / "s002-review-1-item"));
  EXPECT_FALSE(std::filesystem::exists(folder / ".tmp-s002-review-1-item-abc"));
  EXPECT_EQ(read_file(options().evidence_dir / step.evidence[0].relative_path), "committed");
  EXPECT_TRUE(report->damage.empty());
}

TEST_F(RecoveryTest, AMissingOrAlteredFileIsReportedAsDamageAndLeftAsItIs) {
  auto journal = open_journal();
  const TxId tx = journal.open_transaction(sample_header()).value();
  const StoredStep missing = commit_one_file(journal, tx, clock, "will vanish");
  const StoredStep altered = commit_one_file(journal, tx, clock, "original");
  const StoredStep truncated = commit_one_file(journal, tx, clock, "long enough");
  const auto root = options().evidence_dir;
  std::filesystem::remove(root / missing.evidence[0].relative_path);
  ASSERT_TRUE(write_file_atomically(root / altered.evidence[0].relative_path, bytes_of("ORIGINAL")));
  ASSERT_TRUE(write_file_atomically(root / truncated.evidence[0].relative_path, bytes_of("short")));

  auto report = journal.recover_on_start("KIOSK_RESTARTED");
  ASSERT_TRUE(report) << report.error().to_string();
  ASSERT_EQ(report->damage.size(), 3U);
  auto kind_of = [&](const StoredStep& step) {
    const auto found = std::find_if(report->damage.begin(), report->damage.end(), [&](const EvidenceDamage& damage) {
      return damage.relative_path == step.evidence[0].relative_path;
    });
    EXPECT_NE(found, report->damage.end());
    EXPECT_EQ(found->step_id, step.id);
    EXPECT_EQ(found->transaction_id, tx);
    return found->kind;
  };
  EXPECT_EQ(kind_of(missing), DamageKind::missing_file);
  EXPECT_EQ(kind_of(altered), DamageKind::hash_differs);
  EXPECT_EQ(kind_of(truncated), DamageKind::size_differs);
  // Never silently fixed: the altered file and the rows are still there as they were.
  EXPECT_EQ(read_file(root / altered.evidence[0].relative_path), "ORIGINAL");
  EXPECT_EQ(journal.transaction(tx).value().steps.size(), 3U);
  EXPECT_TRUE(report->removed_orphan_files.empty());
}

TEST_F(RecoveryTest, ARecoveryReasonMustBeACode) {
  auto journal = open_journal();
  EXPECT_EQ(journal.recover_on_start("").error().code, "JOURNAL_BAD_CODE");
}

}  // namespace
}  // namespace kiosk::journal
