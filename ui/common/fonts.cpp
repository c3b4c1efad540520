#include "ui/common/fonts.hpp"

#include <imgui.h>
#include <imgui_internal.h>  // ImTextCharFromUtf8

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <fstream>

namespace kiosk::ui {
namespace {

// CJK punctuation, full-width forms and the middle dot, which GetGlyphRangesDefault lacks.
constexpr ImWchar kCjkPunctuation[] = {
    0x2010, 0x2027,  // dashes, quotes, ellipsis
    0x3000, 0x303F,  // CJK symbols and punctuation
    0xFF00, 0xFFEF,  // full-width forms
    0,
};

std::uint32_t read_be32(const std::vector<unsigned char>& data, std::size_t at) {
  return (std::uint32_t{data[at]} << 24) | (std::uint32_t{data[at + 1]} << 16) | (std::uint32_t{data[at + 2]} << 8) |
         std::uint32_t{data[at + 3]};
}

// Number of faces in the file: a TrueType collection says so in its header, anything else has one.
// Checked here because an index ImGui cannot find trips an assertion inside the library.
std::uint32_t face_count(const std::vector<unsigned char>& data) {
  if (data.size() >= 12 && data[0] == 't' && data[1] == 't' && data[2] == 'c' && data[3] == 'f') {
    return read_be32(data, 8);
  }
  return 1;
}

}  // namespace

Result<FontSet> build_font_atlas(ImFontAtlas& atlas, const FontSpec& spec, const std::vector<std::string>& texts) {
  const auto start = std::chrono::steady_clock::now();
  std::ifstream in(spec.file, std::ios::binary);
  if (!in) {
    return fail("FONT_UNREADABLE",
                "cannot read the font \"" + spec.file.string() + "\"; install fonts-noto-cjk or fix ui.font_file");
  }
  std::vector<unsigned char> data(kMaxFontFileBytes + 1);
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(data.size()));
  data.resize(static_cast<std::size_t>(in.gcount()));
  if (data.size() > kMaxFontFileBytes || data.size() < 12) {
    return fail("FONT_UNREADABLE", "the font \"" + spec.file.string() + "\" is empty or larger than 64 MiB");
  }
  if (spec.index < 0 || static_cast<std::uint32_t>(spec.index) >= face_count(data)) {
    return fail("FONT_BAD_INDEX", "the font \"" + spec.file.string() + "\" has " + std::to_string(face_count(data)) +
                                      " face(s); ui.font_index " + std::to_string(spec.index) + " does not exist");
  }

  ImFontGlyphRangesBuilder builder;
  builder.AddRanges(atlas.GetGlyphRangesDefault());
  builder.AddRanges(kCjkPunctuation);
  if (spec.chinese_common) builder.AddRanges(atlas.GetGlyphRangesChineseSimplifiedCommon());
  for (const std::string& text : texts) builder.AddText(text.c_str(), text.c_str() + text.size());
  ImVector<ImWchar> ranges;
  builder.BuildRanges(&ranges);

  atlas.Clear();
  // Oversampling 1 with pixel snapping: crisp at these large sizes and a quarter of the atlas.
  ImFontConfig config;
  config.FontNo = spec.index;
  config.OversampleH = 1;
  config.OversampleV = 1;
  config.PixelSnapH = true;
  config.FontDataOwnedByAtlas = false;  // `data` outlives the build below and is freed by us

  FontSet set;
  const auto add = [&](float px) {
    return atlas.AddFontFromMemoryTTF(data.data(), static_cast<int>(data.size()), px, &config, ranges.Data);
  };
  set.base = add(spec.base_px);
  set.large = add(spec.base_px * 1.5f);
  set.title = add(spec.base_px * 2.0f);
  if (set.base == nullptr || set.large == nullptr || set.title == nullptr || !atlas.Build()) {
    atlas.Clear();
    return fail("FONT_BUILD_FAILED", "the font atlas could not be built from \"" + spec.file.string() + "\"");
  }
  // The TTF bytes and ranges are needed only to build; dropping them returns ~20 MB for Noto CJK.
  atlas.ClearInputData();
  set.glyphs = set.base->Glyphs.Size;
  set.atlas_width = atlas.TexWidth;
  set.atlas_height = atlas.TexHeight;
  set.build_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return set;
}

std::vector<std::string> missing_glyphs(const ImFont& font, const std::vector<std::string>& texts) {
  std::vector<std::string> missing;
  for (const std::string& text : texts) {
    const char* p = text.c_str();
    const char* end = p + text.size();
    while (p < end) {
      unsigned int c = 0;
      const int length = ImTextCharFromUtf8(&c, p, end);
      if (length <= 0) break;
      const char* glyph_start = p;
      p += length;
      if (c < 0x20) continue;  // \n and \t are layout, not glyphs
      if (font.FindGlyphNoFallback(static_cast<ImWchar>(c)) == nullptr) {
        char code[16];
        std::snprintf(code, sizeof code, "U+%04X", c);
        missing.push_back(std::string(code) + " '" + std::string(glyph_start, p) + "' in \"" + text + "\"");
      }
    }
  }
  return missing;
}

}  // namespace kiosk::ui
