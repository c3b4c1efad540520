// REQ-45 / M2 E12: the audit log is append-only and hash-chained; verify() names the first
// altered, missing or reordered entry, and a checkpoint catches a truncated or rewritten tail.
#include "kiosk/core/audit/audit_log.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <string>

namespace kiosk::audit {
namespace {

std::filesystem::path fresh_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("kiosk_audit_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / (name + ".sqlite");
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  return path;
}

AuditEvent event(int n) {
  return AuditEvent{
      "S100" + std::to_string(n), "witness", "K-0001", AuditAction::staff_assigned, "TX-" + std::to_string(n), "ok",
      "n=" + std::to_string(n)};
}

// Raw access to the file, as an attacker with the disk would have: the append-only triggers are
// dropped first, because they guard against the program, not against someone editing the file.
class RawDb {
 public:
  explicit RawDb(const std::filesystem::path& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    exec("DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;");
  }
  ~RawDb() { sqlite3_close(db_); }
  void exec(const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    EXPECT_EQ(rc, SQLITE_OK) << (message != nullptr ? message : "");
    sqlite3_free(message);
  }

 private:
  sqlite3* db_ = nullptr;
};

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = fresh_path(::testing::UnitTest::GetInstance()->current_test_info()->name());
    auto opened = AuditLog::open(path_, clock_);
    ASSERT_TRUE(opened) << opened.error().to_string();
    log_.emplace(std::move(*opened));
  }
  void append(int count) {
    for (int i = 1; i <= count; ++i) {
      auto entry = log_->append(event(i));
      ASSERT_TRUE(entry) << entry.error().to_string();
      clock_.advance(std::chrono::milliseconds{1500});
    }
  }
  VerifyReport verify(const std::optional<Checkpoint>& expected = std::nullopt) {
    auto report = log_->verify(expected);
    EXPECT_TRUE(report) << report.error().to_string();
    return report.value_or(VerifyReport{});
  }

  ManualClock clock_;
  std::filesystem::path path_;
  std::optional<AuditLog> log_;
};

TEST_F(AuditLogTest, AppendsChainedEntriesWithInjectedTime) {
  append(3);
  auto entries = log_->entries();
  ASSERT_TRUE(entries);
  ASSERT_EQ(entries->size(), 3U);
  EXPECT_EQ((*entries)[0].sequence, 1);
  EXPECT_EQ((*entries)[0].prev_hash, kGenesisHash);
  EXPECT_EQ((*entries)[0].time_utc, "2023-11-14T22:13:20.000Z");
  EXPECT_EQ((*entries)[1].time_utc, "2023-11-14T22:13:21.500Z");
  EXPECT_EQ((*entries)[1].prev_hash, (*entries)[0].entry_hash);
  EXPECT_EQ((*entries)[2].prev_hash, (*entries)[1].entry_hash);
  EXPECT_EQ((*entries)[2].action, "staff_assigned");
  for (const auto& entry : *entries) EXPECT_EQ(compute_entry_hash(entry), entry.entry_hash);

  const VerifyReport report = verify();
  EXPECT_FALSE(report.problem);
  EXPECT_EQ(report.verified.count, 3);
  EXPECT_EQ(report.verified.head_hash, (*entries)[2].entry_hash);
  auto head = log_->head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->count, 3);
  EXPECT_EQ(head->head_hash, report.verified.head_hash);
}

TEST_F(AuditLogTest, EmptyLogVerifiesToGenesis) {
  const VerifyReport report = verify(Checkpoint{0, std::string(kGenesisHash)});
  EXPECT_FALSE(report.problem);
  EXPECT_EQ(report.verified.count, 0);
  EXPECT_EQ(report.verified.head_hash, kGenesisHash);
}

TEST_F(AuditLogTest, TheProgramCannotUpdateOrDeleteEntries) {
  append(2);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "UPDATE audit_log SET result = 'x' WHERE sequence = 1", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_NE(sqlite3_exec(db, "DELETE FROM audit_log WHERE sequence = 2", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_FALSE(verify().problem);
}

TEST_F(AuditLogTest, EditedEntryIsNamed) {
  append(5);
  RawDb(path_).exec("UPDATE audit_log SET result = 'ok-forged' WHERE sequence = 3");
  const VerifyReport report = verify();
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->code, "AUDIT_ENTRY_ALTERED");
  EXPECT_EQ(report.problem->sequence, 3);
  EXPECT_EQ(report.verified.count, 2);
}

TEST_F(AuditLogTest, EditedEntryWithRecomputedHashIsNamedByItsSuccessor) {
  append(5);
  auto entries = log_->entries();
  ASSERT_TRUE(entries);
  AuditEntry forged = (*entries)[1];
  forged.actor_id = "S9999";
  forged.entry_hash = compute_entry_hash(forged);
  RawDb(path_).exec("UPDATE audit_log SET actor_id = 'S9999', entry_hash = '" + forged.entry_hash +
                    "' WHERE sequence = 2");
  const VerifyReport report = verify();
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->code, "AUDIT_ENTRY_ALTERED");
  EXPECT_EQ(report.problem->sequence, 2);
  EXPECT_EQ(report.verified.count, 1);
  EXPECT_EQ(report.verified.head_hash, (*entries)[0].entry_hash);
}

TEST_F(AuditLogTest, DeletedEntryIsNamed) {
  append(5);
  RawDb(path_).exec("DELETE FROM audit_log WHERE sequence = 3");
  const VerifyReport report = verify();
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->code, "AUDIT_ENTRY_MISSING");
  EXPECT_EQ(report.problem->sequence, 3);
  EXPECT_EQ(report.verified.count, 2);
}

TEST_F(AuditLogTest, DeletedFirstEntryIsNamed) {
  append(3);
  RawDb(path_).exec("DELETE FROM audit_log WHERE sequence = 1");
  const VerifyReport report = verify();
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->code, "AUDIT_ENTRY_MISSING");
  EXPECT_EQ(report.problem->sequence, 1);
}

TEST_F(AuditLogTest, SwappedEntriesAreNamed) {
  append(5);
  RawDb(path_).exec(
      "UPDATE audit_log SET position = -3 WHERE sequence = 3;"
      "UPDATE audit_log SET position = 3 WHERE sequence = 4;"
      "UPDATE audit_log SET position = 4 WHERE sequence = 3;");
  const VerifyReport report = verify();
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->code, "AUDIT_ENTRY_OUT_OF_ORDER");
  EXPECT_EQ(report.problem->sequence, 3);
  EXPECT_EQ(report.verified.count, 2);
}

TEST_F(AuditLogTest, SwappedContentIsNamedAsAltered) {
  append(4);
  // Exchange the content of two rows but keep their sequence numbers and hashes in place.
  RawDb(path_).exec(
      "UPDATE audit_log SET actor_id = (SELECT actor_id FROM audit_log WHERE sequence = 3), "
      "object = (SELECT object FROM audit_log WHERE sequence = 3) WHERE sequence = 2;");
  const VerifyReport report = verify();
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->code, "AUDIT_ENTRY_ALTERED");
  EXPECT_EQ(report.problem->sequence, 2);
}

TEST_F(AuditLogTest, TruncatedTailIsCaughtAgainstCheckpoint) {
  append(5);
  auto checkpoint = log_->head();
  ASSERT_TRUE(checkpoint);
  RawDb(path_).exec("DELETE FROM audit_log WHERE sequence >= 4");
  // Without the checkpoint a cut-off tail looks like a shorter, intact log.
  EXPECT_FALSE(verify().problem);
  const VerifyReport report = verify(*checkpoint);
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->code, "AUDIT_TAIL_TRUNCATED");
  EXPECT_EQ(report.problem->sequence, 4);
  EXPECT_EQ(report.verified.count, 3);
}

TEST_F(AuditLogTest, RewrittenTailIsCaughtAgainstCheckpoint) {
  append(5);
  auto checkpoint = log_->head();
  ASSERT_TRUE(checkpoint);
  RawDb(path_).exec("DELETE FROM audit_log WHERE sequence = 5");
  ASSERT_TRUE(log_->append(event(42)));  // a new, well-formed entry 5 replaces the original
  EXPECT_FALSE(verify().problem);
  const VerifyReport report = verify(*checkpoint);
  ASSERT_TRUE(report.problem);
  EXPECT_EQ(report.problem->code, "AUDIT_CHECKPOINT_MISMATCH");
  EXPECT_EQ(report.problem->sequence, 5);
}

TEST_F(AuditLogTest, OpenUsesWriteAheadLog) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path_.c_str(), &db), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST(AuditLogAttach, AppendJoinsTheCallersTransaction) {
  ManualClock clock;
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(":memory:", &db), SQLITE_OK);
  auto log = AuditLog::attach(db, clock);
  ASSERT_TRUE(log) << log.error().to_string();
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE step (id INTEGER)", nullptr, nullptr, nullptr), SQLITE_OK);

  // A step and its audit entry roll back together...
  ASSERT_EQ(sqlite3_exec(db, "BEGIN; INSERT INTO step VALUES (1);", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_TRUE(log->append(event(1)));
  ASSERT_EQ(sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  auto head = log->head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->count, 0);

  // ...and commit together; the append did not end the caller's transaction early.
  ASSERT_EQ(sqlite3_exec(db, "BEGIN; INSERT INTO step VALUES (2);", nullptr, nullptr, nullptr), SQLITE_OK);
  ASSERT_TRUE(log->append(event(2)));
  EXPECT_EQ(sqlite3_get_autocommit(db), 0);
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  head = log->head();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->count, 1);

  // Outside any transaction the append commits on its own.
  ASSERT_TRUE(log->append(event(3)));
  EXPECT_NE(sqlite3_get_autocommit(db), 0);
  auto report = log->verify();
  ASSERT_TRUE(report);
  EXPECT_FALSE(report->problem);
  EXPECT_EQ(report->verified.count, 2);
  sqlite3_close(db);
}

TEST(AuditLogFile, VerifyFileRefusesMissingFileAndForeignDatabase) {
  const auto missing = fresh_path("missing");
  auto report = AuditLog::verify_file(missing);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, "AUDIT_DB_UNREADABLE");
  EXPECT_FALSE(std::filesystem::exists(missing));  // verification never creates a database

  const auto foreign = fresh_path("foreign");
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(foreign.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE other (x)", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  report = AuditLog::verify_file(foreign);
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, "AUDIT_NO_LOG");
}

TEST(AuditHash, EncodingIsLengthPrefixedSoFieldBoundariesMatter) {
  AuditEntry a;
  a.actor_id = "ab";
  a.actor_role = "c";
  AuditEntry b = a;
  b.actor_id = "a";
  b.actor_role = "bc";
  EXPECT_NE(compute_entry_hash(a), compute_entry_hash(b));
  EXPECT_EQ(compute_entry_hash(a).size(), 64U);
}

TEST(AuditAction, EveryActionHasADistinctStableName) {
  std::set<std::string_view> names;
  for (const auto& [action, name] : EnumNames<AuditAction>::values) {
    EXPECT_TRUE(names.insert(name).second) << name;
    EXPECT_EQ(parse_enum<AuditAction>(name), action);
  }
  EXPECT_EQ(to_string(AuditAction::clock_changed), "clock_changed");
  EXPECT_EQ(to_string(AuditAction::rule_pack_loaded), "rule_pack_loaded");
  EXPECT_EQ(to_string(AuditAction::evidence_recorded), "evidence_recorded");
}

}  // namespace
}  // namespace kiosk::audit
