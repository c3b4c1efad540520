#include "ui/common/widgets.hpp"

#include <imgui_internal.h>

#include <algorithm>

namespace kiosk::ui {

bool touch_area(TouchTargets& targets, const char* id, ImVec2 pos, ImVec2 size, bool background, bool* held) {
  ImGui::SetCursorScreenPos(pos);
  const bool pressed = ImGui::InvisibleButton(id, size);
  if (held != nullptr) *held = ImGui::IsItemActive();
  // Disabled items (under an overlay) are not registered, so a script cannot tap through it.
  if ((GImGui->CurrentItemFlags & ImGuiItemFlags_Disabled) == 0) {
    targets.add(id, Rect{pos.x, pos.y, size.x, size.y}, background);
  }
  return pressed;
}

ImVec2 text_size(ImFont* font, std::string_view text) {
  return font->CalcTextSizeA(font->FontSize, FLT_MAX, 0.0f, text.data(), text.data() + text.size());
}

bool touch_button(TouchTargets& targets, const char* id, std::string_view label, ImVec2 pos, ImVec2 size,
                  const ButtonStyle& style) {
  bool held = false;
  const bool pressed = touch_area(targets, id, pos, size, false, &held);
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const ImVec2 end(pos.x + size.x, pos.y + size.y);
  draw.AddRectFilled(pos, end, held ? style.fill_pressed : style.fill, style.rounding);
  if (style.border != 0) draw.AddRect(pos, end, style.border, style.rounding, 0, 3.0f);
  ImFont* font = style.font != nullptr ? style.font : ImGui::GetFont();
  const ImVec2 label_size = text_size(font, label);
  const ImVec2 at(pos.x + (size.x - label_size.x) / 2, pos.y + (size.y - label_size.y) / 2);
  draw.AddText(font, font->FontSize, at, style.text, label.data(), label.data() + label.size());
  return pressed;
}

namespace {

bool is_cjk(unsigned int c) {
  return (c >= 0x2E80 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF) || (c >= 0xFF00 && c <= 0xFFEF);
}

// Closing punctuation may not begin a line (Chinese typesetting rule, GB/T 15834).
bool no_line_start(unsigned int c) {
  switch (c) {
    case 0xFF0C:
    case 0x3002:
    case 0x3001:
    case 0xFF1B:
    case 0xFF1A:
    case 0xFF1F:
    case 0xFF01:
    case 0xFF09:
    case 0x201D:
    case 0x2019:
    case 0x300B:
    case 0x300D:
    case 0x2026:
    case ',':
    case '.':
    case ';':
    case ':':
    case '?':
    case '!':
    case ')': return true;
    default: return false;
  }
}

struct Glyph {
  std::size_t begin;
  std::size_t end;
  unsigned int code;
};

}  // namespace

std::vector<std::string> wrap_lines(ImFont* font, std::string_view text, float width) {
  std::vector<std::string> lines;
  std::size_t paragraph_start = 0;
  while (paragraph_start <= text.size()) {
    std::size_t paragraph_end = text.find('\n', paragraph_start);
    if (paragraph_end == std::string_view::npos) paragraph_end = text.size();
    const std::string_view paragraph = text.substr(paragraph_start, paragraph_end - paragraph_start);

    std::vector<Glyph> glyphs;
    for (std::size_t i = 0; i < paragraph.size();) {
      unsigned int c = 0;
      const int length = ImTextCharFromUtf8(&c, paragraph.data() + i, paragraph.data() + paragraph.size());
      if (length <= 0) break;
      glyphs.push_back(Glyph{i, i + static_cast<std::size_t>(length), c});
      i += static_cast<std::size_t>(length);
    }
    std::size_t line_start = 0;  // index into glyphs
    while (line_start < glyphs.size()) {
      // Greedy: the longest prefix that fits, then back off to a legal break.
      std::size_t fit = line_start;
      float w = 0;
      while (fit < glyphs.size()) {
        const Glyph& g = glyphs[fit];
        const float advance = text_size(font, paragraph.substr(g.begin, g.end - g.begin)).x;
        if (w + advance > width && fit > line_start) break;
        w += advance;
        ++fit;
      }
      std::size_t brk = fit;
      if (fit < glyphs.size()) {
        // Find the last break opportunity at or before `fit`.
        std::size_t candidate = fit;
        while (candidate > line_start + 1) {
          const Glyph& before = glyphs[candidate - 1];
          const Glyph& after = glyphs[candidate];
          const bool blank = after.code == ' ' || before.code == ' ';
          const bool cjk = is_cjk(before.code) || is_cjk(after.code);
          if ((blank || cjk) && !no_line_start(after.code)) break;
          --candidate;
        }
        if (candidate > line_start + 1) brk = candidate;
      }
      std::string_view line =
          paragraph.substr(glyphs[line_start].begin, glyphs[brk - 1].end - glyphs[line_start].begin);
      while (!line.empty() && line.back() == ' ') line.remove_suffix(1);
      lines.emplace_back(line);
      line_start = brk;
      while (line_start < glyphs.size() && glyphs[line_start].code == ' ') ++line_start;
    }
    if (glyphs.empty()) lines.emplace_back();
    paragraph_start = paragraph_end + 1;
  }
  return lines;
}

float draw_centred(ImDrawList& draw, ImFont* font, std::string_view text, float centre_x, float top, float width,
                   ImU32 colour, float line_gap) {
  float y = top;
  for (const std::string& line : wrap_lines(font, text, width)) {
    const float w = text_size(font, line).x;
    draw.AddText(font, font->FontSize, ImVec2(centre_x - w / 2, y), colour, line.c_str(), line.c_str() + line.size());
    y += font->FontSize * (1.0f + line_gap);
  }
  return y;
}

float draw_left(ImDrawList& draw, ImFont* font, std::string_view text, float left, float top, float width, ImU32 colour,
                float line_gap) {
  float y = top;
  for (const std::string& line : wrap_lines(font, text, width)) {
    draw.AddText(font, font->FontSize, ImVec2(left, y), colour, line.c_str(), line.c_str() + line.size());
    y += font->FontSize * (1.0f + line_gap);
  }
  return y;
}

}  // namespace kiosk::ui
