// The kiosk asks the real gateway who the on-site staff member is (POST /v1/device/staff/verify,
// mutual TLS with the enrolled device certificate). The gateway process is shared with the kioskctl
// token tests (tests/integration/token_cli/gateway_process.hpp); the staff account is added with
// `gateway add-staff` while it runs, as an administrator would.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>

#include "gateway_process.hpp"
#include "sync/client/staff_client.hpp"

using kiosk::ctl::testing::GatewayProcess;
using kiosk::sync::HttpsClient;
using kiosk::sync::TlsIdentity;
using kiosk::sync::verify_staff;

namespace {

constexpr std::string_view kPassword = "Counter-Staff-7";

class StaffVerifyAgainstGateway : public ::testing::Test {
 protected:
  void SetUp() override {
    gateway_ = std::make_unique<GatewayProcess>();
    ASSERT_TRUE(gateway_->started()) << "the gateway did not start; see " << gateway_->root() / "gateway.log";
    const std::string add_staff = "printf '%s\\n' '" + std::string(kPassword) + "' | " + GATEWAY_BINARY +
                                  " add-staff --data-dir " + (gateway_->root() / "data").string() +
                                  " --staff-id S0007 --name 'Zhao Min' --role operator > /dev/null 2>&1";
    ASSERT_EQ(std::system(add_staff.c_str()), 0);
    auto client = HttpsClient::create(gateway_->device_url(),
                                      TlsIdentity{gateway_->ca_file(), gateway_->cert_file(), gateway_->key_file()},
                                      std::chrono::seconds(10));
    ASSERT_TRUE(client) << client.error().to_string();
    client_ = std::make_unique<HttpsClient>(std::move(*client));
  }

  std::string gateway_log() const {
    std::ifstream in(gateway_->root() / "gateway.log");
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  std::unique_ptr<GatewayProcess> gateway_;
  std::unique_ptr<HttpsClient> client_;
};

TEST_F(StaffVerifyAgainstGateway, RightPasswordNamesTheStaffMemberAndThePasswordIsWiped) {
  std::string password(kPassword);
  auto staff = verify_staff(*client_, "S0007", password);
  ASSERT_TRUE(staff) << staff.error().to_string();
  EXPECT_EQ(staff->staff_id, "S0007");
  EXPECT_EQ(staff->display_name, "Zhao Min");
  EXPECT_EQ(staff->role, "operator");
  EXPECT_TRUE(password.empty());
}

TEST_F(StaffVerifyAgainstGateway, RefusalsKeepTheGatewayCodeAndThrottleAfterFive) {
  std::string password = "wrong-one";
  auto unknown = verify_staff(*client_, "S9999", password);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "SIGN_IN_REFUSED");
  EXPECT_NE(unknown.error().message.find("HTTP 401"), std::string::npos) << unknown.error().message;
  EXPECT_TRUE(password.empty());

  for (int attempt = 0; attempt < 5; ++attempt) {
    password = "wrong-" + std::to_string(attempt);
    auto refused = verify_staff(*client_, "S0007", password);
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().code, "SIGN_IN_REFUSED") << attempt;
    EXPECT_TRUE(password.empty());
  }
  password = kPassword;
  auto throttled = verify_staff(*client_, "S0007", password);
  ASSERT_FALSE(throttled);
  EXPECT_EQ(throttled.error().code, "SIGN_IN_THROTTLED");
  EXPECT_NE(throttled.error().message.find("HTTP 429"), std::string::npos) << throttled.error().message;
  EXPECT_TRUE(password.empty());

  // The gateway validates the body too; its code comes through.
  password = kPassword;
  auto bad_id = verify_staff(*client_, "S 0007", password);
  ASSERT_FALSE(bad_id);
  EXPECT_EQ(bad_id.error().code, "FIELD_INVALID");

  // A password with characters JSON must escape arrives intact: it is refused as wrong, not as bad JSON.
  password = "quote\" back\\slash \x01 tab\t 密码";
  auto escaped = verify_staff(*client_, "S0001", password);
  ASSERT_FALSE(escaped);
  EXPECT_EQ(escaped.error().code, "SIGN_IN_REFUSED") << escaped.error().to_string();

  const std::string log = gateway_log();
  EXPECT_NE(log.find(R"("event":"staff_verify_refused")"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("event":"staff_verify_throttled")"), std::string::npos) << log;
  for (const char* secret : {"Counter-Staff-7", "wrong-", "S0007", "S9999", "密码"}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret << " in the gateway log";
  }
}

TEST_F(StaffVerifyAgainstGateway, ASuccessIsLoggedWithTheStaffIdAndTheDeviceButNoPassword) {
  std::string password(kPassword);
  ASSERT_TRUE(verify_staff(*client_, "S0007", password));
  const std::string log = gateway_log();
  EXPECT_NE(log.find(R"("event":"staff_verify")"), std::string::npos) << log;
  EXPECT_NE(log.find(R"("staff_id":"S0007")"), std::string::npos) << log;
  EXPECT_NE(log.find("SIM-0101"), std::string::npos) << log;
  EXPECT_EQ(log.find(kPassword), std::string::npos) << log;
  EXPECT_EQ(log.find("Zhao Min"), std::string::npos) << log;
}

TEST_F(StaffVerifyAgainstGateway, WithoutADeviceCertificateTheGatewayRefusesTheConnection) {
  auto anonymous =
      HttpsClient::create(gateway_->device_url(), TlsIdentity{gateway_->ca_file(), {}, {}}, std::chrono::seconds(10));
  ASSERT_TRUE(anonymous) << anonymous.error().to_string();
  std::string password(kPassword);
  auto refused = verify_staff(*anonymous, "S0007", password);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "TLS_HANDSHAKE_FAILED") << refused.error().to_string();
  EXPECT_TRUE(password.empty());  // wiped on a transport failure too
}

}  // namespace
