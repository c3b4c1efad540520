// `kioskctl softcert download` against the real gateway binary on loopback: a soft apply over the
// kiosk's device link hands out a reference and a code; the command, as the investor's software,
// downloads over the console listener (no client certificate), and the PKCS#12 it writes opens
// with OpenSSL and holds the key of the certificate.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "gateway_process.hpp"
#include "kiosk/ctl/softcert_command.hpp"
#include "sync/client/https_client.hpp"
#include "tests/support/command_run.hpp"

namespace kiosk::ctl {
namespace {

namespace fs = std::filesystem;
using kiosk::testing::CommandRun;
using kiosk::testing::run_command;
using nlohmann::json;

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

unsigned mode_of(const fs::path& file) {
  struct stat info {};
  ::stat(file.c_str(), &info);
  return info.st_mode & 0777u;
}

std::string pem_of(X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  return pem;
}

CommandRun softcert(const std::vector<std::string>& args) { return run_command(run_softcert_command, args); }

class SoftcertCli : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(gateway_.started()) << "the gateway did not start; see " << gateway_.root() / "gateway.log";
    const json ports = json::parse(read_file(gateway_.root() / "data" / "run" / "ports.json"), nullptr, false);
    ASSERT_TRUE(ports.is_object() && ports.contains("console"));
    console_url_ = "https://127.0.0.1:" + std::to_string(ports["console"].get<int>());
    auto client = sync::HttpsClient::create(gateway_.device_url(),
                                            {gateway_.ca_file(), gateway_.cert_file(), gateway_.key_file()},
                                            std::chrono::seconds(10));
    ASSERT_TRUE(client) << client.error().to_string();
    device_ = std::make_unique<sync::HttpsClient>(std::move(*client));
  }

  // A soft apply as the kiosk makes it; returns the answer's JSON.
  json soft_apply(const std::string& request_id, const std::string& id_number) {
    const json body{
        {"request_id", request_id},
        {"subject",
         {{"investor_type", "natural"}, {"id_type", "prc-id"}, {"id_number", id_number}, {"name", "测试一"}}},
        {"medium", "soft"}};
    auto response = device_->post_json("/v1/device/ca/apply", body.dump());
    EXPECT_TRUE(response) << response.error().to_string();
    if (!response) return {};
    EXPECT_EQ(response->status, 200) << response->body;
    return json::parse(response->body, nullptr, false);
  }

  std::vector<std::string> download_args(const json& applied, const fs::path& out) const {
    return {"download",
            "--gateway",
            console_url_,
            "--ca-file",
            gateway_.ca_file().string(),
            "--ref",
            applied["download"]["reference"].get<std::string>(),
            "--code",
            applied["download"]["code"].get<std::string>(),
            "--out",
            out.string()};
  }

  testing::GatewayProcess gateway_;
  std::string console_url_;
  std::unique_ptr<sync::HttpsClient> device_;
};

TEST_F(SoftcertCli, DownloadWritesAPkcs12ThatHoldsTheCertificatesKey) {
  const json applied = soft_apply("softcert-cli-1", "11010519491231002X");
  ASSERT_EQ(applied["certificate"]["state"], "pending_download");
  const std::string serial = applied["certificate"]["serial"];
  const fs::path out = gateway_.root() / "investor";

  std::vector<std::string> args = download_args(applied, out);
  args.push_back("--json");
  const CommandRun run = softcert(args);
  ASSERT_EQ(run.code, 0) << run.err;
  const json report = json::parse(run.out, nullptr, false);
  ASSERT_TRUE(report.is_object()) << run.out;
  EXPECT_EQ(report["serial"], serial);
  EXPECT_EQ(report["state"], "active");
  EXPECT_EQ(report["key_type"], "ec-p256");

  // REQ-31: the download made it active at head office.
  auto status = device_->get("/v1/device/ca/status/" + serial);
  ASSERT_TRUE(status);
  EXPECT_EQ(json::parse(status->body)["state"], "active");

  for (const char* name : {"certificate.pem", "chain.pem", "softcert.p12", "softcert.p12.password"}) {
    EXPECT_TRUE(fs::exists(out / name)) << name;
  }
  EXPECT_EQ(mode_of(out / "softcert.p12"), 0600u);
  EXPECT_EQ(mode_of(out / "softcert.p12.password"), 0600u);
  std::string password = read_file(out / "softcert.p12.password");
  ASSERT_FALSE(password.empty());
  if (password.back() == '\n') password.pop_back();
  EXPECT_GE(password.size(), 20u);

  const std::string p12_bytes = read_file(out / "softcert.p12");
  const auto* der = reinterpret_cast<const unsigned char*>(p12_bytes.data());
  PKCS12* p12 = d2i_PKCS12(nullptr, &der, static_cast<long>(p12_bytes.size()));
  ASSERT_NE(p12, nullptr);
  EXPECT_EQ(PKCS12_verify_mac(p12, "not the password", -1), 0) << "the MAC must need the password";
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* chain = nullptr;
  ASSERT_EQ(PKCS12_parse(p12, password.c_str(), &key, &cert, &chain), 1);
  ASSERT_NE(key, nullptr);
  ASSERT_NE(cert, nullptr);
  EXPECT_EQ(X509_check_private_key(cert, key), 1) << "the key in the PKCS#12 is not the certificate's";
  EXPECT_EQ(pem_of(cert), read_file(out / "certificate.pem"));
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(sk_X509_num(chain), 2);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
  sk_X509_pop_free(chain, X509_free);
  X509_free(cert);
  EVP_PKEY_free(key);
  PKCS12_free(p12);

  // A second download with another key is refused, and nothing is overwritten.
  const CommandRun again = softcert(download_args(applied, gateway_.root() / "second"));
  EXPECT_EQ(again.code, 1);
  EXPECT_NE(again.err.find("SOFTCERT_ALREADY_DOWNLOADED"), std::string::npos) << again.err;
  const CommandRun same_dir = softcert(download_args(applied, out));
  EXPECT_EQ(same_dir.code, 1);
  EXPECT_NE(same_dir.err.find("SOFTCERT_OUTPUT_EXISTS"), std::string::npos) << same_dir.err;
}

TEST_F(SoftcertCli, RsaKeyWithAGivenPasswordAndTheRefusals) {
  const json applied = soft_apply("softcert-cli-2", "110105194912310029");
  const fs::path password_file = gateway_.root() / "p12-password";
  std::ofstream(password_file) << "correct horse battery\n";

  std::vector<std::string> wrong = download_args(applied, gateway_.root() / "wrong");
  wrong[8] = "23456789AB";  // the value after --code
  const CommandRun refused = softcert(wrong);
  EXPECT_EQ(refused.code, 1);
  EXPECT_NE(refused.err.find("SOFTCERT_CODE_INVALID"), std::string::npos) << refused.err;

  std::vector<std::string> args = download_args(applied, gateway_.root() / "rsa");
  args.insert(args.end(), {"--key-type", "rsa2048", "--p12-password-file", password_file.string()});
  const CommandRun run = softcert(args);
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("downloaded soft certificate"), std::string::npos) << run.out;
  EXPECT_FALSE(fs::exists(gateway_.root() / "rsa" / "softcert.p12.password"));

  const std::string p12_bytes = read_file(gateway_.root() / "rsa" / "softcert.p12");
  const auto* der = reinterpret_cast<const unsigned char*>(p12_bytes.data());
  PKCS12* p12 = d2i_PKCS12(nullptr, &der, static_cast<long>(p12_bytes.size()));
  ASSERT_NE(p12, nullptr);
  EVP_PKEY* key = nullptr;
  X509* cert = nullptr;
  ASSERT_EQ(PKCS12_parse(p12, "correct horse battery", &key, &cert, nullptr), 1);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_RSA);
  EXPECT_EQ(X509_check_private_key(cert, key), 1);
  X509_free(cert);
  EVP_PKEY_free(key);
  PKCS12_free(p12);

  // The device listener does not serve the download (it also wants a client certificate).
  std::vector<std::string> on_device = download_args(applied, gateway_.device_dir());
  on_device[2] = gateway_.device_url();
  EXPECT_EQ(softcert(on_device).code, 1);
}

TEST_F(SoftcertCli, UsageErrorsExitWithTwo) {
  EXPECT_EQ(softcert({}).code, 2);
  EXPECT_EQ(softcert({"upload"}).code, 2);
  EXPECT_EQ(softcert({"download", "--gateway", console_url_}).code, 2);
  const CommandRun bad_ref = softcert({"download", "--gateway", console_url_, "--ref", "12", "--code", "ABCDEFGH23",
                                       "--out", (gateway_.root() / "x").string()});
  EXPECT_EQ(bad_ref.code, 2);
  EXPECT_NE(bad_ref.err.find("--ref"), std::string::npos);
  EXPECT_EQ(softcert({"download", "--gateway", console_url_, "--ref", "SC12345678901234", "--code", "ABCDEFGH23",
                      "--out", (gateway_.root() / "x").string(), "--key-type", "dsa"})
                .code,
            2);
  const CommandRun help = softcert({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_NE(help.out.find("softcert.p12"), std::string::npos);
}

}  // namespace
}  // namespace kiosk::ctl
