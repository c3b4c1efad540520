// Touch widgets and text layout shared by the kiosk and the witness console. Every touchable
// thing registers itself in the TouchTargets registry under a stable id.
#pragma once

#include <imgui.h>

#include <string>
#include <string_view>
#include <vector>

#include "ui/common/touch_targets.hpp"

namespace kiosk::ui {

struct ButtonStyle {
  ImU32 fill = IM_COL32(200, 16, 46, 255);
  ImU32 fill_pressed = IM_COL32(160, 12, 36, 255);
  ImU32 border = 0;  // 0: none
  ImU32 text = IM_COL32(255, 255, 255, 255);
  ImFont* font = nullptr;  // nullptr: the current font
  float rounding = 12.0f;
};

// An invisible touch area at `pos` (screen coordinates) of `size`, registered as `id`.
// Returns true on the frame the touch is released over it (a completed tap).
bool touch_area(TouchTargets& targets, const char* id, ImVec2 pos, ImVec2 size, bool background = false,
                bool* held = nullptr);

// A filled, rounded button with a centred one-line label.
bool touch_button(TouchTargets& targets, const char* id, std::string_view label, ImVec2 pos, ImVec2 size,
                  const ButtonStyle& style);

// Breaks `text` into lines no wider than `width`: at blanks for Latin text, between any two
// characters for Chinese, never starting a line with closing punctuation (，。、) and honouring \n.
std::vector<std::string> wrap_lines(ImFont* font, std::string_view text, float width);

// Draws `text` (wrapped to `width`) with its lines centred on `centre_x`, starting at `top`.
// Returns the y below the last line.
float draw_centred(ImDrawList& draw, ImFont* font, std::string_view text, float centre_x, float top, float width,
                   ImU32 colour, float line_gap = 0.25f);

// Same, left-aligned at `left`.
float draw_left(ImDrawList& draw, ImFont* font, std::string_view text, float left, float top, float width, ImU32 colour,
                float line_gap = 0.25f);

ImVec2 text_size(ImFont* font, std::string_view text);

}  // namespace kiosk::ui
