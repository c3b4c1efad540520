// The engineer's screens in the session: the hidden hold on the attract screen, the operator's
// sign-in through head office's staff check, the status screen and the ways out.
#include <gtest/gtest.h>

#include "kiosk/core/kiosk_session.hpp"

namespace kiosk {
namespace {

using std::chrono::seconds;

// The staff check needs the transaction services; the engineer path must never use them for a
// transaction, so every call fails loudly and is counted.
class UnusedTransactions : public TransactionPort {
 public:
  [[nodiscard]] std::vector<Medium> media_allowed(Operation) const override { return {}; }
  Result<OpenedTransaction> open(Operation, Medium) override {
    ++calls;
    return fail("TEST_PORT_UNUSED", "the engineer screens opened a transaction");
  }
  Result<workflow::Transaction::Completion> complete(StepId, StepInput) override {
    ++calls;
    return fail("TEST_PORT_UNUSED", "the engineer screens committed a step");
  }
  void abort(std::string_view) override { ++calls; }
  int calls = 0;
};

class EngineerSessionTest : public ::testing::Test {
 protected:
  ManualClock clock;
  KioskSettings settings{.idle_timeout = seconds{90}, .idle_warning = seconds{20}};
  UnusedTransactions port;
  KioskSession session{settings, clock, &port};

  void wait(seconds s) {
    clock.advance(s);
    session.handle(event::Tick{});
  }
  void hold_corner(seconds s) {
    session.handle(event::EngineerCornerHold{true});
    wait(s);
  }
  void sign_in_as(std::string role) {
    hold_corner(seconds{3});
    ASSERT_EQ(session.state().screen, Screen::engineer_sign_in);
    session.handle(event::StaffSignInSubmitted{});
    ASSERT_EQ(session.state().screen, Screen::engineer_verifying);
    session.handle(event::StaffVerified{session.state().flow_attempt, "E1024", "Li Gong", std::move(role)});
  }
};

TEST_F(EngineerSessionTest, HoldingTheCornerThreeSecondsOpensTheSignIn) {
  hold_corner(seconds{2});
  EXPECT_EQ(session.state().screen, Screen::attract);
  wait(seconds{1});
  EXPECT_EQ(session.state().screen, Screen::engineer_sign_in);
  EXPECT_EQ(port.calls, 0);
}

TEST_F(EngineerSessionTest, LettingGoEarlyOpensNothing) {
  hold_corner(seconds{2});
  session.handle(event::EngineerCornerHold{false});
  wait(seconds{5});
  EXPECT_EQ(session.state().screen, Screen::attract);
  // A new hold starts counting again from its own press.
  hold_corner(seconds{2});
  EXPECT_EQ(session.state().screen, Screen::attract);
}

TEST_F(EngineerSessionTest, TheCornerCountsOnlyOnTheAttractScreen) {
  session.handle(event::Start{});
  hold_corner(seconds{5});
  EXPECT_EQ(session.state().screen, Screen::choose_operation);
  // A hold begun in a session does not carry over to the attract screen.
  session.handle(event::EndSession{});
  wait(seconds{5});
  EXPECT_EQ(session.state().screen, Screen::attract);
}

TEST_F(EngineerSessionTest, WithoutStaffVerificationTheEntryIsNotAvailable) {
  KioskSession identity_only{settings, clock};
  identity_only.handle(event::EngineerCornerHold{true});
  clock.advance(seconds{3});
  identity_only.handle(event::Tick{});
  EXPECT_EQ(identity_only.state().screen, Screen::engineer_unavailable);
  // Nothing lets anyone in from there: a sign-in or a verified answer changes nothing.
  identity_only.handle(event::StaffSignInSubmitted{});
  identity_only.handle(event::StaffVerified{identity_only.state().flow_attempt, "E1", "X", "operator"});
  EXPECT_EQ(identity_only.state().screen, Screen::engineer_unavailable);
  identity_only.handle(event::Back{});
  EXPECT_EQ(identity_only.state().screen, Screen::attract);
}

TEST_F(EngineerSessionTest, AnotherRoleIsRefusedWithAClearCode) {
  sign_in_as("witness");
  EXPECT_EQ(session.state().screen, Screen::engineer_sign_in);
  EXPECT_EQ(session.state().staff_problem_code, "ENGINEER_ROLE_NOT_ALLOWED");
  EXPECT_TRUE(session.state().staff_id.empty());
  EXPECT_TRUE(session.state().staff_display_name.empty());
}

TEST_F(EngineerSessionTest, AnAnswerWithoutARoleIsRefused) {
  session.handle(event::EngineerCornerHold{true});
  wait(seconds{3});
  session.handle(event::StaffSignInSubmitted{});
  session.handle(event::StaffVerified{session.state().flow_attempt, "E1024", "Li Gong"});
  EXPECT_EQ(session.state().screen, Screen::engineer_sign_in);
  EXPECT_EQ(session.state().staff_problem_code, "ENGINEER_ROLE_NOT_ALLOWED");
}

TEST_F(EngineerSessionTest, HeadOfficeRefusalKeepsTheSignInWithItsCode) {
  hold_corner(seconds{3});
  session.handle(event::StaffSignInSubmitted{});
  session.handle(event::StaffRefused{session.state().flow_attempt, "SIGN_IN_REFUSED"});
  EXPECT_EQ(session.state().screen, Screen::engineer_sign_in);
  EXPECT_EQ(session.state().staff_problem_code, "SIGN_IN_REFUSED");
  // Submitting again clears the old code while head office checks.
  session.handle(event::StaffSignInSubmitted{});
  EXPECT_EQ(session.state().screen, Screen::engineer_verifying);
  EXPECT_TRUE(session.state().staff_problem_code.empty());
}

TEST_F(EngineerSessionTest, AnOperatorReachesTheStatusScreen) {
  sign_in_as("operator");
  EXPECT_EQ(session.state().screen, Screen::engineer_status);
  EXPECT_EQ(session.state().staff_id, "E1024");
  EXPECT_EQ(session.state().staff_display_name, "Li Gong");
  EXPECT_EQ(port.calls, 0);
}

TEST_F(EngineerSessionTest, AnAnswerForAnOlderAttemptIsIgnored) {
  hold_corner(seconds{3});
  session.handle(event::StaffSignInSubmitted{});
  session.handle(event::StaffVerified{session.state().flow_attempt - 1, "E1024", "Li Gong", "operator"});
  EXPECT_EQ(session.state().screen, Screen::engineer_verifying);
  EXPECT_TRUE(session.state().staff_id.empty());
}

TEST_F(EngineerSessionTest, ExitGoesBackToAttractAndForgetsTheOperator) {
  sign_in_as("operator");
  session.handle(event::Back{});
  EXPECT_EQ(session.state().screen, Screen::attract);
  EXPECT_TRUE(session.state().staff_id.empty());
  EXPECT_TRUE(session.state().staff_display_name.empty());
}

TEST_F(EngineerSessionTest, TheStatusScreenLeavesByItselfAfterTheInactivityTimeout) {
  sign_in_as("operator");
  wait(seconds{90});
  EXPECT_TRUE(session.state().idle_warning);
  EXPECT_EQ(session.state().screen, Screen::engineer_status);
  wait(seconds{20});
  EXPECT_EQ(session.state().screen, Screen::attract);
  EXPECT_TRUE(session.state().staff_id.empty());
}

TEST_F(EngineerSessionTest, UploadReportsReachTheStatusScreenAndSurviveTheExit) {
  sign_in_as("operator");
  EXPECT_FALSE(session.state().evidence_upload.has_value());
  EvidenceUploadStatus report{.sealed = 2,
                              .uploading = 1,
                              .rejected = 1,
                              .current_package = "3f9a1c",
                              .current_offset = 1024,
                              .current_length = 4096,
                              .bytes_per_second = 2048.0,
                              .last_error_code = "PACKAGE_REJECTED"};
  const auto revision = session.state().revision;
  session.handle(report);
  ASSERT_TRUE(session.state().evidence_upload.has_value());
  EXPECT_EQ(*session.state().evidence_upload, report);
  EXPECT_GT(session.state().revision, revision);  // the screen redraws
  session.handle(event::Back{});
  EXPECT_EQ(session.state().evidence_upload, report);
}

}  // namespace
}  // namespace kiosk
