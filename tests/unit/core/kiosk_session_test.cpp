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

TEST_F(KioskSessionTest, TouchStartsASessionAndOperationsAreRefusedOpenly) {
  session.handle(event::Start{});
  EXPECT_EQ(session.state().screen, Screen::choose_operation);
  session.handle(event::ChooseOperation{Operation::freeze});
  EXPECT_EQ(session.state().screen, Screen::operation_unavailable);
  EXPECT_EQ(session.state().operation, Operation::freeze);
  session.handle(event::Back{});
  EXPECT_EQ(session.state().screen, Screen::choose_operation);
  EXPECT_FALSE(session.state().operation.has_value());
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
