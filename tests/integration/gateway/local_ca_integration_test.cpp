// local-ca end to end through the CaAdapter interface on a real data directory, with the OpenSSL
// command line as an independent verifier: each of the six operations, then `openssl verify
// -crl_check` must accept the live certificate and reject the revoked, superseded and held ones.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>

#include "kiosk/core/clock.hpp"
#include "sync/client/https_client.hpp"
#include "sync/gateway/ca/local_ca.hpp"
#include "sync/gateway/pki.hpp"
#include "tests/support/test_csr.hpp"

namespace kiosk::gateway::ca {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream out(file, std::ios::binary);
  out << text;
}

struct CommandResult {
  int exit_code = -1;
  std::string output;
};

CommandResult run_command(const std::string& command) {
  CommandResult result;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return result;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) result.output += buffer;
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

class LocalCaLifecycle : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("local-ca-it-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    if (run_command("openssl version").exit_code != 0) GTEST_SKIP() << "the openssl command is not installed";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // `openssl verify` at the CA's clock time, with the current CRL.
  CommandResult verify(LocalCa& ca, const std::string& certificate_pem, std::int64_t at) {
    write_text(dir_ / "root.pem", ca.root_certificate_pem());
    write_text(dir_ / "issuing.pem", ca.issuing_certificate_pem());
    write_text(dir_ / "leaf.pem", certificate_pem);
    auto crl = ca.crl_pem();
    EXPECT_TRUE(crl) << crl.error().to_string();
    write_text(dir_ / "crl.pem", crl.value_or(""));
    const std::string d = dir_.string();
    return run_command("openssl verify -attime " + std::to_string(at) + " -crl_check -CAfile " + d +
                       "/root.pem -untrusted " + d + "/issuing.pem -CRLfile " + d + "/crl.pem -purpose sslclient " + d +
                       "/leaf.pem");
  }

  fs::path dir_;
};

TEST_F(LocalCaLifecycle, SixOperationsAreSeenByAnIndependentVerifier) {
  ManualClock clock{std::chrono::system_clock::now()};
  auto at = [&] { return std::chrono::duration_cast<std::chrono::seconds>(clock.now().time_since_epoch()).count(); };
  LocalCaOptions options;
  options.data_dir = dir_ / "gateway-data";
  options.clock = &clock;
  options.profile.validity_days = 60;
  options.profile.renewal_window_days = 30;
  auto opened = LocalCa::open(options);
  ASSERT_TRUE(opened) << opened.error().to_string();
  CaAdapter& adapter = **opened;  // the operations go through the interface the gateway uses

  CaSubject subject;
  subject.identity.id_number = "11010519491231002X";
  subject.common_name = "测试一";

  // apply
  const std::string first_csr = kiosk::testing::new_ec_csr_pem();
  auto applied = adapter.apply({"it-apply", subject, first_csr, Medium::hard});
  ASSERT_TRUE(applied) << applied.error().to_string();
  auto verdict = verify(**opened, applied->certificate_pem, at());
  EXPECT_EQ(verdict.exit_code, 0) << verdict.output;

  // freeze: listed as held
  ASSERT_TRUE(adapter.freeze({"it-freeze", applied->status.serial, "LOST_MEDIUM"}));
  verdict = verify(**opened, applied->certificate_pem, at());
  EXPECT_NE(verdict.exit_code, 0);
  EXPECT_NE(verdict.output.find("revoked"), std::string::npos) << verdict.output;

  // unfreeze: valid again
  ASSERT_TRUE(adapter.unfreeze({"it-unfreeze", applied->status.serial}));
  verdict = verify(**opened, applied->certificate_pem, at());
  EXPECT_EQ(verdict.exit_code, 0) << verdict.output;

  // renew inside the window: the old one is superseded
  clock.advance(std::chrono::days(40));
  auto renewed = adapter.renew({"it-renew", applied->status.serial, kiosk::testing::new_ec_csr_pem()});
  ASSERT_TRUE(renewed) << renewed.error().to_string();
  verdict = verify(**opened, applied->certificate_pem, at());
  EXPECT_NE(verdict.exit_code, 0) << "the superseded certificate still verifies";
  verdict = verify(**opened, renewed->certificate_pem, at());
  EXPECT_EQ(verdict.exit_code, 0) << verdict.output;

  // reissue: the renewed one is revoked, a new one is live
  auto reissued =
      adapter.reissue({"it-reissue", renewed->status.serial, "LOST", kiosk::testing::new_ec_csr_pem(), Medium::hard});
  ASSERT_TRUE(reissued) << reissued.error().to_string();
  verdict = verify(**opened, renewed->certificate_pem, at());
  EXPECT_NE(verdict.exit_code, 0);
  verdict = verify(**opened, reissued->certificate_pem, at());
  EXPECT_EQ(verdict.exit_code, 0) << verdict.output;

  // revoke: terminal
  ASSERT_TRUE(adapter.revoke({"it-revoke", reissued->status.serial, "HOLDER_REQUEST"}));
  verdict = verify(**opened, reissued->certificate_pem, at());
  EXPECT_NE(verdict.exit_code, 0);
  EXPECT_NE(verdict.output.find("revoked"), std::string::npos) << verdict.output;
  auto after = adapter.unfreeze({"it-unfreeze-revoked", reissued->status.serial});
  ASSERT_FALSE(after);
  EXPECT_EQ(after.error().code, "CA_ILLEGAL_TRANSITION");

  // A restarted gateway sees the same history.
  opened->reset();
  auto reopened = LocalCa::open(options);
  ASSERT_TRUE(reopened) << reopened.error().to_string();
  EXPECT_EQ((*reopened)->status(applied->status.serial)->state, CertState::revoked);
  EXPECT_EQ((*reopened)->status(reissued->status.serial)->state, CertState::revoked);
  // ... and answers a retried apply from its record, without issuing again.
  auto replayed = (*reopened)->apply({"it-apply", subject, first_csr, Medium::hard});
  ASSERT_TRUE(replayed) << replayed.error().to_string();
  EXPECT_EQ(replayed->status.serial, applied->status.serial);
}

// The real `gateway` program: the CA routes over mutual TLS with the [ca] profile from gateway.toml.
class GatewayCaProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "gateway-ca-it-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    root_ = pattern;
    const std::string data = (root_ / "data").string();
    ASSERT_EQ(run_command(std::string(GATEWAY_BINARY) + " enrol-dev --data-dir " + data +
                          " --device-id SIM-0077 --out " + (root_ / "device").string())
                  .exit_code,
              0);
    std::ofstream(root_ / "gateway.toml") << "[device_listener]\nport = 0\n[console_listener]\nport = 0\n"
                                             "[ca]\nvalidity_days = 100\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      const int log = ::open((root_ / "gateway.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log, STDERR_FILENO);
      const std::string config = (root_ / "gateway.toml").string();
      ::execl(GATEWAY_BINARY, GATEWAY_BINARY, "serve", "--config", config.c_str(), "--data-dir", data.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const fs::path ports_file = root_ / "data" / "run" / "ports.json";
    for (int attempt = 0; attempt < 500 && device_port_ == 0; ++attempt) {
      std::ifstream in(ports_file);
      std::stringstream text;
      text << in.rdbuf();
      const auto ports = nlohmann::json::parse(text.str(), nullptr, false);
      if (ports.is_object()) device_port_ = ports["device"].get<int>();
      if (device_port_ == 0) std::this_thread::sleep_for(20ms);
    }
    ASSERT_NE(device_port_, 0) << "the gateway did not start";
  }
  void TearDown() override {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    fs::remove_all(root_, ignored);
  }

  sync::HttpsClient device_client() {
    auto client = sync::HttpsClient::create(
        "https://127.0.0.1:" + std::to_string(device_port_),
        {root_ / "device" / "ca.crt", root_ / "device" / "device.crt", root_ / "device" / "device.key"}, 5000ms);
    EXPECT_TRUE(client) << client.error().to_string();
    return std::move(*client);
  }

  fs::path root_;
  pid_t pid_ = -1;
  int device_port_ = 0;
};

TEST_F(GatewayCaProcess, ApplyFreezeStatusAndCrlOverMutualTls) {
  auto client = device_client();
  const nlohmann::json apply{
      {"request_id", "proc-apply-1"},
      {"subject",
       {{"investor_type", "natural"}, {"id_type", "prc-id"}, {"id_number", "11010519491231002X"}, {"name", "测试一"}}},
      {"csr_pem", kiosk::testing::new_ec_csr_pem()},
      {"medium", "hard"}};
  auto applied = client.post_json("/v1/device/ca/apply", apply.dump());
  ASSERT_TRUE(applied) << applied.error().to_string();
  ASSERT_EQ(applied->status, 200) << applied->body;
  const auto answer = nlohmann::json::parse(applied->body);
  const std::string serial = answer["certificate"]["serial"];
  // The profile came from gateway.toml: 100 days (+ 300 s of clock-skew slack before now).
  auto cert = [&] {
    const std::string pem = answer["certificate_pem"];
    BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
    CertPtr parsed(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
    BIO_free(bio);
    return parsed;
  }();
  ASSERT_TRUE(cert);
  int days = 0;
  int seconds = 0;
  ASSERT_EQ(ASN1_TIME_diff(&days, &seconds, X509_get0_notBefore(cert.get()), X509_get0_notAfter(cert.get())), 1);
  EXPECT_EQ(days, 100);

  auto retried = client.post_json("/v1/device/ca/apply", apply.dump());
  ASSERT_TRUE(retried);
  EXPECT_EQ(nlohmann::json::parse(retried->body)["certificate"]["serial"], serial);

  const nlohmann::json freeze{{"request_id", "proc-freeze-1"}, {"serial", serial}, {"reason", "LOST_MEDIUM"}};
  auto frozen = client.post_json("/v1/device/ca/freeze", freeze.dump());
  ASSERT_TRUE(frozen);
  EXPECT_EQ(frozen->status, 200) << frozen->body;
  auto status = client.get("/v1/device/ca/status/" + serial);
  ASSERT_TRUE(status);
  EXPECT_EQ(nlohmann::json::parse(status->body)["state"], "frozen");
  const nlohmann::json renew{
      {"request_id", "proc-renew-1"}, {"serial", serial}, {"csr_pem", kiosk::testing::new_ec_csr_pem()}};
  auto refused = client.post_json("/v1/device/ca/renew", renew.dump());
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 409);
  EXPECT_EQ(nlohmann::json::parse(refused->body)["code"], "CA_ILLEGAL_TRANSITION");

  auto crl = client.get("/v1/ca/crl");
  ASSERT_TRUE(crl);
  ASSERT_EQ(crl->status, 200);
  EXPECT_NE(nlohmann::json::parse(crl->body)["crl_pem"].get<std::string>().find("BEGIN X509 CRL"), std::string::npos);
}

}  // namespace
}  // namespace kiosk::gateway::ca
