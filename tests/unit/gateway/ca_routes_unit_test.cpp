// The CA routes through ApiHandler (as the gateway wires them) onto a real local-ca.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>

#include "sync/gateway/api.hpp"
#include "sync/gateway/ca/ca_routes.hpp"
#include "sync/gateway/ca/local_ca.hpp"
#include "sync/gateway/gateway_config.hpp"
#include "sync/gateway/pki.hpp"
#include "tests/support/test_csr.hpp"

namespace kiosk::gateway::ca {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr std::string_view kIdNumber = "11010519491231002X";

class CaRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("ca-routes-test-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    LocalCaOptions options;
    options.data_dir = dir_;
    auto opened = LocalCa::open(options);
    ASSERT_TRUE(opened) << opened.error().to_string();
    ca_ = std::move(*opened);
    routes_ = std::make_unique<CaRoutes>(*ca_, [this] { return ca_->crl_pem(); });
    handler_ = std::make_unique<ApiHandler>(
        [](std::string_view) -> Result<std::optional<StaffRecord>> { return std::optional<StaffRecord>(); }, "test",
        kDefaultMaxBodyBytes, 1, NciisCheck{}, [this](const ApiRequest& request) { return routes_->handle(request); });
  }
  void TearDown() override {
    handler_.reset();
    routes_.reset();
    ca_.reset();
    fs::remove_all(dir_);
  }

  ApiResponse call(std::string method, std::string target, std::string body = {},
                   Listener listener = Listener::device) {
    return handler_->handle(
        ApiRequest{std::move(method), std::move(target), listener, "SIM-0001", {}, std::move(body)});
  }

  static json apply_body(std::string request_id) {
    return json{{"request_id", std::move(request_id)},
                {"subject",
                 {{"investor_type", "natural"}, {"id_type", "prc-id"}, {"id_number", kIdNumber}, {"name", "测试一"}}},
                {"csr_pem", kiosk::testing::new_ec_csr_pem()},
                {"medium", "hard"}};
  }

  fs::path dir_;
  std::unique_ptr<LocalCa> ca_;
  std::unique_ptr<CaRoutes> routes_;
  std::unique_ptr<ApiHandler> handler_;
};

TEST_F(CaRoutesTest, ApplyStatusFreezeOverHttp) {
  const std::string body = apply_body("http-apply-1").dump();
  const ApiResponse applied = call("POST", "/v1/device/ca/apply", body);
  ASSERT_EQ(applied.status, 200u) << applied.body;
  const json answer = json::parse(applied.body);
  const std::string serial = answer["certificate"]["serial"];
  EXPECT_EQ(answer["certificate"]["state"], "active");
  EXPECT_NE(answer["certificate_pem"].get<std::string>().find("BEGIN CERTIFICATE"), std::string::npos);

  const ApiResponse retried = call("POST", "/v1/device/ca/apply", body);
  ASSERT_EQ(retried.status, 200u) << retried.body;
  EXPECT_EQ(json::parse(retried.body)["certificate"]["serial"], serial);

  const ApiResponse duplicate = call("POST", "/v1/device/ca/apply", apply_body("http-apply-2").dump());
  EXPECT_EQ(duplicate.status, 409u);
  EXPECT_EQ(json::parse(duplicate.body)["code"], "CA_DUPLICATE_LIVE");
  EXPECT_EQ(duplicate.body.find(kIdNumber), std::string::npos) << "an ID number leaked into an error";

  const ApiResponse status = call("GET", "/v1/device/ca/status/" + serial);
  ASSERT_EQ(status.status, 200u) << status.body;
  EXPECT_EQ(json::parse(status.body)["state"], "active");

  const json freeze{{"request_id", "http-freeze-1"}, {"serial", serial}, {"reason", "LOST_MEDIUM"}};
  ASSERT_EQ(call("POST", "/v1/device/ca/freeze", freeze.dump()).status, 200u);
  const json again{{"request_id", "http-freeze-2"}, {"serial", serial}, {"reason", "LOST_MEDIUM"}};
  const ApiResponse refused = call("POST", "/v1/device/ca/freeze", again.dump());
  EXPECT_EQ(refused.status, 409u);
  EXPECT_EQ(json::parse(refused.body)["code"], "CA_ILLEGAL_TRANSITION");

  const ApiResponse crl = call("GET", "/v1/ca/crl", {}, Listener::console);
  ASSERT_EQ(crl.status, 200u) << crl.body;
  EXPECT_NE(json::parse(crl.body)["crl_pem"].get<std::string>().find("BEGIN X509 CRL"), std::string::npos);
}

TEST_F(CaRoutesTest, BadRequestsAreRefusedWithTheirCodes) {
  auto code_of = [](const ApiResponse& response) { return json::parse(response.body)["code"].get<std::string>(); };
  EXPECT_EQ(code_of(call("POST", "/v1/device/ca/apply", "{")), "BAD_JSON");
  json extra = apply_body("x-1");
  extra["note"] = "hi";
  EXPECT_EQ(code_of(call("POST", "/v1/device/ca/apply", extra.dump())), "FIELD_UNKNOWN");
  json missing = apply_body("x-2");
  missing.erase("csr_pem");
  EXPECT_EQ(code_of(call("POST", "/v1/device/ca/apply", missing.dump())), "FIELD_MISSING");
  json bad_csr = apply_body("x-3");
  bad_csr["csr_pem"] = "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
  const ApiResponse refused = call("POST", "/v1/device/ca/apply", bad_csr.dump());
  EXPECT_EQ(refused.status, 400u);
  EXPECT_EQ(code_of(refused), "CA_REQUEST_INVALID");
  EXPECT_EQ(call("GET", "/v1/device/ca/apply").status, 405u);
  const ApiResponse unknown = call("GET", "/v1/device/ca/status/ABCDEF");
  EXPECT_EQ(unknown.status, 404u);
  EXPECT_EQ(code_of(unknown), "CA_UNKNOWN_SERIAL");
  EXPECT_EQ(code_of(call("GET", "/v1/device/ca/status/not-hex")), "FIELD_INVALID");
  // The operations only exist for kiosks (device listener).
  const ApiResponse console = call("POST", "/v1/device/ca/apply", apply_body("x-4").dump(), Listener::console);
  EXPECT_EQ(console.status, 404u);
  EXPECT_EQ(call("POST", "/v1/device/ca/explode", "{}").status, 404u);
}

TEST(CaProfileConfig, IsReadFromTheCaTableWithLimits) {
  auto defaults = parse_gateway_config("", "empty.toml", {});
  ASSERT_TRUE(defaults) << defaults.error().to_string();
  EXPECT_EQ(defaults->ca_validity_days, 730);
  EXPECT_EQ(defaults->ca_renewal_window_days, 30);
  EXPECT_FALSE(defaults->ca_allow_second_live_certificate);

  auto custom = parse_gateway_config(
      "[ca]\nvalidity_days = 365\nrenewal_window_days = 14\nallow_second_live_certificate = true\n", "ca.toml", {});
  ASSERT_TRUE(custom) << custom.error().to_string();
  EXPECT_EQ(custom->ca_validity_days, 365);
  EXPECT_EQ(custom->ca_renewal_window_days, 14);
  EXPECT_TRUE(custom->ca_allow_second_live_certificate);

  auto too_long = parse_gateway_config("[ca]\nvalidity_days = 0\n", "ca.toml", {});
  ASSERT_FALSE(too_long);
  EXPECT_EQ(too_long.error().code, "CONFIG_BAD_VALUE");
  auto unknown = parse_gateway_config("[ca]\nvalidity = 10\n", "ca.toml", {});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "CONFIG_UNKNOWN_KEY");
}

}  // namespace
}  // namespace kiosk::gateway::ca
