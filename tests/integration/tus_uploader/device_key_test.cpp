// The device key on a SoftHSM2 token through the OpenSSL pkcs11 engine: manifest signatures, mutual
// TLS to the real gateway (HttpsClient and TusUploader), and the failure codes. One token per process
// (the engine and the module are loaded once per process, like on the kiosk), made in SetUpTestSuite.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "gateway_process.hpp"
#include "softhsm_fixture.hpp"
#include "sync/client/device_key.hpp"
#include "sync/client/https_client.hpp"
#include "sync/client/tus_uploader.hpp"
#include "sync/gateway/pki.hpp"
#include "sync/package/manifest.hpp"
#include "upload_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using kiosk::ctl::testing::GatewayProcess;
using kiosk::hal::token::testing::SoftHsmDir;
using kiosk::sync::DeviceKeySpec;
using kiosk::sync::load_device_key;
using kiosk::sync::TlsIdentity;
using namespace kiosk::sync::testing;

class TokenDeviceKey : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    gateway_ = new GatewayProcess();
    if (!gateway_->started()) return;
    hsm_ = new SoftHsmDir(gateway_->root());
    if (!hsm_->init_token(kTokenLabel)) return;
    cert_file_ = gateway_->root() / "token-device.crt";
    pin_file_ = gateway_->root() / "token.pin";
    provisioning_problem_ = provision_token_identity(gateway_->root() / "data", "SIM-0202", cert_file_, pin_file_);
    ready_ = provisioning_problem_.empty();
  }
  static void TearDownTestSuite() {
    delete hsm_;
    delete gateway_;
  }
  void SetUp() override { ASSERT_TRUE(ready_) << "token set-up failed: " << provisioning_problem_; }

  static DeviceKeySpec token_spec() {
    return DeviceKeySpec{.key = kTokenKeyUri, .pkcs11_module = SOFTHSM2_MODULE, .pin_file = pin_file_};
  }
  static TlsIdentity token_identity() {
    return TlsIdentity{.ca_file = gateway_->ca_file(),
                       .cert_file = cert_file_,
                       .key_file = kTokenKeyUri,
                       .pkcs11_module = SOFTHSM2_MODULE,
                       .pin_file = pin_file_};
  }

  static inline GatewayProcess* gateway_ = nullptr;
  static inline SoftHsmDir* hsm_ = nullptr;
  static inline fs::path cert_file_;
  static inline fs::path pin_file_;
  static inline std::string provisioning_problem_ = "not run";
  static inline bool ready_ = false;
};

// First in the suite: once the engine has logged in, the module keeps the session logged in, so a wrong
// PIN is only seen before the first good login of the process (ctest runs each test in its own process).
TEST_F(TokenDeviceKey, AWrongPinIsRefusedAndNeverEchoed) {
  const fs::path wrong_pin = gateway_->root() / "wrong.pin";
  std::ofstream(wrong_pin) << "999999\n";
  DeviceKeySpec spec = token_spec();
  spec.pin_file = wrong_pin;
  auto key = load_device_key(spec);
  if (key) GTEST_SKIP() << "the token was already logged in by an earlier test in this process";
  EXPECT_EQ(key.error().code, "DEVICE_KEY_PIN_REFUSED") << key.error().to_string();
  EXPECT_EQ(key.error().message.find("999999"), std::string::npos);
}

TEST_F(TokenDeviceKey, SignsAManifestThatVerifiesWithTheCertificateKey) {
  auto key = load_device_key(token_spec());
  ASSERT_TRUE(key) << key.error().to_string();
  EXPECT_TRUE(kiosk::sync::package::is_p256_key(key->get()));
  const std::string manifest = R"({"format_version":1,"package_id":"pkg-token"})";
  auto signature = kiosk::sync::package::sign_manifest(manifest, key->get());
  ASSERT_TRUE(signature) << signature.error().to_string();
  // Verified with the public key of the certificate the CA issued, not with the token.
  auto certificate = kiosk::gateway::load_certificate(cert_file_);
  ASSERT_TRUE(certificate);
  EVP_PKEY* public_key = X509_get0_pubkey(certificate->get());
  EXPECT_TRUE(kiosk::sync::package::verify_manifest_signature(manifest, *signature, public_key));
  EXPECT_FALSE(kiosk::sync::package::verify_manifest_signature(manifest + " ", *signature, public_key));
}

TEST_F(TokenDeviceKey, MutualTlsHealthCheckAndUploadWithTheTokenKey) {
  auto client = kiosk::sync::HttpsClient::create(gateway_->device_url(), token_identity(), std::chrono::seconds(10));
  ASSERT_TRUE(client) << client.error().to_string();
  auto health = client->get("/healthz");
  ASSERT_TRUE(health) << health.error().to_string();
  EXPECT_EQ(health->status, 200);

  kiosk::sync::UploadOptions options;
  options.chunk_bytes = 256 * 1024;
  auto uploader = kiosk::sync::TusUploader::create(gateway_->device_url(), token_identity(), options);
  ASSERT_TRUE(uploader) << uploader.error().to_string();
  const fs::path dir = make_package_dir(gateway_->root() / "outbox", "pkg-token", 700 * 1024, 3);
  auto outcome = uploader->upload({.package_id = "pkg-token", .transaction_id = "tx-00000007", .package_dir = dir});
  ASSERT_TRUE(outcome) << outcome.error().to_string();
  EXPECT_EQ(outcome->attempts, 1);
  EXPECT_TRUE(completed_upload(gateway_->root() / "data", outcome->location) == archive_bytes(dir));
}

TEST_F(TokenDeviceKey, APemKeyFileLoadsToo) {
  auto key = load_device_key(DeviceKeySpec{.key = gateway_->key_file().string(), .pkcs11_module = {}, .pin_file = {}});
  ASSERT_TRUE(key) << key.error().to_string();
  EXPECT_TRUE(kiosk::sync::package::is_p256_key(key->get()));
}

TEST_F(TokenDeviceKey, FailuresHaveTheirOwnCodes) {
  // No such key on the token.
  DeviceKeySpec missing = token_spec();
  missing.key = "pkcs11:token=kiosk;object=nokey;type=private";
  auto no_key = load_device_key(missing);
  ASSERT_FALSE(no_key);
  EXPECT_EQ(no_key.error().code, "DEVICE_KEY_TOKEN_UNAVAILABLE") << no_key.error().to_string();
  // No such token.
  missing.key = "pkcs11:token=absent;object=devkey;type=private";
  auto no_token = load_device_key(missing);
  ASSERT_FALSE(no_token);
  EXPECT_EQ(no_token.error().code, "DEVICE_KEY_TOKEN_UNAVAILABLE") << no_token.error().to_string();
  // Module missing, PIN file missing, key file missing or not a key.
  DeviceKeySpec bad_module = token_spec();
  bad_module.pkcs11_module = gateway_->root() / "no-such-module.so";
  EXPECT_EQ(load_device_key(bad_module).error().code, "DEVICE_KEY_UNREADABLE");
  DeviceKeySpec no_pin = token_spec();
  no_pin.pin_file = gateway_->root() / "no-such.pin";
  EXPECT_EQ(load_device_key(no_pin).error().code, "DEVICE_KEY_PIN_REFUSED");
  EXPECT_EQ(load_device_key({.key = (gateway_->root() / "absent.key").string(), .pkcs11_module = {}, .pin_file = {}})
                .error()
                .code,
            "DEVICE_KEY_UNREADABLE");
  EXPECT_EQ(load_device_key({.key = gateway_->cert_file().string(), .pkcs11_module = {}, .pin_file = {}}).error().code,
            "DEVICE_KEY_UNREADABLE");
  // A certificate that is not the token key's: refused before any connection.
  TlsIdentity mismatched = token_identity();
  mismatched.cert_file = gateway_->cert_file();
  auto client = kiosk::sync::HttpsClient::create(gateway_->device_url(), mismatched, std::chrono::seconds(5));
  ASSERT_FALSE(client);
  EXPECT_EQ(client.error().code, "CLIENT_CERT_UNREADABLE");
}

}  // namespace
