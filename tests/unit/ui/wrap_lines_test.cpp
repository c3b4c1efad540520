#include <imgui.h>

#include <gtest/gtest.h>

#include "ui/common/fonts.hpp"
#include "ui/common/widgets.hpp"

namespace kiosk::ui {
namespace {

class WrapLines : public testing::Test {
 protected:
  void SetUp() override {
    ImGui::CreateContext();
    auto fonts = build_font_atlas(
        *ImGui::GetIO().Fonts,
        FontSpec{.file = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", .index = 2, .base_px = 32},
        {"永久停止使用证书，注销后不可恢复"});
    ASSERT_TRUE(fonts) << fonts.error().to_string();
    font_ = fonts->base;
  }
  void TearDown() override { ImGui::DestroyContext(); }
  ImFont* font_ = nullptr;
};

TEST_F(WrapLines, BreaksLatinAtBlanks) {
  const auto lines = wrap_lines(font_, "End a certificate for good; this cannot be undone", 400);
  ASSERT_GE(lines.size(), 2u);
  for (const auto& line : lines) {
    EXPECT_LE(text_size(font_, line).x, 400) << line;
    EXPECT_NE(line.front(), ' ');
    EXPECT_NE(line.back(), ' ');
  }
}

TEST_F(WrapLines, BreaksChineseButNotBeforeClosingPunctuation) {
  // 32 px per character: 8 fit in 260 px; the 9th character is '，', which may not start a line.
  const auto lines = wrap_lines(font_, "永久停止使用证书，注销后不可恢复", 260);
  ASSERT_GE(lines.size(), 2u);
  for (const auto& line : lines) EXPECT_NE(line.rfind("，", 0), 0u) << line;
}

TEST_F(WrapLines, KeepsShortTextAndHonoursNewlines) {
  EXPECT_EQ(wrap_lines(font_, "证书", 1000), std::vector<std::string>{"证书"});
  EXPECT_EQ(wrap_lines(font_, "a\nb", 1000), (std::vector<std::string>{"a", "b"}));
}

}  // namespace
}  // namespace kiosk::ui
