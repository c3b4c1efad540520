// The kiosk's look, shared by its screen files: palette, the 1080p design layout, button styles
// and the two composite helpers every message screen uses. Internal to ui/kiosk.
#pragma once

#include <imgui.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kiosk/core/kiosk_session.hpp"
#include "ui/common/touch_targets.hpp"
#include "ui/common/widgets.hpp"
#include "ui/kiosk/kiosk_screens.hpp"

namespace kiosk::ui {

// A calm bank-branch palette: white ground, near-black text, one accent (CSDC red).
inline constexpr ImU32 kAccent = IM_COL32(200, 16, 46, 255);
inline constexpr ImU32 kAccentPressed = IM_COL32(150, 10, 32, 255);
inline constexpr ImU32 kAccentTint = IM_COL32(252, 232, 235, 255);
inline constexpr ImU32 kText = IM_COL32(26, 26, 26, 255);
inline constexpr ImU32 kTextSecondary = IM_COL32(72, 80, 94, 255);
inline constexpr ImU32 kWhite = IM_COL32(255, 255, 255, 255);
inline constexpr ImU32 kCard = IM_COL32(247, 248, 250, 255);
inline constexpr ImU32 kLine = IM_COL32(208, 213, 221, 255);
inline constexpr ImU32 kStatusBar = IM_COL32(242, 244, 247, 255);
inline constexpr ImU32 kOnline = IM_COL32(30, 142, 62, 255);
inline constexpr ImU32 kChecking = IM_COL32(178, 106, 0, 255);
inline constexpr ImU32 kScrim = IM_COL32(0, 0, 0, 150);

// Layout is designed at 1920x1080 and scaled to the display; text sizes come from the fonts.
struct Layout {
  float width = 1920;
  float height = 1080;
  float s = 1;  // scale from the 1080p design
  float status_top = 0;
  [[nodiscard]] float px(float design) const { return design * s; }
};

inline constexpr float kStatusBarHeight = 160;
inline constexpr float kAccentStripHeight = 10;

inline std::string op_key(Operation op, std::string_view part) {
  return "op." + std::string(to_string(op)) + "." + std::string(part);
}

inline ButtonStyle primary(ImFont* font) {
  return ButtonStyle{.fill = kAccent, .fill_pressed = kAccentPressed, .border = 0, .text = kWhite, .font = font};
}

inline ButtonStyle secondary(ImFont* font) {
  return ButtonStyle{.fill = kWhite, .fill_pressed = kAccentTint, .border = kText, .text = kText, .font = font};
}

// A large centred heading with an optional body and hint below it; returns the y below them.
float draw_message(const Layout& l, const KioskFonts& f, const std::string& title, const std::string& body,
                   const std::string& hint, float top);

// A row of buttons centred at `y`: the last one is the primary action.
void draw_buttons(const Layout& l, const KioskFonts& f, TouchTargets& targets, float y,
                  const std::vector<std::pair<const char*, std::string>>& buttons, const IntentSink& post,
                  const std::function<Event(std::string_view)>& intent_for);

}  // namespace kiosk::ui
