#include "ui/common/touch_targets.hpp"

#include <gtest/gtest.h>

namespace kiosk::ui {
namespace {

TEST(TouchTargets, AnswersFromTheLastPublishedFrame) {
  TouchTargets targets;
  targets.begin_frame();
  targets.add("back", Rect{10, 20, 200, 120});
  EXPECT_FALSE(targets.find("back"));  // not published yet
  targets.end_frame();
  ASSERT_TRUE(targets.find("back"));
  EXPECT_FLOAT_EQ(targets.find("back")->centre_x(), 110);
  EXPECT_FLOAT_EQ(targets.find("back")->centre_y(), 80);
  targets.begin_frame();
  targets.end_frame();
  EXPECT_FALSE(targets.find("back"));
}

TEST(TouchRules, FlagSmallAndCrowdedTargets) {
  const std::vector<TouchTarget> good = {
      {"a", Rect{0, 0, 120, 120}, false}, {"b", Rect{144, 0, 200, 120}, false}, {"bg", Rect{0, 0, 1920, 900}, true}};
  EXPECT_TRUE(check_touch_rules(good).empty());
  const std::vector<TouchTarget> small = {{"a", Rect{0, 0, 119, 200}, false}};
  EXPECT_EQ(check_touch_rules(small).size(), 1u);
  const std::vector<TouchTarget> crowded = {{"a", Rect{0, 0, 120, 120}, false}, {"b", Rect{0, 130, 120, 120}, false}};
  const auto problems = check_touch_rules(crowded);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("10 px apart"), std::string::npos) << problems[0];
}

TEST(TouchRules, FlagAnIdUsedTwice) {
  const std::vector<TouchTarget> twice = {{"end_session", Rect{0, 0, 200, 120}, false},
                                          {"end_session", Rect{600, 600, 200, 120}, false}};
  const auto problems = check_touch_rules(twice);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("used by two targets"), std::string::npos) << problems[0];
}

}  // namespace
}  // namespace kiosk::ui
