// `kioskctl diagnose`'s "outbox" check against real outboxes and upload-status.json files the way
// the upload worker writes them: counts, backlog age, the current upload, rejected packages.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "kiosk/core/log.hpp"
#include "kiosk/ctl/diagnose.hpp"
#include "sync/outbox/outbox.hpp"

namespace kiosk::ctl {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct OutboxDiagnoseTest : ::testing::Test {
  fs::path root;
  KioskConfig config;

  static void SetUpTestSuite() { log::set_min_level(log::Level::error); }
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "kiosk-outbox-diagnose-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root = pattern;
    config.state_dir = root;
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root, ignored);
  }

  void seal(int n, std::chrono::system_clock::time_point sealed_at) {
    outbox::OutboxOptions options;
    options.state_dir = root;
    auto box = outbox::Outbox::open(options);
    ASSERT_TRUE(box) << box.error().to_string();
    const std::string name = "pkg-" + std::to_string(n);
    fs::create_directories(box->directory() / name);
    std::ofstream(box->directory() / name / "manifest.json") << "{}";
    auto queued = box->enqueue(outbox::PackageRef{.directory_name = name,
                                                  .package_id = name,
                                                  .transaction_id = "tx-0000000" + std::to_string(n),
                                                  .size_bytes = 3 * 1024 * 1024,
                                                  .manifest_sha256 = std::string(64, 'a')},
                               sealed_at);
    ASSERT_TRUE(queued) << queued.error().to_string();
  }

  void write_status(const std::string& json) { std::ofstream(root / "outbox" / "upload-status.json") << json; }
};

TEST_F(OutboxDiagnoseTest, NoOutboxYetPassesWithoutCreatingOne) {
  const Check check = check_outbox(config, DiagnoseLimits{}, std::chrono::system_clock::now());
  EXPECT_EQ(check.status, CheckStatus::pass);
  EXPECT_NE(check.detail.find("nothing has been sealed"), std::string::npos);
  EXPECT_FALSE(fs::exists(root / "outbox"));
}

TEST_F(OutboxDiagnoseTest, ShowsCountsPendingBytesAndTheCurrentUpload) {
  const auto now = std::chrono::system_clock::now();
  seal(1, now - 1h);
  write_status(R"({"format_version":1,"updated_at":"x","counts":{},"bytes_pending":0,"current":{"package":"pkg-1",
    "transaction_id":"tx-00000001","offset":1258291,"length":3145728,"bytes_per_second":524288},
    "last_error_code":"","rejected":[]})");
  const Check check = check_outbox(config, DiagnoseLimits{}, now);
  EXPECT_EQ(check.status, CheckStatus::pass) << check.detail;
  EXPECT_NE(check.detail.find("sealed 1,"), std::string::npos) << check.detail;
  EXPECT_NE(check.detail.find("3.0 MiB pending"), std::string::npos) << check.detail;
  EXPECT_NE(check.detail.find("oldest unsent 60 min"), std::string::npos) << check.detail;
  EXPECT_NE(check.detail.find("sending pkg-1 (tx-00000001) 1.2 MiB of 3.0 MiB (40%) at 0.5 MiB/s"), std::string::npos)
      << check.detail;
}

TEST_F(OutboxDiagnoseTest, BacklogOlderThanADayFails) {
  const auto now = std::chrono::system_clock::now();
  seal(1, now - 30h);
  const Check check = check_outbox(config, DiagnoseLimits{}, now);
  EXPECT_EQ(check.status, CheckStatus::fail) << check.detail;
  EXPECT_NE(check.detail.find("has not reached head office"), std::string::npos) << check.detail;
  EXPECT_NE(check.fix.find("gateway"), std::string::npos);
  config.evidence_upload = false;
  EXPECT_NE(check_outbox(config, DiagnoseLimits{}, now).fix.find("upload = true"), std::string::npos);
}

TEST_F(OutboxDiagnoseTest, RejectedPackagesFailWithCallHeadOffice) {
  const auto now = std::chrono::system_clock::now();
  seal(1, now - 1min);
  write_status(R"({"format_version":1,"current":null,"last_error_code":"PACKAGE_SIGNATURE_INVALID",
    "rejected":[{"package_id":"pkg-7","transaction_id":"tx-00000007","reason":"PACKAGE_SIGNATURE_INVALID"}]})");
  const Check check = check_outbox(config, DiagnoseLimits{}, now);
  EXPECT_EQ(check.status, CheckStatus::fail);
  EXPECT_NE(check.detail.find("pkg-7 (tx-00000007): PACKAGE_SIGNATURE_INVALID"), std::string::npos) << check.detail;
  EXPECT_NE(check.fix.find("call head office"), std::string::npos);
  // The same check in the JSON report.
  DiagnoseReport report;
  report.checks.push_back(check);
  EXPECT_NE(report_json(report).find("\"name\": \"outbox\""), std::string::npos);
  EXPECT_NE(report_text(report).find("[fail] outbox"), std::string::npos);
}

TEST_F(OutboxDiagnoseTest, StaleWorkerReportWarnsWhileEvidenceWaits) {
  const auto now = std::chrono::system_clock::now();
  seal(1, now - 1min);
  write_status(R"({"format_version":1,"current":null,"last_error_code":"GATEWAY_UNREACHABLE","rejected":[]})");
  const Check fresh = check_outbox(config, DiagnoseLimits{}, now);
  EXPECT_EQ(fresh.status, CheckStatus::pass) << fresh.detail;
  EXPECT_NE(fresh.detail.find("last error GATEWAY_UNREACHABLE"), std::string::npos);
  const Check stale = check_outbox(config, DiagnoseLimits{}, now + 10min);
  EXPECT_EQ(stale.status, CheckStatus::warn) << stale.detail;
  EXPECT_NE(stale.fix.find("kiosk program is running"), std::string::npos);
}

}  // namespace
}  // namespace kiosk::ctl
