#include "kiosk/ctl/journal_command.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdio>

#include "journal_test_support.hpp"

#include "tests/support/command_run.hpp"

namespace kiosk::ctl {
namespace {

using journal::testing::bytes_of;
using journal::testing::JournalFixture;
using journal::testing::sample_header;
using journal::testing::sample_step;

kiosk::testing::CommandRun run(const std::vector<std::string>& args) {
  return kiosk::testing::run_command(run_journal_command, args);
}

struct JournalCommandTest : JournalFixture {
  journal::TxId tx = 0;

  void SetUp() override {
    auto journal = open_journal();
    tx = journal.open_transaction(sample_header()).value();
    journal::StepRecord consent{StepId::consent, "", std::nullopt, clock.now(), clock.now(), "ok"};
    auto consent_step = journal.commit_step(tx, consent, {});
    ASSERT_TRUE(consent_step) << consent_step.error().to_string();
    const auto photo = bytes_of("abc");
    const std::array evidence{journal::EvidenceInput::from_bytes("chip_photo", photo)};
    ASSERT_TRUE(journal.commit_step(tx, sample_step(StepId::idv, clock), evidence));
  }
  std::string db() const { return options().database.string(); }
};

TEST_F(JournalCommandTest, JsonShowsTheTransactionItsStepsAndEvidence) {
  const auto result = run({"show", std::to_string(tx), "--db", db(), "--json"});
  ASSERT_EQ(result.code, 0) << result.err;
  const std::string& json = result.out;
  EXPECT_NE(json.find("\"transaction\":{\"id\":" + std::to_string(tx)), std::string::npos) << json;
  EXPECT_NE(json.find("\"state\":\"open\""), std::string::npos);
  EXPECT_NE(json.find("\"rule_pack_version\":\"2026.11-r1\""), std::string::npos);
  EXPECT_NE(json.find("\"step\":\"consent\",\"actor_staff_id\":null,\"actor_role\":null"), std::string::npos);
  EXPECT_NE(json.find("\"step\":\"idv\",\"actor_staff_id\":\"S1001\",\"actor_role\":\"witness\""), std::string::npos);
  EXPECT_NE(json.find("\"started_at\":\"2023-11-14T22:13:20.000Z\""), std::string::npos);
  EXPECT_NE(json.find("\"kind\":\"chip_photo\",\"path\":\"tx-00000001/s002-idv-1-chip_photo\",\"size\":3,"
                      "\"sha256\":\"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\""),
            std::string::npos)
      << json;
}

TEST_F(JournalCommandTest, TextNamesEachStepItsActorAndItsEvidence) {
  const auto result = run({"show", std::to_string(tx), "--db", db()});
  ASSERT_EQ(result.code, 0) << result.err;
  EXPECT_NE(result.out.find("Transaction 1: open"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("1. consent  result ok"), std::string::npos);
  EXPECT_NE(result.out.find("by investor (no staff)"), std::string::npos);
  EXPECT_NE(result.out.find("by S1001 (witness)"), std::string::npos);
  EXPECT_NE(result.out.find("3 bytes  sha256 ba7816bf"), std::string::npos);
}

TEST_F(JournalCommandTest, AnUnknownTransactionExitsOneWithAClearMessage) {
  const auto result = run({"show", "999", "--db", db()});
  EXPECT_EQ(result.code, 1);
  EXPECT_TRUE(result.out.empty());
  EXPECT_NE(result.err.find("JOURNAL_TX_UNKNOWN"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("999"), std::string::npos);
}

TEST_F(JournalCommandTest, AMissingJournalExitsOne) {
  const auto result = run({"show", "1", "--db", (dir.path() / "nope.sqlite").string()});
  EXPECT_EQ(result.code, 1);
  EXPECT_NE(result.err.find("JOURNAL_NOT_FOUND"), std::string::npos);
}

TEST_F(JournalCommandTest, WrongUsageExitsTwo) {
  EXPECT_EQ(run({}).code, 2);
  EXPECT_EQ(run({"list"}).code, 2);
  EXPECT_EQ(run({"show"}).code, 2);
  EXPECT_EQ(run({"show", "abc", "--db", db()}).code, 2);
  EXPECT_EQ(run({"show", "-5", "--db", db()}).code, 2);
  EXPECT_EQ(run({"show", "1", "2", "--db", db()}).code, 2);
  EXPECT_EQ(run({"show", "1", "--db"}).code, 2);
  const auto unknown = run({"show", "1", "--verbose"});
  EXPECT_EQ(unknown.code, 2);
  EXPECT_NE(unknown.err.find("--verbose"), std::string::npos);
}

TEST_F(JournalCommandTest, HelpExplainsTheCommandAndItsExitCodes) {
  const auto result = run({"--help"});
  EXPECT_EQ(result.code, 0);
  EXPECT_NE(result.out.find("kioskctl journal show TXID [--db PATH] [--json]"), std::string::npos);
  EXPECT_NE(result.out.find("/var/lib/kiosk/journal.sqlite"), std::string::npos);
  EXPECT_NE(result.out.find("Exit status"), std::string::npos);
  EXPECT_EQ(run({"show", "--help"}).code, 0);
}

}  // namespace
}  // namespace kiosk::ctl
