#include "ui/witness/witness_state.hpp"

#include <gtest/gtest.h>

#include "ui/witness/witness_config.hpp"

namespace kiosk::witness {
namespace {

StaffInfo staff() { return StaffInfo{"W0001", "张三", "witness"}; }

TEST(WitnessSession, SignInThenPollThenSignOut) {
  WitnessSession s;
  auto commands = s.handle(event::SignInRequested{"W0001", "secret"});
  EXPECT_EQ(s.state().phase, Phase::signing_in);
  ASSERT_EQ(commands.size(), 1u);
  const auto& sign_in = std::get<command::SignIn>(commands[0]);
  EXPECT_EQ(sign_in.staff_id, "W0001");
  EXPECT_EQ(sign_in.password, "secret");

  commands = s.handle(event::SignInSucceeded{"tok", staff()});
  EXPECT_EQ(s.state().phase, Phase::connected);
  EXPECT_EQ(s.state().staff.display_name, "张三");
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_EQ(std::get<command::StartPolling>(commands[0]).token, "tok");

  s.handle(event::SessionCheckFailed{"GATEWAY_UNREACHABLE"});
  EXPECT_EQ(s.state().phase, Phase::reconnecting);
  EXPECT_EQ(s.state().problem_code, "GATEWAY_UNREACHABLE");
  s.handle(event::SessionConfirmed{staff(), "2026-01-01T00:00:00Z"});
  EXPECT_EQ(s.state().phase, Phase::connected);
  EXPECT_EQ(s.state().server_time, "2026-01-01T00:00:00Z");

  commands = s.handle(event::SignOutRequested{});
  EXPECT_EQ(s.state().phase, Phase::signed_out);
  EXPECT_TRUE(s.state().staff.staff_id.empty());
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<command::StopPolling>(commands[0]));
}

TEST(WitnessSession, EmptyFieldsAreRefusedLocally) {
  WitnessSession s;
  EXPECT_TRUE(s.handle(event::SignInRequested{"W0001", ""}).empty());
  EXPECT_EQ(s.state().phase, Phase::signed_out);
  EXPECT_EQ(s.state().notice_key, "witness.signin.missing");
}

TEST(WitnessSession, RefusalAndFailureReturnToSignIn) {
  WitnessSession s;
  s.handle(event::SignInRequested{"W0001", "bad"});
  s.handle(event::SignInRefused{});
  EXPECT_EQ(s.state().phase, Phase::signed_out);
  EXPECT_EQ(s.state().notice_key, "witness.signin.refused");
  s.handle(event::SignInRequested{"W0001", "pw"});
  s.handle(event::SignInFailed{"GATEWAY_TIMEOUT"});
  EXPECT_EQ(s.state().notice_key, "witness.signin.failed");
  EXPECT_EQ(s.state().problem_code, "GATEWAY_TIMEOUT");
}

TEST(WitnessSession, ExpiredTokenSignsOut) {
  WitnessSession s;
  s.handle(event::SignInRequested{"W0001", "pw"});
  s.handle(event::SignInSucceeded{"tok", staff()});
  const auto commands = s.handle(event::SessionExpired{});
  EXPECT_EQ(s.state().phase, Phase::signed_out);
  EXPECT_EQ(s.state().notice_key, "witness.signin.expired");
  ASSERT_EQ(commands.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<command::StopPolling>(commands[0]));
}

TEST(WitnessSession, StaleResultsAreIgnored) {
  WitnessSession s;
  const auto revision = s.state().revision;
  EXPECT_TRUE(s.handle(event::SignInSucceeded{"tok", staff()}).empty());  // nobody asked
  s.handle(event::SessionConfirmed{staff(), "t"});
  s.handle(event::SessionExpired{});
  EXPECT_EQ(s.state().phase, Phase::signed_out);
  EXPECT_EQ(s.state().revision, revision);
}

TEST(GatewayAnswers, SignIn) {
  using R = Result<sync::HttpResponse>;
  const auto ok = sign_in_result(R{sync::HttpResponse{
      200, R"({"token":"t1","staff_id":"W0001","display_name":"张三","role":"witness","expires_in":3600})"}});
  ASSERT_TRUE(std::holds_alternative<event::SignInSucceeded>(ok));
  EXPECT_EQ(std::get<event::SignInSucceeded>(ok).token, "t1");
  EXPECT_TRUE(std::holds_alternative<event::SignInRefused>(
      sign_in_result(R{sync::HttpResponse{401, R"({"code":"SIGN_IN_REFUSED","message":"no"})"}})));
  const auto garbage = sign_in_result(R{sync::HttpResponse{200, "not json"}});
  ASSERT_TRUE(std::holds_alternative<event::SignInFailed>(garbage));
  EXPECT_EQ(std::get<event::SignInFailed>(garbage).code, "GATEWAY_BAD_RESPONSE");
  const auto wrong_type = sign_in_result(R{sync::HttpResponse{200, R"({"token":5})"}});
  EXPECT_TRUE(std::holds_alternative<event::SignInFailed>(wrong_type));
  const auto server_error = sign_in_result(R{sync::HttpResponse{500, ""}});
  EXPECT_EQ(std::get<event::SignInFailed>(server_error).code, "GATEWAY_HTTP_500");
  const auto unreachable = sign_in_result(R{std::unexpected(Error{"GATEWAY_UNREACHABLE", "down"})});
  EXPECT_EQ(std::get<event::SignInFailed>(unreachable).code, "GATEWAY_UNREACHABLE");
}

TEST(GatewayAnswers, Session) {
  using R = Result<sync::HttpResponse>;
  const auto ok = session_result(R{sync::HttpResponse{
      200, R"({"staff_id":"W0001","display_name":"张三","role":"witness","server_time":"2026-01-01T08:00:00Z"})"}});
  ASSERT_TRUE(std::holds_alternative<event::SessionConfirmed>(ok));
  EXPECT_EQ(std::get<event::SessionConfirmed>(ok).server_time, "2026-01-01T08:00:00Z");
  EXPECT_TRUE(std::holds_alternative<event::SessionExpired>(session_result(R{sync::HttpResponse{401, ""}})));
  EXPECT_TRUE(std::holds_alternative<event::SessionCheckFailed>(session_result(R{sync::HttpResponse{200, "[]"}})));
}

TEST(GatewayAnswers, SignInBodyEscapesAndSurvivesBadUtf8) {
  EXPECT_EQ(sign_in_body("W0001", "p\"w"), R"({"password":"p\"w","staff_id":"W0001"})");
  EXPECT_FALSE(sign_in_body("W0001", "\xff").empty());
}

TEST(WitnessConfig, ExampleEqualsDefaults) {
  const auto loaded = load_witness_config(KIOSK_WITNESS_EXAMPLE_CONFIG);
  ASSERT_TRUE(loaded) << loaded.error().to_string();
  const WitnessConfig d;
  EXPECT_EQ(loaded->console_url, d.console_url);
  EXPECT_EQ(loaded->ca_file, d.ca_file);
  EXPECT_EQ(loaded->timeout, d.timeout);
  EXPECT_EQ(loaded->poll_interval, d.poll_interval);
  EXPECT_EQ(loaded->language, d.language);
  EXPECT_EQ(loaded->width, d.width);
  EXPECT_EQ(loaded->height, d.height);
  EXPECT_EQ(loaded->font_file, d.font_file);
  EXPECT_EQ(loaded->font_index, d.font_index);
  EXPECT_EQ(loaded->font_size_px, d.font_size_px);
  EXPECT_EQ(loaded->catalog_dir, d.catalog_dir);
  EXPECT_EQ(loaded->log_file, d.log_file);
}

}  // namespace
}  // namespace kiosk::witness
