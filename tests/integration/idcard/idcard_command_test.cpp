// `kioskctl idcard read|sam` against the real idcard-sim: the JSON keys of every card layout, and
// a specific message and a non-zero exit for each failure.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "kiosk/ctl/idcard_command.hpp"
#include "tests/support/command_run.hpp"
#include "tests/support/idcard_sim_process.hpp"

namespace {

using kiosk::testing::run_command;

class IdcardCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/idcard-cli-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    directory_ = pattern;
    sim_ = kiosk::testing::IdcardSimProcess::start(IDCARD_SIM_BINARY, directory_ / "tty", IDCARD_SIM_CARDS);
    ASSERT_NE(sim_, nullptr);
  }
  void TearDown() override {
    sim_.reset();
    std::filesystem::remove_all(directory_);
  }
  kiosk::testing::CommandRun read_json() {
    return run_command(kiosk::ctl::run_idcard_command,
                       {"read", "--device", (directory_ / "tty").string(), "--timeout-ms", "2000", "--json"});
  }

  std::filesystem::path directory_;
  std::unique_ptr<kiosk::testing::IdcardSimProcess> sim_;
};

TEST_F(IdcardCommand, ReadsAResidentCardAsJson) {
  ASSERT_EQ(sim_->command("place resident").rfind("ok", 0), 0u);
  const auto run = read_json();
  ASSERT_EQ(run.code, 0) << run.err;
  const auto json = nlohmann::json::parse(run.out);
  EXPECT_EQ(json["doc_type"], "prc-id");
  EXPECT_EQ(json["id_number"], "11010519491231002X");
  EXPECT_EQ(json["birth_date"], "1949-12-31");
  EXPECT_EQ(json["nation"], "汉");
  EXPECT_EQ(json["valid_until"], "long-term");
  EXPECT_EQ(json["photo_bytes"], 1024);
  EXPECT_EQ(json["photo_sha256"].get<std::string>().size(), 64u);
  EXPECT_EQ(json["document_check"]["result"], "ok");
  for (const char* key : {"name", "sex", "address", "issuer", "valid_from"}) EXPECT_TRUE(json.contains(key)) << key;
}

TEST_F(IdcardCommand, EveryLayoutHasItsOwnFields) {
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases{
      {"hkmotw-residence", {"pass_number", "issue_count", "address"}},
      {"foreign-pr-2017", {"english_name", "nationality", "card_version"}},
      {"foreign-pr-2023", {"english_name", "nationality", "renewal_count"}},
  };
  for (const auto& [card, keys] : cases) {
    ASSERT_EQ(sim_->command("place " + card).rfind("ok", 0), 0u);
    const auto run = read_json();
    ASSERT_EQ(run.code, 0) << card << ": " << run.err;
    const auto json = nlohmann::json::parse(run.out);
    EXPECT_EQ(json["doc_type"], card);
    for (const auto& key : keys) EXPECT_TRUE(json.contains(key)) << card << " lacks " << key;
  }
}

TEST_F(IdcardCommand, AnExpiredCardReadsButItsCheckSaysSo) {
  ASSERT_EQ(sim_->command("place expired").rfind("ok", 0), 0u);
  const auto run = read_json();
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(nlohmann::json::parse(run.out)["document_check"]["result"], "ID_EXPIRED");
}

TEST_F(IdcardCommand, FailuresExitOneWithTheDriversCode) {
  auto run = read_json();  // no card
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("IDCARD_NO_CARD (noMedia)"), std::string::npos) << run.err;
  ASSERT_EQ(sim_->command("place resident").rfind("ok", 0), 0u);
  ASSERT_EQ(sim_->command("fault status 0x41 on read").rfind("ok", 0), 0u);
  run = read_json();
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("IDCARD_CARD_MOVED"), std::string::npos) << run.err;
  run = run_command(kiosk::ctl::run_idcard_command, {"read", "--device", (directory_ / "absent").string(), "--json"});
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("IDCARD_NO_DEVICE (deviceNotReady)"), std::string::npos) << run.err;
}

TEST_F(IdcardCommand, SamPrintsIdAndStatus) {
  const auto run =
      run_command(kiosk::ctl::run_idcard_command, {"sam", "--device", (directory_ / "tty").string(), "--json"});
  ASSERT_EQ(run.code, 0) << run.err;
  const auto json = nlohmann::json::parse(run.out);
  EXPECT_EQ(json["sam_id"], "05.01-20101111-0012345678-1234567890");
  EXPECT_EQ(json["status"], "ok");
}

TEST(IdcardCommandUsage, WrongUsageExitsTwo) {
  EXPECT_EQ(run_command(kiosk::ctl::run_idcard_command, {"read"}).code, 2);  // no --device
  EXPECT_EQ(run_command(kiosk::ctl::run_idcard_command, {"read", "--device", "x", "--baud", "1200"}).code, 2);
  EXPECT_EQ(run_command(kiosk::ctl::run_idcard_command, {"read", "--device", "x", "--timeout-ms", "0"}).code, 2);
  EXPECT_EQ(run_command(kiosk::ctl::run_idcard_command, {"sam", "--device", "x", "--fingerprint"}).code, 2);
  EXPECT_EQ(run_command(kiosk::ctl::run_idcard_command, {"erase"}).code, 2);
  EXPECT_EQ(run_command(kiosk::ctl::run_idcard_command, {"--help"}).code, 0);
}

}  // namespace
