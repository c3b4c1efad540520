// The font atlas: one CJK font at three sizes (base, large, title), holding exactly the glyphs of
// the catalogs plus ASCII/Latin-1 and CJK punctuation. Building from the catalogs keeps the atlas
// small and fast (no multi-megabyte "Chinese Full" range) and still guarantees that every string
// the program shows can be drawn: missing_glyphs() is what the unit test checks.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "kiosk/core/error.hpp"

struct ImFont;
struct ImFontAtlas;

namespace kiosk::ui {

struct FontSpec {
  std::filesystem::path file;   // a .ttf/.otf/.ttc file
  int index = 0;                // face inside a collection (.ttc)
  float base_px = 32;           // body text; large is 1.5x and title 2x of it
  bool chinese_common = false;  // add ImGui's ~2,500 common Chinese characters (free text on desktops)
};

struct FontSet {
  ImFont* base = nullptr;
  ImFont* large = nullptr;
  ImFont* title = nullptr;
  int glyphs = 0;  // glyphs in the base font
  int atlas_width = 0;
  int atlas_height = 0;
  double build_ms = 0;
};

inline constexpr std::size_t kMaxFontFileBytes = 64 * 1024 * 1024;

// Loads the font once, adds it at the three sizes with the glyphs of `texts`, and builds the atlas.
// Errors: FONT_UNREADABLE, FONT_BAD_INDEX, FONT_BUILD_FAILED. Needs a current ImGui context.
Result<FontSet> build_font_atlas(ImFontAtlas& atlas, const FontSpec& spec, const std::vector<std::string>& texts);

// "U+8D26 '账' in \"账户\"" for each code point of `texts` that `font` cannot draw; empty when all are there.
std::vector<std::string> missing_glyphs(const ImFont& font, const std::vector<std::string>& texts);

}  // namespace kiosk::ui
