#include "ui/common/script.hpp"

#include <gtest/gtest.h>

namespace kiosk::ui {
namespace {

TEST(Script, ParsesEveryCommand) {
  const auto script = parse_script(R"(# a comment
wait_frames 5
wait_ms 250

tap op.freeze
type staff_id W0001
type password secret with spaces
screenshot attract_zh
expect_screen choose_operation
quit
)",
                                   "s.script");
  ASSERT_TRUE(script) << script.error().to_string();
  ASSERT_EQ(script->steps.size(), 8u);
  EXPECT_EQ(script->steps[0].kind, StepKind::wait_frames);
  EXPECT_EQ(script->steps[0].number, 5);
  EXPECT_EQ(script->steps[0].line, 2);
  EXPECT_EQ(script->steps[1].kind, StepKind::wait_ms);
  EXPECT_EQ(script->steps[1].number, 250);
  EXPECT_EQ(script->steps[2].kind, StepKind::tap);
  EXPECT_EQ(script->steps[2].name, "op.freeze");
  EXPECT_EQ(script->steps[3].kind, StepKind::type);
  EXPECT_EQ(script->steps[3].text, "W0001");
  EXPECT_EQ(script->steps[4].text, "secret with spaces");
  EXPECT_EQ(script->steps[5].kind, StepKind::screenshot);
  EXPECT_EQ(script->steps[6].kind, StepKind::expect_screen);
  EXPECT_EQ(script->steps[6].name, "choose_operation");
  EXPECT_EQ(script->steps[7].kind, StepKind::quit);
}

TEST(Script, ParsesWaitScreenWithItsTimeLimit) {
  const auto script = parse_script("wait_screen transaction_done 20000\n", "s.script");
  ASSERT_TRUE(script) << script.error().to_string();
  ASSERT_EQ(script->steps.size(), 1u);
  EXPECT_EQ(script->steps[0].kind, StepKind::wait_screen);
  EXPECT_EQ(script->steps[0].name, "transaction_done");
  EXPECT_EQ(script->steps[0].number, 20000);
}

TEST(Script, ParsesHoldWithItsDuration) {
  const auto script = parse_script("hold engineer.corner 3500\n", "s.script");
  ASSERT_TRUE(script) << script.error().to_string();
  ASSERT_EQ(script->steps.size(), 1u);
  EXPECT_EQ(script->steps[0].kind, StepKind::hold);
  EXPECT_EQ(script->steps[0].name, "engineer.corner");
  EXPECT_EQ(script->steps[0].number, 3500);
}

TEST(Script, ParsesKeyChords) {
  const auto script = parse_script("key escape\nkey alt+f4\nkey ctrl+alt+shift+q\nkey close\n", "s.script");
  ASSERT_TRUE(script) << script.error().to_string();
  ASSERT_EQ(script->steps.size(), 4u);
  EXPECT_EQ(script->steps[0].kind, StepKind::key);
  EXPECT_EQ(script->steps[0].chord, KeyChord::escape);
  EXPECT_EQ(script->steps[1].chord, KeyChord::alt_f4);
  EXPECT_EQ(script->steps[2].chord, KeyChord::ctrl_alt_shift_q);
  EXPECT_EQ(script->steps[3].chord, KeyChord::close);
}

TEST(Script, BadLinesAreErrorsNamingTheLine) {
  const char* bad[] = {
      "wait_frames\n",
      "wait_frames -1\n",
      "wait_frames 12x\n",
      "wait_ms 600001\n",
      "tap\n",
      "tap a/b\n",
      "screenshot ../x\n",
      "expect_screen a b\n",
      "quit now\n",
      "click start\n",
      "type\n",
      "screenshot .hidden\n",
      "key\n",
      "key ctrl+c\n",
      "key escape now\n",
      "wait_screen\n",
      "wait_screen attract\n",
      "wait_screen attract 600001\n",
      "wait_screen attract 10 more\n",
      "hold\n",
      "hold engineer.corner\n",
      "hold engineer.corner 600001\n",
      "hold a/b 10\n",
      "hold engineer.corner 10 more\n",
  };
  for (const char* line : bad) {
    const std::string text = std::string("wait_frames 1\n") + line;
    const auto script = parse_script(text, "s.script");
    ASSERT_FALSE(script) << line;
    EXPECT_EQ(script.error().code, "SCRIPT_SYNTAX") << line;
    EXPECT_NE(script.error().message.find("s.script:2"), std::string::npos) << script.error().message;
  }
}

TEST(Script, MissingFileIsAnError) {
  const auto script = load_script("/nonexistent/x.script");
  ASSERT_FALSE(script);
  EXPECT_EQ(script.error().code, "SCRIPT_UNREADABLE");
}

}  // namespace
}  // namespace kiosk::ui
