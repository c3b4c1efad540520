// POST /v1/device/staff/verify through ApiHandler (no sockets) and FailedAttemptThrottle with an
// explicit clock.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "kiosk/core/log.hpp"
#include "sync/gateway/api.hpp"
#include "sync/gateway/store.hpp"

namespace fs = std::filesystem;
using namespace kiosk::gateway;
using nlohmann::json;

namespace {

constexpr std::string_view kPassword = "Counter-Staff-7";

class StaffVerifyRoute : public ::testing::Test {
 protected:
  StaffVerifyRoute() {
    auto hash = hash_password(kPassword, 1000);  // cheap iterations keep the test fast
    staff_ = StaffRecord{"S0007", "Zhao Min", "operator", *hash};
    handler_ = std::make_unique<ApiHandler>(
        [this](std::string_view id) -> kiosk::Result<std::optional<StaffRecord>> {
          ++lookups_;
          if (id == staff_.staff_id) return std::optional<StaffRecord>(staff_);
          return std::optional<StaffRecord>();
        },
        "9.9.9", kDefaultMaxBodyBytes, 1000);
  }

  static ApiRequest device_post(std::string body, std::string target = "/v1/device/staff/verify") {
    ApiRequest request;
    request.method = "POST";
    request.target = std::move(target);
    request.listener = Listener::device;
    request.device_id = "SIM-0042";
    request.body = std::move(body);
    return request;
  }
  static std::string body_for(std::string_view staff_id, std::string_view password) {
    return json{{"staff_id", staff_id}, {"password", password}}.dump();
  }
  ApiResponse verify(std::string_view staff_id, std::string_view password) {
    return handler_->handle(device_post(body_for(staff_id, password)));
  }
  static std::string code_of(const ApiResponse& response) {
    return json::parse(response.body).value("code", std::string());
  }

  StaffRecord staff_;
  int lookups_ = 0;
  std::unique_ptr<ApiHandler> handler_;
};

std::string read_file(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST_F(StaffVerifyRoute, CorrectPasswordAnswersWhoTheStaffMemberIs) {
  const auto response = verify("S0007", kPassword);
  ASSERT_EQ(response.status, 200u) << response.body;
  const auto body = json::parse(response.body);
  EXPECT_EQ(body, (json{{"staff_id", "S0007"}, {"display_name", "Zhao Min"}, {"role", "operator"}}));
  // A confirmation is not a sign-in: no token comes back.
  EXPECT_FALSE(body.contains("token"));
}

TEST_F(StaffVerifyRoute, WrongPasswordAndUnknownIdGetTheSameRefusal) {
  const auto wrong = verify("S0007", "not-it");
  const auto unknown = verify("S9999", "not-it");
  EXPECT_EQ(wrong.status, 401u);
  EXPECT_EQ(code_of(wrong), "SIGN_IN_REFUSED");
  EXPECT_EQ(unknown.status, wrong.status);
  EXPECT_EQ(unknown.body, wrong.body);
  // A password that only differs in case is wrong too.
  EXPECT_EQ(verify("S0007", "counter-staff-7").status, 401u);
}

TEST_F(StaffVerifyRoute, FiveFailuresThrottleThatIdEvenForTheRightPassword) {
  for (int attempt = 1; attempt <= 5; ++attempt) {
    const auto refused = verify("S0007", "guess-" + std::to_string(attempt));
    ASSERT_EQ(refused.status, 401u) << "attempt " << attempt << ": " << refused.body;
  }
  const int lookups_before = lookups_;
  const auto throttled = verify("S0007", kPassword);
  EXPECT_EQ(throttled.status, 429u) << throttled.body;
  EXPECT_EQ(code_of(throttled), "SIGN_IN_THROTTLED");
  // Throttled before any password work or lookup.
  EXPECT_EQ(lookups_, lookups_before);
  // Another id is not affected.
  EXPECT_EQ(verify("S9999", "x").status, 401u);
}

TEST_F(StaffVerifyRoute, UnknownIdsAreThrottledLikeKnownOnes) {
  for (int attempt = 0; attempt < 5; ++attempt) ASSERT_EQ(verify("S9999", "x").status, 401u);
  EXPECT_EQ(verify("S9999", "x").status, 429u);
}

TEST_F(StaffVerifyRoute, ACorrectPasswordClearsEarlierFailures) {
  for (int attempt = 0; attempt < 4; ++attempt) ASSERT_EQ(verify("S0007", "wrong").status, 401u);
  ASSERT_EQ(verify("S0007", kPassword).status, 200u);
  for (int attempt = 0; attempt < 4; ++attempt) ASSERT_EQ(verify("S0007", "wrong").status, 401u);
  EXPECT_EQ(verify("S0007", kPassword).status, 200u);
}

TEST_F(StaffVerifyRoute, BadBodiesAre400AndDoNotCountAsFailures) {
  EXPECT_EQ(code_of(handler_->handle(device_post("{not json"))), "BAD_JSON");
  EXPECT_EQ(code_of(handler_->handle(device_post(""))), "BAD_JSON");
  EXPECT_EQ(code_of(handler_->handle(device_post("[]"))), "BAD_JSON");
  EXPECT_EQ(code_of(handler_->handle(device_post(R"({"staff_id":"S0007"})"))), "FIELD_MISSING");
  EXPECT_EQ(code_of(handler_->handle(device_post(R"({"staff_id":"S0007","password":7})"))), "FIELD_INVALID");
  EXPECT_EQ(code_of(handler_->handle(device_post(body_for("S 0007", "x")))), "FIELD_INVALID");
  EXPECT_EQ(code_of(handler_->handle(device_post(body_for("S0007", "")))), "FIELD_INVALID");
  EXPECT_EQ(handler_->handle(device_post(body_for("S0007", std::string(257, 'p')))).status, 400u);
  const auto too_large = handler_->handle(device_post(std::string(kDefaultMaxBodyBytes + 1, ' ')));
  EXPECT_EQ(too_large.status, 400u);
  EXPECT_EQ(code_of(too_large), "BODY_TOO_LARGE");
  for (int attempt = 0; attempt < 6; ++attempt) {
    EXPECT_EQ(handler_->handle(device_post(R"({"staff_id":"S0007"})")).status, 400u);
  }
  EXPECT_EQ(verify("S0007", kPassword).status, 200u);
  EXPECT_EQ(lookups_, 1);
}

TEST_F(StaffVerifyRoute, OnlyTheDeviceListenerHasTheRouteAndOnlyForPost) {
  auto on_console = device_post(body_for("S0007", kPassword));
  on_console.listener = Listener::console;
  on_console.device_id.clear();
  const auto not_found = handler_->handle(on_console);
  EXPECT_EQ(not_found.status, 404u);
  EXPECT_EQ(code_of(not_found), "NOT_FOUND");
  EXPECT_EQ(lookups_, 0);

  auto as_get = device_post("");
  as_get.method = "GET";
  EXPECT_EQ(handler_->handle(as_get).status, 405u);
  // A query string does not change the route.
  EXPECT_EQ(handler_->handle(device_post(body_for("S0007", kPassword), "/v1/device/staff/verify?x=1")).status, 200u);
}

TEST_F(StaffVerifyRoute, StorageFailureIs503) {
  ApiHandler broken(
      [](std::string_view) -> kiosk::Result<std::optional<StaffRecord>> {
        return kiosk::fail("STORE_IO", "disk gone");
      },
      "9.9.9", kDefaultMaxBodyBytes, 1000);
  const auto response = broken.handle(device_post(body_for("S0007", kPassword)));
  EXPECT_EQ(response.status, 503u);
  EXPECT_EQ(code_of(response), "STORAGE_UNAVAILABLE");
}

TEST_F(StaffVerifyRoute, LogsNeverHoldThePasswordAndOnlyASuccessNamesTheId) {
  std::string pattern = (fs::temp_directory_path() / "staff-verify-log-XXXXXX").string();
  ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
  const fs::path dir = pattern;
  const fs::path log_file = dir / "gateway.log";
  ASSERT_TRUE(kiosk::log::open_file(log_file));

  ASSERT_EQ(verify("S0042-typed-pw", "Secret-Guess-1").status, 401u);  // someone typed a password as the id
  ASSERT_EQ(verify("S0007", "Secret-Guess-2").status, 401u);
  for (int attempt = 0; attempt < 4; ++attempt) verify("S0007", "Secret-Guess-2");
  ASSERT_EQ(verify("S0007", kPassword).status, 429u);
  const std::string refusals = read_file(log_file);
  ASSERT_EQ(kiosk::log::open_file(dir / "success.log").has_value(), true);
  handler_ = std::make_unique<ApiHandler>(
      [this](std::string_view id) -> kiosk::Result<std::optional<StaffRecord>> {
        if (id == staff_.staff_id) return std::optional<StaffRecord>(staff_);
        return std::optional<StaffRecord>();
      },
      "9.9.9", kDefaultMaxBodyBytes, 1000);
  ASSERT_EQ(verify("S0007", kPassword).status, 200u);
  const std::string success = read_file(dir / "success.log");
  kiosk::log::open_file("/dev/null").value();
  std::error_code ignored;
  fs::remove_all(dir, ignored);

  EXPECT_NE(refusals.find(R"("event":"staff_verify_refused")"), std::string::npos) << refusals;
  EXPECT_NE(refusals.find(R"("event":"staff_verify_throttled")"), std::string::npos) << refusals;
  EXPECT_NE(refusals.find("SIM-0042"), std::string::npos) << refusals;  // which kiosk asked
  for (const char* secret : {"S0042-typed-pw", "S0007", "Secret-Guess", "Counter-Staff-7", "Zhao Min"}) {
    EXPECT_EQ(refusals.find(secret), std::string::npos) << secret << " in " << refusals;
  }
  EXPECT_NE(success.find(R"("event":"staff_verify")"), std::string::npos) << success;
  EXPECT_NE(success.find(R"("staff_id":"S0007")"), std::string::npos) << success;
  EXPECT_EQ(success.find("Counter-Staff-7"), std::string::npos) << success;
  EXPECT_EQ(success.find("Zhao Min"), std::string::npos) << success;
}

using Clock = FailedAttemptThrottle::Clock;

TEST(FailedAttemptThrottle, ThrottlesAtTheLimitAndReleasesWhenTheOldestFailureLeavesTheWindow) {
  FailedAttemptThrottle throttle(5, std::chrono::minutes(5));
  const Clock::time_point start{};
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(throttle.is_throttled("S1", start + std::chrono::seconds(i)));
    throttle.record_failure("S1", start + std::chrono::seconds(i));
  }
  EXPECT_TRUE(throttle.is_throttled("S1", start + std::chrono::seconds(5)));
  EXPECT_TRUE(throttle.is_throttled("S1", start + std::chrono::seconds(299)));
  EXPECT_FALSE(throttle.is_throttled("S2", start + std::chrono::seconds(5)));
  // The first failure (t=0) leaves the window at t=300; four remain.
  EXPECT_FALSE(throttle.is_throttled("S1", start + std::chrono::seconds(300)));
  // A new failure at t=300 makes five again (t=1..4 and 300); at t=301 the one from t=1 has left.
  throttle.record_failure("S1", start + std::chrono::seconds(300));
  EXPECT_TRUE(throttle.is_throttled("S1", start + std::chrono::seconds(300)));
  EXPECT_FALSE(throttle.is_throttled("S1", start + std::chrono::seconds(301)));
  // All gone after another window: the id is forgotten entirely.
  EXPECT_FALSE(throttle.is_throttled("S1", start + std::chrono::seconds(700)));
  EXPECT_EQ(throttle.tracked_ids(), 0u);
}

TEST(FailedAttemptThrottle, FailuresSpreadWiderThanTheWindowNeverThrottle) {
  FailedAttemptThrottle throttle(5, std::chrono::minutes(5));
  const Clock::time_point start{};
  for (int i = 0; i < 20; ++i) {
    const auto now = start + std::chrono::seconds(61 * i);  // 5 failures span more than 5 minutes
    EXPECT_FALSE(throttle.is_throttled("S1", now)) << i;
    throttle.record_failure("S1", now);
  }
}

TEST(FailedAttemptThrottle, ClearForgetsTheId) {
  FailedAttemptThrottle throttle(2, std::chrono::minutes(5));
  const Clock::time_point now{};
  throttle.record_failure("S1", now);
  throttle.record_failure("S1", now);
  EXPECT_TRUE(throttle.is_throttled("S1", now));
  throttle.clear("S1");
  EXPECT_FALSE(throttle.is_throttled("S1", now));
}

TEST(FailedAttemptThrottle, MemoryIsBoundedByForgettingTheStalestId) {
  FailedAttemptThrottle throttle(2, std::chrono::minutes(5), /*max_tracked_ids=*/3);
  const Clock::time_point start{};
  throttle.record_failure("old", start);
  throttle.record_failure("old", start);
  for (int i = 1; i <= 10; ++i)
    throttle.record_failure("made-up-" + std::to_string(i), start + std::chrono::seconds(i));
  EXPECT_EQ(throttle.tracked_ids(), 3u);
  EXPECT_FALSE(throttle.is_throttled("old", start + std::chrono::seconds(11)));  // evicted first
  // Expired entries make room before anything live is evicted.
  throttle.record_failure("hot", start + std::chrono::seconds(20));
  throttle.record_failure("hot", start + std::chrono::seconds(20));
  EXPECT_TRUE(throttle.is_throttled("hot", start + std::chrono::seconds(21)));
  const auto later = start + std::chrono::seconds(400);
  throttle.record_failure("hot", later);
  throttle.record_failure("new", later);
  EXPECT_EQ(throttle.tracked_ids(), 2u);  // the made-up ids had all expired
}

}  // namespace
