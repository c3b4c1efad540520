#include "kiosk/core/json_nesting.hpp"

#include <gtest/gtest.h>

#include <string>

namespace kiosk {
namespace {

TEST(JsonNesting, CountsArraysAndObjectsButNotBracketsInStrings) {
  EXPECT_TRUE(json_nesting_within(R"({"a":{"b":[1,2]}})", 3));
  EXPECT_FALSE(json_nesting_within(R"({"a":{"b":[1,2]}})", 2));
  EXPECT_TRUE(json_nesting_within(R"({"a":"[[[[{{{{"})", 1));
  EXPECT_TRUE(json_nesting_within(R"({"a":"\"[[[["})", 1));  // an escaped quote does not end the string
  EXPECT_FALSE(json_nesting_within(std::string(100, '['), 16));
  EXPECT_TRUE(json_nesting_within("", 0));
}

}  // namespace
}  // namespace kiosk
