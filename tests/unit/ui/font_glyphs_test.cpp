// Every string of both catalogs can be drawn: each code point has a glyph in the atlas built the
// way the programs build it (without a window: ImGui context + ImFontAtlas::Build).
#include <imgui.h>

#include <gtest/gtest.h>

#include "ui/common/fonts.hpp"
#include "ui/common/po_catalog.hpp"

namespace kiosk::ui {
namespace {

constexpr const char* kNotoCjk = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";  // fonts-noto-cjk

class FontAtlas : public testing::Test {
 protected:
  void SetUp() override { ImGui::CreateContext(); }
  void TearDown() override { ImGui::DestroyContext(); }
};

TEST_F(FontAtlas, HoldsEveryCatalogGlyph) {
  const auto catalogs = load_catalogs(KIOSK_I18N_DIR);
  ASSERT_TRUE(catalogs) << catalogs.error().to_string();
  const auto texts = catalogs->all_texts();
  const auto fonts =
      build_font_atlas(*ImGui::GetIO().Fonts, FontSpec{.file = kNotoCjk, .index = 2, .base_px = 32}, texts);
  ASSERT_TRUE(fonts) << fonts.error().to_string();
  for (ImFont* font : {fonts->base, fonts->large, fonts->title}) {
    const auto missing = missing_glyphs(*font, texts);
    EXPECT_TRUE(missing.empty()) << missing.size() << " missing, first: " << missing.front();
  }
  // Digits for countdowns and device ids come from the default range.
  EXPECT_TRUE(missing_glyphs(*fonts->base, {"0123456789 SIM-0001"}).empty());
  EXPECT_GT(fonts->glyphs, 200);
  EXPECT_LE(fonts->atlas_width, 4096);
  EXPECT_LE(fonts->atlas_height, 4096);
}

TEST_F(FontAtlas, ReportsGlyphsItDoesNotHave) {
  const auto fonts =
      build_font_atlas(*ImGui::GetIO().Fonts, FontSpec{.file = kNotoCjk, .index = 2, .base_px = 24}, {"证书"});
  ASSERT_TRUE(fonts) << fonts.error().to_string();
  EXPECT_TRUE(missing_glyphs(*fonts->base, {"证书"}).empty());
  const auto missing = missing_glyphs(*fonts->base, {"账"});
  ASSERT_EQ(missing.size(), 1u);
  EXPECT_NE(missing[0].find("U+8D26"), std::string::npos);
}

TEST_F(FontAtlas, RefusesMissingFileAndBadIndex) {
  auto missing = build_font_atlas(*ImGui::GetIO().Fonts, FontSpec{.file = "/nonexistent.ttc"}, {});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().code, "FONT_UNREADABLE");
  auto bad_index = build_font_atlas(*ImGui::GetIO().Fonts, FontSpec{.file = kNotoCjk, .index = 60}, {});
  ASSERT_FALSE(bad_index);
  EXPECT_EQ(bad_index.error().code, "FONT_BAD_INDEX");
}

}  // namespace
}  // namespace kiosk::ui
