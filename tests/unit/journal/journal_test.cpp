#include "kiosk/core/journal/journal.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <array>

#include "journal_test_support.hpp"
#include "kiosk/core/audit/audit_log.hpp"
#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/journal/schema.hpp"

namespace kiosk::journal {
namespace {

using testing::bytes_of;
using testing::JournalFixture;
using testing::read_file;
using testing::sample_header;
using testing::sample_step;

// Runs one SQL statement on a database file outside the journal, returning the first column.
std::string sql_scalar(const std::filesystem::path& database, const char* sql) {
  sqlite3* db = nullptr;
  sqlite3_open(database.c_str(), &db);
  sqlite3_stmt* statement = nullptr;
  std::string value;
  if (sqlite3_prepare_v2(db, sql, -1, &statement, nullptr) == SQLITE_OK && sqlite3_step(statement) == SQLITE_ROW) {
    const auto* text = sqlite3_column_text(statement, 0);
    if (text != nullptr) value = reinterpret_cast<const char*>(text);
  }
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return value;
}

using JournalTest = JournalFixture;

TEST_F(JournalTest, OpeningCreatesTheCurrentSchemaInWalMode) {
  {
    auto journal = open_journal();
    EXPECT_EQ(journal.schema_version().value(), kSchemaVersion);
    EXPECT_TRUE(journal.check_integrity());
  }
  EXPECT_EQ(sql_scalar(options().database, "PRAGMA journal_mode"), "wal");
  EXPECT_EQ(sql_scalar(options().database,
                       "SELECT count(*) FROM sqlite_master WHERE name IN "
                       "('transactions','steps','evidence')"),
            "3");
}

TEST_F(JournalTest, ReopeningAMigratedJournalKeepsItsData) {
  TxId tx = 0;
  {
    auto journal = open_journal();
    tx = journal.open_transaction(sample_header()).value();
  }
  auto journal = open_journal();
  EXPECT_EQ(journal.transaction(tx).value().header.kiosk_id, "KIOSK-0001");
}

TEST_F(JournalTest, ASchemaNewerThanThisProgramIsRefused) {
  { auto journal = open_journal(); }
  sql_scalar(options().database, "PRAGMA user_version = 99");
  auto journal = Journal::open(options());
  ASSERT_FALSE(journal);
  EXPECT_EQ(journal.error().code, "JOURNAL_SCHEMA_TOO_NEW");
  EXPECT_NE(journal.error().message.find("99"), std::string::npos);
}

TEST_F(JournalTest, AFailedMigrationLeavesThePreviousVersionWhole) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((dir.path() / "m.sqlite").c_str(), &db), SQLITE_OK);
  constexpr std::array<std::string_view, 2> migrations{
      "CREATE TABLE first (id INTEGER PRIMARY KEY);",
      "CREATE TABLE second (id INTEGER PRIMARY KEY); INSERT INTO no_such_table VALUES (1);"};
  auto result = apply_migrations(db, migrations);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, "JOURNAL_MIGRATION_FAILED");
  EXPECT_EQ(read_user_version(db).value(), 1);
  // The half of migration 2 that succeeded was rolled back with it.
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_master WHERE name = 'second'", -1, &statement, nullptr);
  ASSERT_EQ(sqlite3_step(statement), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(statement, 0), 0);
  sqlite3_finalize(statement);
  sqlite3_close(db);
}

TEST_F(JournalTest, OpenTransactionRecordsTheHeaderAndTheClockTime) {
  auto journal = open_journal();
  const TxId tx = journal.open_transaction(sample_header()).value();
  auto record = journal.transaction(tx).value();
  EXPECT_EQ(record.state, TxState::open);
  EXPECT_EQ(record.header.operation, Operation::apply);
  EXPECT_EQ(record.header.channel, Channel::witness);
  EXPECT_EQ(record.header.rule_pack_version, "2026.11-r1");
  EXPECT_EQ(record.header.terms_version_hash, "sha256-terms-v3");
  EXPECT_EQ(record.opened_at, clock.now());
  EXPECT_FALSE(record.closed_at);
  EXPECT_EQ(journal.open_transactions().value(), std::vector<TxId>{tx});
}

TEST_F(JournalTest, CommitStepStoresTheStepAndEachEvidenceFileWithItsHash) {
  auto journal = open_journal();
  const TxId tx = journal.open_transaction(sample_header()).value();
  const auto photo = bytes_of("chip photo bytes");
  const auto reply = bytes_of("nciis reply");
  const std::array evidence{EvidenceInput::from_bytes("chip_photo", photo),
                            EvidenceInput::from_bytes("nciis_reply", reply)};
  auto stored = journal.commit_step(tx, sample_step(StepId::idv, clock), evidence);
  ASSERT_TRUE(stored) << stored.error().to_string();
  EXPECT_EQ(stored->sequence, 1);
  ASSERT_EQ(stored->evidence.size(), 2U);

  auto record = journal.transaction(tx).value();
  ASSERT_EQ(record.steps.size(), 1U);
  const StoredStep& step = record.steps[0];
  EXPECT_EQ(step.record.step, StepId::idv);
  EXPECT_EQ(step.record.actor_staff_id, "S1001");
  EXPECT_EQ(step.record.actor_role, StaffRole::witness);
  EXPECT_EQ(step.record.started_at, clock.now());
  EXPECT_EQ(step.record.ended_at, clock.now() + std::chrono::seconds{3});
  ASSERT_EQ(step.evidence.size(), 2U);
  EXPECT_EQ(step.evidence[0].kind, "chip_photo");
  EXPECT_EQ(step.evidence[0].size, photo.size());
  EXPECT_EQ(step.evidence[0].sha256_hex, sha256_hex(photo));
  EXPECT_FALSE(std::filesystem::path(step.evidence[0].relative_path).is_absolute());
  EXPECT_EQ(read_file(options().evidence_dir / step.evidence[0].relative_path), "chip photo bytes");
  EXPECT_EQ(read_file(options().evidence_dir / step.evidence[1].relative_path), "nciis reply");
}

// REQ-45: a committed step carries its audit trail in the same SQL transaction; a refusal too.
TEST_F(JournalTest, EveryCommittedStepAndRefusalIsInTheAuditLog) {
  auto journal = open_journal();
  const TxId tx = journal.open_transaction(sample_header()).value();
  const auto photo = bytes_of("chip photo bytes");
  const std::array evidence{EvidenceInput::from_bytes("chip_photo", photo)};
  auto stored = journal.commit_step(tx, sample_step(StepId::idv, clock), evidence);
  ASSERT_TRUE(stored) << stored.error().to_string();
  ASSERT_TRUE(journal.close_transaction(tx, TxState::refused, "NCIIS_MISMATCH"));

  const audit::AuditLog* log = journal.audit_log();
  ASSERT_NE(log, nullptr);
  const auto entries = log->entries().value();
  ASSERT_EQ(entries.size(), 3U);
  EXPECT_EQ(entries[0].action, "evidence_recorded");
  EXPECT_EQ(entries[0].object, stored->evidence[0].relative_path);
  EXPECT_NE(entries[0].details.find("sha256=" + sha256_hex(photo)), std::string::npos);
  EXPECT_EQ(entries[1].action, "staff_decision");
  EXPECT_EQ(entries[1].actor_id, "S1001");
  EXPECT_EQ(entries[1].actor_role, "witness");
  EXPECT_EQ(entries[2].action, "transaction_refused");
  EXPECT_EQ(entries[2].result, "NCIIS_MISMATCH");
  const auto report = log->verify().value();
  EXPECT_FALSE(report.problem.has_value());
  EXPECT_EQ(report.verified.count, 3);
}

// A step that fails to commit leaves no audit entry behind either.
TEST_F(JournalTest, AStepThatDoesNotCommitLeavesNoAuditEntry) {
  auto journal = open_journal();
  const TxId tx = journal.open_transaction(sample_header()).value();
  ASSERT_TRUE(journal.close_transaction(tx, TxState::completed, "DONE"));
  const auto photo = bytes_of("late");
  const std::array evidence{EvidenceInput::from_bytes("chip_photo", photo)};
  EXPECT_FALSE(journal.commit_step(tx, sample_step(StepId::idv, clock), evidence));
  EXPECT_TRUE(journal.audit_log()->entries().value().empty());
}

TEST_F(JournalTest, StepsAreNumberedInOrderAndInvestorStepsHaveNoStaffActor) {
  auto journal = open_journal();
  const TxId tx = journal.open_transaction(sample_header()).value();
  StepRecord consent{StepId::consent, "", std::nullopt, clock.now(), clock.now(), "ok"};
  auto consent_step = journal.commit_step(tx, consent, {});
  ASSERT_TRUE(consent_step) << consent_step.error().to_string();
  ASSERT_TRUE(journal.commit_step(tx, sample_step(StepId::terms, clock), {}));
  auto record = journal.transaction(tx).value();
  ASSERT_EQ(record.steps.size(), 2U);
  EXPECT_EQ(record.steps[0].sequence, 1);
  EXPECT_FALSE(record.steps[0].record.actor_role);
  EXPECT_EQ(record.steps[1].sequence, 2);
  EXPECT_EQ(record.steps[1].record.step, StepId::terms);
}

TEST_F(JournalTest, EvidenceFromASourceFileIsCopiedAndHashed) {
  auto journal = open_journal();
  const TxId tx = journal.open_transaction(sample_header()).value();
  ASSERT_TRUE(write_file_atomically(dir.path() / "form.jpg", bytes_of("form image")));
  const std::array evidence{EvidenceInput::from_file("form_image", dir.path() / "form.jpg")};
  auto stored = journal.commit_step(tx, sample_step(StepId::form_capture, clock), evidence);
  ASSERT_TRUE(stored) << stored.error().to_string();
  EXPECT_EQ(stored->evidence[0].sha256_hex, sha256_hex(bytes_of("form image")));
  EXPECT_EQ(read_file(options().evidence_dir / stored->evidence[0].relative_path), "form image");
}

TEST_F(JournalTest, AnEvidenceFailureCommitsNothingAndLeavesNoFile) {
  auto journal = open_journal();
  const TxId tx = journal.open_transaction(sample_header()).value();
  const auto ok_bytes = bytes_of("first file is fine");
  const std::array evidence{EvidenceInput::from_bytes("first", ok_bytes),
                            EvidenceInput::from_file("second", dir.path() / "missing.jpg")};
  auto stored = journal.commit_step(tx, sample_step(StepId::form_capture, clock), evidence);
  ASSERT_FALSE(stored);
  EXPECT_EQ(stored.error().code, "JOURNAL_EVIDENCE_SOURCE_UNREADABLE");
  EXPECT_TRUE(journal.transaction(tx).value().steps.empty());
  for (const auto& entry : std::filesystem::recursive_directory_iterator(options().evidence_dir)) {
    EXPECT_FALSE(entry.is_regular_file()) << entry.path();
  }
}

TEST_F(JournalTest, AClosedTransactionTakesNoMoreStepsNorASecondClose) {
  auto journal = open_journal();
  const TxId tx = journal.open_transaction(sample_header()).value();
  clock.advance(std::chrono::minutes{2});
  ASSERT_TRUE(journal.close_transaction(tx, TxState::completed, "DONE"));
  auto record = journal.transaction(tx).value();
  EXPECT_EQ(record.state, TxState::completed);
  EXPECT_EQ(record.outcome_reason, "DONE");
  EXPECT_EQ(record.closed_at, clock.now());

  const auto data = bytes_of("late");
  const std::array evidence{EvidenceInput::from_bytes("late", data)};
  auto late = journal.commit_step(tx, sample_step(StepId::review, clock), evidence);
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, "JOURNAL_TX_NOT_OPEN");
  EXPECT_FALSE(std::filesystem::exists(options().evidence_dir / "tx-00000001"));
  EXPECT_EQ(journal.close_transaction(tx, TxState::aborted, "AGAIN").error().code, "JOURNAL_TX_NOT_OPEN");
  EXPECT_TRUE(journal.open_transactions().value().empty());
}

TEST_F(JournalTest, UnknownTransactionsAndBadInputsAreRefusedWithStableCodes) {
  auto journal = open_journal();
  EXPECT_EQ(journal.commit_step(77, sample_step(StepId::idv, clock), {}).error().code, "JOURNAL_TX_UNKNOWN");
  EXPECT_EQ(journal.close_transaction(77, TxState::completed, "DONE").error().code, "JOURNAL_TX_UNKNOWN");
  EXPECT_EQ(journal.transaction(77).error().code, "JOURNAL_TX_UNKNOWN");

  const TxId tx = journal.open_transaction(sample_header()).value();
  EXPECT_EQ(journal.close_transaction(tx, TxState::open, "X").error().code, "JOURNAL_BAD_OUTCOME");
  EXPECT_EQ(journal.close_transaction(tx, TxState::refused, "free text with spaces").error().code, "JOURNAL_BAD_CODE");
  const auto data = bytes_of("x");
  const std::array bad_kind{EvidenceInput::from_bytes("../escape", data)};
  EXPECT_EQ(journal.commit_step(tx, sample_step(StepId::idv, clock), bad_kind).error().code,
            "JOURNAL_BAD_EVIDENCE_KIND");
  StepRecord backwards = sample_step(StepId::idv, clock);
  backwards.ended_at = backwards.started_at - std::chrono::seconds{1};
  EXPECT_EQ(journal.commit_step(tx, backwards, {}).error().code, "JOURNAL_BAD_STEP");
  StepRecord role_without_id = sample_step(StepId::idv, clock);
  role_without_id.actor_staff_id.clear();
  EXPECT_EQ(journal.commit_step(tx, role_without_id, {}).error().code, "JOURNAL_BAD_STEP");
  EXPECT_TRUE(journal.transaction(tx).value().steps.empty());
}

TEST_F(JournalTest, AReadOnlyJournalShowsButNeverWrites) {
  TxId tx = 0;
  {
    auto journal = open_journal();
    tx = journal.open_transaction(sample_header()).value();
  }
  JournalOptions read_only;
  read_only.database = options().database;
  read_only.read_only = true;
  auto journal = Journal::open(read_only);
  ASSERT_TRUE(journal) << journal.error().to_string();
  EXPECT_EQ(journal->transaction(tx).value().id, tx);
  EXPECT_EQ(journal->open_transaction(sample_header()).error().code, "JOURNAL_READ_ONLY");
  EXPECT_EQ(journal->recover_on_start("RESTART").error().code, "JOURNAL_READ_ONLY");

  read_only.database = dir.path() / "absent.sqlite";
  EXPECT_EQ(Journal::open(read_only).error().code, "JOURNAL_NOT_FOUND");
  EXPECT_FALSE(std::filesystem::exists(read_only.database));
}

}  // namespace
}  // namespace kiosk::journal
