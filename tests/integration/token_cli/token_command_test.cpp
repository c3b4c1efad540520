// kioskctl token list / token enroll / cert status against SoftHSM2 and the real gateway binary on
// loopback, called through run_*_command() as main() calls them.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "gateway_process.hpp"
#include "hal/token/pkcs11_driver.hpp"
#include "kiosk/ctl/cert_command.hpp"
#include "kiosk/ctl/token_command.hpp"
#include "softhsm_fixture.hpp"
#include "tests/support/command_run.hpp"

namespace kiosk::ctl {
namespace {

namespace fs = std::filesystem;
using hal::token::testing::SoftHsmDir;

using kiosk::testing::CommandRun;
using kiosk::testing::run_command;

CommandRun token(const std::vector<std::string>& args) { return run_command(run_token_command, args); }
CommandRun cert(const std::vector<std::string>& args) { return run_command(run_cert_command, args); }

std::vector<std::string> operator+(std::vector<std::string> left, const std::vector<std::string>& right) {
  left.insert(left.end(), right.begin(), right.end());
  return left;
}

class TokenCli : public ::testing::Test {
 protected:
  void SetUp() override {
    work_ = fs::temp_directory_path() / ("token-cli-" + std::to_string(::getpid()));
    fs::create_directories(work_);
    hsm_ = std::make_unique<SoftHsmDir>(work_);
    ASSERT_TRUE(hsm_->init_token("cli-token"));
  }
  void TearDown() override {
    hsm_.reset();
    std::error_code ignored;
    fs::remove_all(work_, ignored);
  }

  fs::path write(const std::string& name, const std::string& text) {
    std::ofstream(work_ / name) << text;
    return work_ / name;
  }

  std::string slot_of_token() {
    auto module = hal::token::Pkcs11Module::load(SOFTHSM2_MODULE);
    EXPECT_TRUE(module);
    if (!module) return {};
    hal::token::Pkcs11Driver driver(*module);
    const auto slot = hal::token::testing::slot_with_label(driver, "cli-token");
    return slot ? std::to_string(*slot) : "";
  }

  fs::path work_;
  std::unique_ptr<SoftHsmDir> hsm_;
};

TEST_F(TokenCli, ListShowsTokenInfoPinStateAndAllowlistVerdict) {
  const auto allowed = write("allowed.toml",
                             "[[token_model]]\nmanufacturer = \"SoftHSM project\"\nmodel = \"SoftHSM v2\"\n"
                             "certification_number = \"TEST-0001\"\n");
  const auto listed = token({"list", "--module", SOFTHSM2_MODULE, "--allowlist", allowed.string(), "--json"});
  ASSERT_EQ(listed.code, 0) << listed.err;
  const auto report = nlohmann::json::parse(listed.out);
  // SoftHSM2 always offers one more slot with an uninitialised token.
  ASSERT_EQ(report["tokens"].size(), 2u) << listed.out;
  const auto& found = report["tokens"][0]["label"] == "cli-token" ? report["tokens"][0] : report["tokens"][1];
  const auto& fresh = report["tokens"][0]["label"] == "cli-token" ? report["tokens"][1] : report["tokens"][0];
  EXPECT_EQ(fresh["token_initialized"], false);
  EXPECT_EQ(fresh["user_pin"]["initialized"], false);
  EXPECT_EQ(found["label"], "cli-token");
  EXPECT_EQ(found["manufacturer"], "SoftHSM project");
  EXPECT_EQ(found["model"], "SoftHSM v2");
  EXPECT_FALSE(found["serial"].get<std::string>().empty());
  EXPECT_EQ(found["user_pin"]["initialized"], true);
  EXPECT_EQ(found["user_pin"]["locked"], false);
  EXPECT_EQ(found["allowlist"]["allowed"], true);
  EXPECT_EQ(found["allowlist"]["certification_number"], "TEST-0001");

  const auto other = write("other.toml",
                           "[[token_model]]\nmanufacturer = \"Feitian Technologies Co., Ltd.\"\nmodel = \"ePass2003\"\n"
                           "certification_number = \"SXXXX\"\n");
  const auto refused = token({"list", "--module", SOFTHSM2_MODULE, "--allowlist", other.string(), "--json"});
  ASSERT_EQ(refused.code, 0) << refused.err;
  const auto verdict = nlohmann::json::parse(refused.out)["tokens"][0]["allowlist"];
  EXPECT_EQ(verdict["allowed"], false);
  EXPECT_FALSE(verdict["reason"].get<std::string>().empty());

  const auto unchecked = token({"list", "--module", SOFTHSM2_MODULE, "--json"});
  ASSERT_EQ(unchecked.code, 0) << unchecked.err;
  EXPECT_TRUE(nlohmann::json::parse(unchecked.out)["tokens"][0]["allowlist"].is_null());
}

TEST_F(TokenCli, ModuleAndAllowlistFailuresExitOneWithTheirCode) {
  const auto missing = token({"list", "--module", (work_ / "no-such-module.so").string()});
  EXPECT_EQ(missing.code, 1);
  EXPECT_NE(missing.err.find("TOKEN_MODULE_NOT_FOUND"), std::string::npos) << missing.err;

  const auto not_a_module = write("not-a-module.so", "plain text");
  const auto invalid = token({"list", "--module", not_a_module.string()});
  EXPECT_EQ(invalid.code, 1);
  EXPECT_NE(invalid.err.find("TOKEN_MODULE_INVALID"), std::string::npos) << invalid.err;

  const auto bad_list = write("bad.toml", "[[token_model]]\nmanufacturer = 3\n");
  const auto broken = token({"list", "--module", SOFTHSM2_MODULE, "--allowlist", bad_list.string()});
  EXPECT_EQ(broken.code, 1);
  EXPECT_NE(broken.err.find("TOKEN_ALLOWLIST_"), std::string::npos) << broken.err;
}

TEST(TokenCliUsage, WrongUsageExitsTwo) {
  EXPECT_EQ(token({}).code, 2);
  EXPECT_EQ(token({"format"}).code, 2);
  EXPECT_EQ(token({"list"}).code, 2);              // no --module
  EXPECT_EQ(token({"list", "--module"}).code, 2);  // no value
  EXPECT_EQ(token({"list", "--module", "m.so", "--slot", "1"}).code, 2);
  const std::vector<std::string> link{"--gateway", "https://127.0.0.1:1", "--ca-file", "ca", "--cert", "c", "--key",
                                      "k"};
  EXPECT_EQ(
      token(std::vector<std::string>{"enroll", "--module", "m.so", "--pin-file", "p", "--subject-json", "s"} + link)
          .code,
      2);  // no --slot
  EXPECT_EQ(token(std::vector<std::string>{"enroll", "--module", "m.so", "--slot", "x", "--pin-file", "p",
                                           "--subject-json", "s"} +
                  link)
                .code,
            2);
  EXPECT_EQ(token({"enroll", "--module", "m.so", "--slot", "0", "--pin-file", "p", "--subject-json", "s"}).code,
            2);  // no gateway
  EXPECT_EQ(token(std::vector<std::string>{"enroll", "--module", "m.so", "--slot", "0", "--pin-file", "p",
                                           "--subject-json", "s", "--key-type", "dsa"} +
                  link)
                .code,
            2);
  EXPECT_EQ(cert({}).code, 2);
  EXPECT_EQ(cert({"status"}).code, 2);  // no SERIAL
  EXPECT_EQ(cert(std::vector<std::string>{"status", "../../healthz"} + link).code, 2);
  EXPECT_EQ(cert({"status", "0A1B"}).code, 2);  // no gateway
  EXPECT_EQ(cert(std::vector<std::string>{"status", "0A1B", "--timeout-ms", "0"} + link).code, 2);
  const auto help = token({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("keygen_ms"), std::string::npos);
  EXPECT_EQ(cert({"--help"}).code, 0);
}

class TokenEnroll : public TokenCli {
 protected:
  void SetUp() override {
    TokenCli::SetUp();
    if (HasFatalFailure()) return;
    gateway_ = std::make_unique<testing::GatewayProcess>();
    ASSERT_TRUE(gateway_->started()) << "the gateway did not start";
    slot_ = slot_of_token();
    ASSERT_FALSE(slot_.empty());
    pin_file_ = write("pin", std::string(hal::token::testing::kUserPin) + "\n");
    subject_file_ =
        write("subject.json",
              R"({"investor_type":"natural","id_type":"prc-id","id_number":"11010519491231002X","name":"测试一"})");
  }
  void TearDown() override {
    gateway_.reset();
    TokenCli::TearDown();
  }

  std::vector<std::string> enroll_args(const std::string& request_id, const std::string& key_type) {
    return std::vector<std::string>{
               "enroll",           "--module",       SOFTHSM2_MODULE,        "--slot",     slot_,    "--pin-file",
               pin_file_.string(), "--subject-json", subject_file_.string(), "--key-type", key_type, "--request-id",
               request_id,         "--json"} +
           gateway_->link_arguments();
  }

  std::unique_ptr<testing::GatewayProcess> gateway_;
  std::string slot_;
  fs::path pin_file_;
  fs::path subject_file_;
};

TEST_F(TokenEnroll, EnrollsOnTheTokenAndCertStatusSeesItActive) {
  const auto enrolled = token(enroll_args("cli-enroll-1", "ec-p256"));
  ASSERT_EQ(enrolled.code, 0) << enrolled.err;
  const auto report = nlohmann::json::parse(enrolled.out);
  const std::string serial = report["serial"];
  EXPECT_FALSE(serial.empty());
  EXPECT_EQ(report["state"], "active");
  EXPECT_EQ(report["key_type"], "ec-p256");
  for (const char* part : {"keygen_ms", "request_ms", "issuance_ms", "import_ms", "total_ms"}) {
    ASSERT_TRUE(report[part].is_number()) << part;
    EXPECT_GT(report[part].get<double>(), 0.0) << part;
  }

  // The certificate is on the token, beside its key, and is the one the CA issued.
  {
    auto module = hal::token::Pkcs11Module::load(SOFTHSM2_MODULE);
    ASSERT_TRUE(module);
    hal::token::Pkcs11Driver driver(*module);
    auto session = driver.open_session(std::stoull(slot_));
    ASSERT_TRUE(session);
    auto certificates = (*session)->read_certificates();
    ASSERT_TRUE(certificates);
    ASSERT_EQ(certificates->size(), 1u);
    std::string upper = serial;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::string on_token = (*certificates)[0].serial_hex;
    EXPECT_EQ(on_token.substr(on_token.find_first_not_of('0')), upper.substr(upper.find_first_not_of('0')));
  }

  const auto status = cert(std::vector<std::string>{"status", serial, "--json"} + gateway_->link_arguments());
  ASSERT_EQ(status.code, 0) << status.err;
  const auto state = nlohmann::json::parse(status.out);
  EXPECT_EQ(state["state"], "active");
  EXPECT_EQ(state["medium"], "hard");

  // The same request id with another request (a new key) is refused by the CA, and says so.
  const auto reused = token(enroll_args("cli-enroll-1", "ec-p256"));
  EXPECT_EQ(reused.code, 1);
  EXPECT_NE(reused.err.find("CA_REQUEST_ID_REUSED"), std::string::npos) << reused.err;
  EXPECT_NE(reused.err.find("stays on the token"), std::string::npos) << reused.err;
  // A second live certificate for the same subject is refused too.
  const auto duplicate = token(enroll_args("cli-enroll-2", "rsa2048"));
  EXPECT_EQ(duplicate.code, 1);
  EXPECT_NE(duplicate.err.find("CA_DUPLICATE_LIVE"), std::string::npos) << duplicate.err;
}

TEST_F(TokenEnroll, RsaKeyEnrolsToo) {
  const auto enrolled = token(enroll_args("cli-enroll-rsa", "rsa2048"));
  ASSERT_EQ(enrolled.code, 0) << enrolled.err;
  EXPECT_EQ(nlohmann::json::parse(enrolled.out)["key_type"], "rsa2048");
}

TEST_F(TokenEnroll, WrongPinAndUnknownSerialExitOneWithTheirCodes) {
  write("pin", "000000\n");
  const auto wrong_pin = token(enroll_args("cli-wrong-pin", "ec-p256"));
  EXPECT_EQ(wrong_pin.code, 1);
  EXPECT_NE(wrong_pin.err.find("TOKEN_PIN_INCORRECT"), std::string::npos) << wrong_pin.err;
  EXPECT_EQ(wrong_pin.err.find("000000"), std::string::npos) << "the PIN was printed";

  const auto unknown = cert(std::vector<std::string>{"status", "0123ABCD"} + gateway_->link_arguments());
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("CA_UNKNOWN_SERIAL"), std::string::npos) << unknown.err;
}

TEST_F(TokenEnroll, UntrustedGatewayIsReportedWithTheStrandedKey) {
  // The device certificate stands in for a wrong CA file: the gateway cannot be verified.
  auto args = enroll_args("cli-untrusted", "ec-p256");
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--ca-file") args[i + 1] = gateway_->cert_file().string();
  }
  const auto refused = token(args);
  EXPECT_EQ(refused.code, 1);
  EXPECT_TRUE(refused.err.find("GATEWAY_CERT_UNTRUSTED") != std::string::npos ||
              refused.err.find("TLS_HANDSHAKE_FAILED") != std::string::npos)
      << refused.err;
  EXPECT_NE(refused.err.find("stays on the token"), std::string::npos) << refused.err;
}

}  // namespace
}  // namespace kiosk::ctl
