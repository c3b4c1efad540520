#include "ui/kiosk/kiosk_look.hpp"

#include <algorithm>

namespace kiosk::ui {

// A large centred heading with an optional body and hint below it; returns the y below them.
float draw_message(const Layout& l, const KioskFonts& f, const std::string& title, const std::string& body,
                   const std::string& hint, float top) {
  ImDrawList& draw = *ImGui::GetWindowDrawList();
  const float cx = l.width / 2;
  const float text_width = l.width - l.px(360);
  float y = draw_centred(draw, f.title, title, cx, top, text_width, kText);
  if (!body.empty()) y = draw_centred(draw, f.large, body, cx, y + l.px(40), text_width, kText);
  if (!hint.empty()) y = draw_centred(draw, f.base, hint, cx, y + l.px(24), text_width, kTextSecondary);
  return y;
}

// A row of buttons centred at `y`: the last one is the primary action.
void draw_buttons(const Layout& l, const KioskFonts& f, TouchTargets& targets, float y,
                  const std::vector<std::pair<const char*, std::string>>& buttons, const IntentSink& post,
                  const std::function<Event(std::string_view)>& intent_for) {
  const float gap = l.px(48);
  std::vector<ImVec2> sizes;
  float total = 0;
  for (const auto& [id, label] : buttons) {
    sizes.emplace_back(std::max(l.px(420), text_size(f.large, label).x + l.px(120)), l.px(128));
    total += sizes.back().x;
  }
  total += gap * static_cast<float>(buttons.size() - 1);
  float x = (l.width - total) / 2;
  for (std::size_t i = 0; i < buttons.size(); ++i) {
    const bool last = i + 1 == buttons.size();
    if (touch_button(targets, buttons[i].first, buttons[i].second, ImVec2(x, y), sizes[i],
                     last ? primary(f.large) : secondary(f.large))) {
      post(intent_for(buttons[i].first));
    }
    x += sizes[i].x + gap;
  }
}

}  // namespace kiosk::ui
