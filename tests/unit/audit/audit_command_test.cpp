// `kioskctl audit verify`: exit 0 with count and head hash, 1 naming the first bad entry, 2 for
// bad arguments or an unreadable database.
#include "kiosk/ctl/audit_command.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "kiosk/core/audit/audit_log.hpp"

#include "tests/support/command_run.hpp"

namespace kiosk::ctl {
namespace {

using kiosk::testing::CommandRun;

CommandRun run(const std::vector<std::string>& args) { return kiosk::testing::run_command(run_audit_command, args); }

std::filesystem::path make_log(const std::string& name, int entries) {
  const auto dir = std::filesystem::temp_directory_path() / ("kiosk_audit_cli_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto path = dir / (name + ".sqlite");
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + suffix);
  ManualClock clock;
  auto log = audit::AuditLog::open(path, clock);
  EXPECT_TRUE(log);
  for (int i = 1; i <= entries; ++i) {
    EXPECT_TRUE(log->append(audit::AuditEvent{"S1", "operator", "K-1", audit::AuditAction::config_changed, "kiosk.toml",
                                              "ok", "entry " + std::to_string(i)}));
  }
  return path;
}

TEST(AuditCommand, VerifiedLogPrintsCountAndHeadHash) {
  const auto path = make_log("good", 4);
  const CommandRun result = run({"verify", "--db", path.string()});
  EXPECT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("audit log verified: 4 entries"), std::string::npos) << result.out;
  ManualClock clock;
  auto log = audit::AuditLog::open(path, clock);
  ASSERT_TRUE(log);
  auto head = log->head();
  ASSERT_TRUE(head);
  EXPECT_NE(result.out.find("head hash: " + head->head_hash), std::string::npos) << result.out;

  const CommandRun with_checkpoint = run({"verify", "--db", path.string(), "--checkpoint", "4:" + head->head_hash});
  EXPECT_EQ(with_checkpoint.code, 0) << with_checkpoint.err;
}

TEST(AuditCommand, TamperedLogNamesFirstBadEntryAndExitsOne) {
  const auto path = make_log("tampered", 5);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE sequence = 2;", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  const CommandRun result = run({"verify", "--db", path.string()});
  EXPECT_EQ(result.code, 1);
  EXPECT_NE(result.out.find("BROKEN at entry 2: AUDIT_ENTRY_MISSING"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("entries verified before it: 1"), std::string::npos) << result.out;
}

TEST(AuditCommand, BadArgumentsAndUnreadableDatabaseExitTwo) {
  EXPECT_EQ(run({}).code, 2);
  EXPECT_EQ(run({"check"}).code, 2);
  EXPECT_EQ(run({"verify", "--db"}).code, 2);
  EXPECT_EQ(run({"verify", "--checkpoint", "3:nothex"}).code, 2);
  const CommandRun missing = run({"verify", "--db", "/nonexistent/journal.sqlite"});
  EXPECT_EQ(missing.code, 2);
  EXPECT_NE(missing.err.find("AUDIT_DB_UNREADABLE"), std::string::npos) << missing.err;
}

TEST(AuditCommand, HelpExplainsCodesAndExitStatus) {
  const CommandRun result = run({"--help"});
  EXPECT_EQ(result.code, 0);
  EXPECT_NE(result.out.find("AUDIT_ENTRY_OUT_OF_ORDER"), std::string::npos);
  EXPECT_NE(result.out.find("Exit status"), std::string::npos);
}

}  // namespace
}  // namespace kiosk::ctl
