// kioskctl diagnose on crafted configurations: certificates made here (valid, expiring, expired),
// missing files, simulator and real device entries. gateway_lib is used only to make certificates.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "kiosk/ctl/diagnose.hpp"
#include "sync/gateway/pki.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using kiosk::ctl::CheckStatus;

namespace {

class DiagnoseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "ctl-unit-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    config_.state_dir = root_;
    config_.gateway_ca_file = root_ / "ca.crt";
    config_.device_cert_file = root_ / "device.crt";
    config_.device_key_file = root_ / "device.key";
    config_.gateway_url = "https://127.0.0.1:1";  // nothing listens on port 1
    config_.gateway_timeout = 2s;
    ca_key_ = std::move(*kiosk::gateway::generate_p256_key());
    ca_ = std::move(*kiosk::gateway::issue_certificate(
        {"Test CA", kiosk::gateway::CertProfile::certificate_authority, {}, -60s, 24h * 30}, ca_key_.get(), nullptr,
        nullptr));
    ASSERT_TRUE(kiosk::gateway::write_file_atomically(config_.gateway_ca_file,
                                                      *kiosk::gateway::certificate_pem(ca_.get()), 0644));
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  void write_device_certificate(std::chrono::seconds not_before, std::chrono::seconds not_after) {
    auto key = kiosk::gateway::generate_p256_key();
    auto cert = kiosk::gateway::issue_certificate(
        {"SIM-0001", kiosk::gateway::CertProfile::tls_client, {}, not_before, not_after}, key->get(), ca_.get(),
        ca_key_.get());
    ASSERT_TRUE(cert) << cert.error().to_string();
    ASSERT_TRUE(kiosk::gateway::write_file_atomically(config_.device_cert_file,
                                                      *kiosk::gateway::certificate_pem(cert->get()), 0644));
    ASSERT_TRUE(kiosk::gateway::write_file_atomically(config_.device_key_file,
                                                      *kiosk::gateway::private_key_pem(key->get()), 0600));
  }

  const kiosk::ctl::Check* find(const std::vector<kiosk::ctl::Check>& checks, std::string_view name) {
    for (const auto& check : checks) {
      if (check.name == name) return &check;
    }
    return nullptr;
  }

  fs::path root_;
  kiosk::KioskConfig config_;
  kiosk::gateway::KeyPtr ca_key_;
  kiosk::gateway::CertPtr ca_;
};

TEST_F(DiagnoseTest, ValidCertificatePassesWithDaysUntilExpiry) {
  write_device_certificate(-60s, 24h * 100);
  const auto check = kiosk::ctl::check_device_certificate(config_, {});
  EXPECT_EQ(check.status, CheckStatus::pass) << check.detail;
  // 100 days minus the moments since issuing; whole days round down unless in the same second.
  EXPECT_TRUE(check.detail.find("expires in 99 days") != std::string::npos ||
              check.detail.find("expires in 100 days") != std::string::npos)
      << check.detail;
}

TEST_F(DiagnoseTest, CertificateExpiringWithin30DaysWarns) {
  write_device_certificate(-60s, 24h * 10);
  const auto check = kiosk::ctl::check_device_certificate(config_, {});
  EXPECT_EQ(check.status, CheckStatus::warn) << check.detail;
  EXPECT_FALSE(check.fix.empty());
}

TEST_F(DiagnoseTest, ExpiredCertificateFails) {
  write_device_certificate(-24h * 400, -24h * 3);
  const auto check = kiosk::ctl::check_device_certificate(config_, {});
  EXPECT_EQ(check.status, CheckStatus::fail);
  EXPECT_NE(check.detail.find("expired"), std::string::npos) << check.detail;
  EXPECT_NE(check.fix.find("renew"), std::string::npos) << check.fix;
}

TEST_F(DiagnoseTest, MissingOrGarbageCertificateFails) {
  auto missing = kiosk::ctl::check_device_certificate(config_, {});
  EXPECT_EQ(missing.status, CheckStatus::fail);
  EXPECT_NE(missing.detail.find("missing"), std::string::npos);
  std::ofstream(config_.device_cert_file) << "not a certificate";
  auto garbage = kiosk::ctl::check_device_certificate(config_, {});
  EXPECT_EQ(garbage.status, CheckStatus::fail);
  EXPECT_NE(garbage.detail.find("not a PEM certificate"), std::string::npos);
}

TEST_F(DiagnoseTest, TheIdReaderIsAskedForItsSamStatus) {
  config_.id_reader = "sim";
  config_.state_dir = root_;
  auto absent = kiosk::ctl::check_id_reader(config_);
  EXPECT_EQ(absent.status, CheckStatus::fail);
  EXPECT_EQ(absent.name, "devices.id_reader");
  EXPECT_NE(absent.detail.find("IDCARD_NO_DEVICE"), std::string::npos) << absent.detail;
  EXPECT_NE(absent.fix.find("idcard-sim"), std::string::npos) << absent.fix;
  config_.id_reader = (root_ / "not-a-tty").string();
  std::ofstream(root_ / "not-a-tty") << "";
  auto not_tty = kiosk::ctl::check_id_reader(config_);
  EXPECT_EQ(not_tty.status, CheckStatus::fail);
  EXPECT_NE(not_tty.fix.find("kioskctl idcard sam"), std::string::npos) << not_tty.fix;
}

TEST_F(DiagnoseTest, SimulatedDevicesWarnThatTheyAreNotInThisBuild) {
  for (const char* key : {"token_module", "camera", "printer"}) {
    const auto check = kiosk::ctl::check_device(key, "sim");
    EXPECT_EQ(check.status, CheckStatus::warn) << key;
    EXPECT_EQ(check.name, std::string("devices.") + key);
    EXPECT_NE(check.detail.find("is not available in this build yet"), std::string::npos) << check.detail;
    EXPECT_NE(check.fix.find("use a build that includes the"), std::string::npos) << check.fix;
  }
}

TEST_F(DiagnoseTest, RealDevicePathsAreChecked) {
  EXPECT_EQ(kiosk::ctl::check_device("camera", (root_ / "video0").string()).status, CheckStatus::fail);
  std::ofstream(root_ / "video0") << "";
  EXPECT_EQ(kiosk::ctl::check_device("camera", (root_ / "video0").string()).status, CheckStatus::pass);
  // A token module must be a readable file, not a directory.
  EXPECT_EQ(kiosk::ctl::check_device("token_module", root_.string()).status, CheckStatus::fail);
  std::ofstream(root_ / "libvendor-pkcs11.so") << "ELF";
  EXPECT_EQ(kiosk::ctl::check_device("token_module", (root_ / "libvendor-pkcs11.so").string()).status,
            CheckStatus::pass);
}

TEST_F(DiagnoseTest, UnreachableGatewayFailsWithTheStableCode) {
  write_device_certificate(-60s, 24h * 100);
  const auto check = kiosk::ctl::check_gateway(config_);
  EXPECT_EQ(check.status, CheckStatus::fail);
  EXPECT_NE(check.detail.find("GATEWAY_UNREACHABLE"), std::string::npos) << check.detail;
  EXPECT_FALSE(check.fix.empty());
}

TEST_F(DiagnoseTest, MissingFilesAndStateDirectoryFail) {
  config_.font_file = root_ / "no-font.ttc";
  config_.state_dir = root_ / "no-state";
  const auto checks = kiosk::ctl::run_checks(config_, {});
  ASSERT_NE(find(checks, "font"), nullptr);
  EXPECT_EQ(find(checks, "font")->status, CheckStatus::fail);
  EXPECT_EQ(find(checks, "state_dir")->status, CheckStatus::fail);
  EXPECT_EQ(find(checks, "device_certificate")->status, CheckStatus::fail);
  EXPECT_EQ(find(checks, "gateway_ca")->status, CheckStatus::pass);
  for (const auto& check : checks) {
    if (check.status != CheckStatus::pass) {
      EXPECT_FALSE(check.fix.empty()) << check.name;
    }
  }
}

TEST_F(DiagnoseTest, LowDiskSpaceWarns) {
  kiosk::ctl::DiagnoseLimits limits;
  limits.min_free_bytes = std::numeric_limits<std::uint64_t>::max();
  const auto checks = kiosk::ctl::run_checks(config_, limits);
  EXPECT_EQ(find(checks, "disk_space")->status, CheckStatus::warn);
  EXPECT_EQ(find(checks, "state_dir")->status, CheckStatus::pass);
}

TEST_F(DiagnoseTest, ConfigErrorsStopTheOtherChecks) {
  auto missing = kiosk::ctl::diagnose(root_ / "absent.toml");
  ASSERT_EQ(missing.checks.size(), 1u);
  EXPECT_EQ(missing.checks[0].name, "config");
  EXPECT_EQ(missing.checks[0].status, CheckStatus::fail);
  EXPECT_TRUE(missing.has_failure());

  std::ofstream(root_ / "bad.toml") << "[gateway]\ntimeout_seconds = 0\n";
  auto bad = kiosk::ctl::diagnose(root_ / "bad.toml");
  ASSERT_EQ(bad.checks.size(), 1u);
  EXPECT_NE(bad.checks[0].detail.find("gateway.timeout_seconds"), std::string::npos) << bad.checks[0].detail;
}

TEST_F(DiagnoseTest, JsonReportHasTheDocumentedShape) {
  std::ofstream(root_ / "kiosk.toml") << "[kiosk]\nstate_dir = \".\"\n[gateway]\nurl = \"https://127.0.0.1:1\"\n"
                                      << "ca_file = \"ca.crt\"\ntimeout_seconds = 1\n";
  const auto report = kiosk::ctl::diagnose(root_ / "kiosk.toml");
  const auto json = nlohmann::json::parse(kiosk::ctl::report_json(report));
  EXPECT_TRUE(json["kioskctl_version"].is_string());
  EXPECT_EQ(json["config"], (root_ / "kiosk.toml").string());
  ASSERT_TRUE(json["checks"].is_array());
  EXPECT_EQ(json["checks"].size(), 12u);  // "outbox" is the twelfth
  for (const auto& check : json["checks"]) {
    for (const char* field : {"name", "status", "detail", "fix"}) EXPECT_TRUE(check.contains(field)) << field;
  }
  EXPECT_EQ(
      json["summary"]["pass"].get<int>() + json["summary"]["warn"].get<int>() + json["summary"]["fail"].get<int>(), 12);
  EXPECT_GE(json["summary"]["warn"].get<int>(), 3);  // the three devices not built yet (token, camera, printer)
}

TEST(KioskctlVersion, NamesEveryComponent) {
  const std::string text = kiosk::ctl::version_text();
  for (const char* part : {"kioskctl", "build type", "compiler", "OpenSSL", "libcurl", "SQLite"}) {
    EXPECT_NE(text.find(part), std::string::npos) << part;
  }
}

}  // namespace
