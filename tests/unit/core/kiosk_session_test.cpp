#include "kiosk/core/kiosk_session.hpp"

#include <gtest/gtest.h>

namespace kiosk {
namespace {

using std::chrono::seconds;

class KioskSessionTest : public ::testing::Test {
 protected:
  ManualClock clock;
  KioskSettings settings{.idle_timeout = seconds{90}, .idle_warning = seconds{20}};
  KioskSession session{settings, clock};

  void wait(seconds s) {
    clock.advance(s);
    session.handle(event::Tick{});
  }
};

TEST_F(KioskSessionTest, StartsOnTheAttractScreenInChinese) {
  EXPECT_EQ(session.state().screen, Screen::attract);
  EXPECT_EQ(session.state().language, Language::zh_CN);
}

TEST_F(KioskSessionTest, EveryOperationStartsWithTheIdentityCheck) {
  session.handle(event::Start{});
  EXPECT_EQ(session.state().screen, Screen::choose_operation);
  session.handle(event::ChooseOperation{Operation::freeze});
  EXPECT_EQ(session.state().screen, Screen::place_card);
  EXPECT_EQ(session.state().operation, Operation::freeze);
  EXPECT_EQ(session.state().identity_attempt, 1u);
  session.handle(event::Back{});
  EXPECT_EQ(session.state().screen, Screen::choose_operation);
  EXPECT_FALSE(session.state().operation.has_value());
}

IdentitySummary summary() {
  return IdentitySummary{.document_type = "prc-id",
                         .masked_name = "测*",
                         .masked_number = "1101**********002X",
                         .valid_until = "long-term",
                         .nciis_result = "MATCH",
                         .photo = {}};
}

TEST_F(KioskSessionTest, ACardReadLeadsToTheResultAndThenToAnOpenRefusalOfTheRest) {
  session.handle(event::Start{});
  session.handle(event::ChooseOperation{Operation::apply});
  const auto attempt = session.state().identity_attempt;
  session.handle(event::CardDetected{attempt});
  EXPECT_EQ(session.state().screen, Screen::reading_card);
  session.handle(event::IdentityVerified{attempt, summary()});
  EXPECT_EQ(session.state().screen, Screen::identity_result);
  ASSERT_TRUE(session.state().identity);
  EXPECT_EQ(session.state().identity->masked_number, "1101**********002X");
  session.handle(event::ContinueAfterIdentity{});
  EXPECT_EQ(session.state().screen, Screen::operation_unavailable);
  session.handle(event::EndSession{});
  EXPECT_EQ(session.state().screen, Screen::attract);
  EXPECT_FALSE(session.state().identity);  // the investor's data is forgotten with the session
}

TEST_F(KioskSessionTest, ResultsOfAnOlderAttemptAreIgnored) {
  session.handle(event::Start{});
  session.handle(event::ChooseOperation{Operation::apply});
  const auto old_attempt = session.state().identity_attempt;
  session.handle(event::Back{});
  session.handle(event::ChooseOperation{Operation::renew});
  ASSERT_NE(session.state().identity_attempt, old_attempt);
  session.handle(event::CardDetected{old_attempt});
  session.handle(event::IdentityVerified{old_attempt, summary()});
  EXPECT_EQ(session.state().screen, Screen::place_card);
  EXPECT_FALSE(session.state().identity);
}

TEST_F(KioskSessionTest, RetryableProblemsOfferANewAttempt) {
  session.handle(event::Start{});
  session.handle(event::ChooseOperation{Operation::apply});
  const auto attempt = session.state().identity_attempt;
  session.handle(event::IdentityFailed{attempt, IdentityProblem::card_removed_early, "IDCARD_CARD_MOVED"});
  EXPECT_EQ(session.state().screen, Screen::identity_failed);
  EXPECT_EQ(session.state().identity_problem_code, "IDCARD_CARD_MOVED");
  session.handle(event::RetryIdentity{});
  EXPECT_EQ(session.state().screen, Screen::place_card);
  EXPECT_EQ(session.state().identity_attempt, attempt + 1);
  EXPECT_FALSE(session.state().identity_problem);
}

// REQ-06 and REQ-07: a mismatch at NCIIS or an expired document ends the business; no retry.
TEST_F(KioskSessionTest, FinalProblemsCannotBeRetried) {
  for (const auto problem : {IdentityProblem::nciis_mismatch, IdentityProblem::document_expired,
                             IdentityProblem::suspect_card, IdentityProblem::document_not_accepted}) {
    session.handle(event::EndSession{});
    session.handle(event::Start{});
    session.handle(event::ChooseOperation{Operation::apply});
    const auto attempt = session.state().identity_attempt;
    session.handle(event::IdentityFailed{attempt, problem, "X"});
    ASSERT_EQ(session.state().screen, Screen::identity_failed);
    session.handle(event::RetryIdentity{});
    EXPECT_EQ(session.state().screen, Screen::identity_failed) << to_string(problem);
    EXPECT_FALSE(identity_retry_allowed(problem));
  }
  EXPECT_TRUE(identity_retry_allowed(IdentityProblem::nciis_unavailable));  // REQ-06: ERROR may be retried
}

TEST_F(KioskSessionTest, ReaderStatusIsTracked) {
  session.handle(event::CardReaderStatus{false, "IDCARD_NO_DEVICE"});
  EXPECT_EQ(session.state().reader, ReaderLink::offline);
  EXPECT_EQ(session.state().reader_problem, "IDCARD_NO_DEVICE");
  session.handle(event::CardReaderStatus{true, ""});
  EXPECT_EQ(session.state().reader, ReaderLink::online);
}

TEST_F(KioskSessionTest, ChoosingAnOperationOutsideTheMenuDoesNothing) {
  session.handle(event::ChooseOperation{Operation::apply});
  EXPECT_EQ(session.state().screen, Screen::attract);
  EXPECT_FALSE(session.state().operation.has_value());
}

TEST_F(KioskSessionTest, IdleWarnsThenClearsTheSessionAndLanguage) {
  session.handle(event::Start{});
  session.handle(event::SetLanguage{Language::en});
  wait(seconds{89});
  EXPECT_FALSE(session.state().idle_warning);
  wait(seconds{1});
  EXPECT_TRUE(session.state().idle_warning);
  EXPECT_EQ(session.state().idle_seconds_left, seconds{20});
  wait(seconds{19});
  EXPECT_EQ(session.state().idle_seconds_left, seconds{1});
  EXPECT_EQ(session.state().screen, Screen::choose_operation);
  wait(seconds{1});
  EXPECT_EQ(session.state().screen, Screen::attract);
  EXPECT_EQ(session.state().language, Language::zh_CN);
  EXPECT_FALSE(session.state().idle_warning);
}

TEST_F(KioskSessionTest, StillHereDismissesTheWarningAndRestartsTheTimer) {
  session.handle(event::Start{});
  wait(seconds{95});
  ASSERT_TRUE(session.state().idle_warning);
  session.handle(event::StillHere{});
  EXPECT_FALSE(session.state().idle_warning);
  wait(seconds{89});
  EXPECT_FALSE(session.state().idle_warning);
  EXPECT_EQ(session.state().screen, Screen::choose_operation);
}

TEST_F(KioskSessionTest, AnyTouchCountsAsActivity) {
  session.handle(event::Start{});
  wait(seconds{80});
  session.handle(event::UserActivity{});
  wait(seconds{80});
  EXPECT_FALSE(session.state().idle_warning);
}

TEST_F(KioskSessionTest, AttractScreenNeverTimesOut) {
  wait(seconds{10'000});
  EXPECT_EQ(session.state().screen, Screen::attract);
  EXPECT_FALSE(session.state().idle_warning);
}

TEST_F(KioskSessionTest, MaintenanceExitIsRefusedUnlessConfigured) {
  session.handle(event::MaintenanceExit{});
  EXPECT_FALSE(session.state().exit_requested);

  KioskSession maintenance({.maintenance_exit_allowed = true}, clock);
  maintenance.handle(event::MaintenanceExit{});
  EXPECT_TRUE(maintenance.state().exit_requested);
}

TEST_F(KioskSessionTest, ShutdownAlwaysExits) {
  session.handle(event::Shutdown{});
  EXPECT_TRUE(session.state().exit_requested);
}

TEST_F(KioskSessionTest, GatewayStatusIsTrackedWithItsProblemCode) {
  session.handle(event::GatewayChecked{false, "TLS_HANDSHAKE_FAILED"});
  EXPECT_EQ(session.state().gateway, GatewayLink::offline);
  EXPECT_EQ(session.state().gateway_problem, "TLS_HANDSHAKE_FAILED");
  session.handle(event::GatewayChecked{true, ""});
  EXPECT_EQ(session.state().gateway, GatewayLink::online);
  EXPECT_TRUE(session.state().gateway_problem.empty());
}

TEST_F(KioskSessionTest, RevisionChangesOnlyWhenTheStateChanges) {
  const auto before = session.state().revision;
  session.handle(event::Tick{});
  EXPECT_EQ(session.state().revision, before);
  session.handle(event::Start{});
  EXPECT_GT(session.state().revision, before);
}

}  // namespace
}  // namespace kiosk
