// The control language: every command's answer, the fault grammar, and refusals that say what was
// expected.
#include "hal/idcard/sim/sim_control.hpp"

#include <gtest/gtest.h>

namespace kiosk::hal::idcard::sim {
namespace {

class SimControlTest : public ::testing::Test {
 protected:
  SimEngine engine_;
  SimControl control_{engine_, IDCARD_SIM_CARDS_DIR};
};

TEST_F(SimControlTest, PlaceRemoveListStatus) {
  EXPECT_EQ(control_.handle("list").line,
            "ok bad-check-digit expired foreign-pr-2017 foreign-pr-2023 hkmotw-residence resident resident-rare-name");
  EXPECT_TRUE(control_.handle("status").line.starts_with("ok card=none faults=0 baud=115200"));

  EXPECT_EQ(control_.handle("place resident").line, "ok placed resident");
  ASSERT_TRUE(engine_.card().has_value());
  EXPECT_EQ(engine_.card()->name, "resident");
  control_.set_port_status("port=plugged");
  const std::string status = control_.handle("status\r").line;
  EXPECT_TRUE(status.starts_with("ok card=resident faults=0")) << status;
  EXPECT_TRUE(status.ends_with(" port=plugged")) << status;

  EXPECT_EQ(control_.handle("  remove ").line, "ok removed");
  EXPECT_FALSE(engine_.card().has_value());
  EXPECT_EQ(control_.handle("remove").line, "ok removed (the slot was already empty)");
}

TEST_F(SimControlTest, PlaceRefusesWhatItCannotLoad) {
  const ControlReply missing = control_.handle("place nobody");
  EXPECT_TRUE(missing.line.starts_with("error no card fixture named 'nobody'")) << missing.line;
  EXPECT_TRUE(control_.handle("place").line.starts_with("error usage: place NAME"));
  EXPECT_TRUE(control_.handle("place ../cards/resident").line.starts_with("error "));
  EXPECT_FALSE(engine_.card().has_value());
}

TEST_F(SimControlTest, FaultsAreQueuedAndCleared) {
  EXPECT_EQ(control_.handle("fault bitflip").line, "ok fault bitflip times 1 queued");
  EXPECT_EQ(control_.handle("fault truncate times 3").line, "ok fault truncate times 3 queued");
  EXPECT_EQ(control_.handle("fault wrong-length").line, "ok fault wrong-length times 1 queued");
  EXPECT_EQ(control_.handle("fault wrong-length plausible times 2").line,
            "ok fault wrong-length plausible times 2 queued");
  EXPECT_EQ(control_.handle("fault silence").line, "ok fault silence times 1 queued");
  EXPECT_EQ(control_.handle("fault garbage times 2").line, "ok fault garbage times 2 queued");
  EXPECT_EQ(control_.handle("fault status 0x41").line, "ok fault status 0x41 on any times 1 queued");
  EXPECT_EQ(control_.handle("fault status 0x33 on read times 4").line, "ok fault status 0x33 on read times 4 queued");
  EXPECT_EQ(control_.handle("fault status 81 on select").line, "ok fault status 0x81 on select times 1 queued");
  EXPECT_EQ(control_.handle("fault remove-during-read").line, "ok fault remove-during-read times 1 queued");
  ASSERT_EQ(engine_.faults().size(), 10U);
  EXPECT_EQ(engine_.faults()[7].kind, FaultKind::status);
  EXPECT_EQ(engine_.faults()[7].sw3, 0x33);
  EXPECT_EQ(engine_.faults()[7].target, FaultTarget::read);
  EXPECT_EQ(engine_.faults()[7].times, 4U);
  EXPECT_EQ(engine_.faults()[9].target, FaultTarget::read);
  EXPECT_NE(control_.handle("status").line.find("faults=10 [bitflip times 1]"), std::string::npos);

  EXPECT_EQ(control_.handle("fault clear").line, "ok faults cleared");
  EXPECT_TRUE(engine_.faults().empty());
}

TEST_F(SimControlTest, BadFaultsSayWhatWasExpected) {
  for (const std::string_view line :
       {"fault", "fault meteor", "fault bitflip times", "fault bitflip times 0", "fault bitflip times x",
        "fault status", "fault status 0x1FF", "fault status 0xZZ", "fault status 0x41 on door", "fault status 0x41 on",
        "fault silence loudly", "fault remove-during-read times 2"}) {
    const ControlReply reply = control_.handle(line);
    EXPECT_TRUE(reply.line.starts_with("error ")) << line << " -> " << reply.line;
  }
  EXPECT_TRUE(engine_.faults().empty());
}

TEST_F(SimControlTest, PortAndProcessCommandsAreTheProgramsToAnswer) {
  EXPECT_EQ(control_.handle("unplug").action, ControlAction::unplug);
  EXPECT_EQ(control_.handle("replug").action, ControlAction::replug);
  EXPECT_EQ(control_.handle("quit").action, ControlAction::quit);
  EXPECT_TRUE(control_.handle("unplug").line.empty());
  EXPECT_EQ(control_.handle("quit now").line, "error 'quit' takes no arguments");
  EXPECT_EQ(control_.handle("quit now").action, ControlAction::none);
}

TEST_F(SimControlTest, UnknownAndEmptyLines) {
  EXPECT_TRUE(control_.handle("dance").line.starts_with("error unknown command 'dance'; commands: place NAME"));
  EXPECT_TRUE(control_.handle("").line.starts_with("error empty command"));
  EXPECT_TRUE(control_.handle("   ").line.starts_with("error empty command"));
}

}  // namespace
}  // namespace kiosk::hal::idcard::sim
