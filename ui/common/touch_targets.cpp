#include "ui/common/touch_targets.hpp"

#include <algorithm>
#include <cstdio>

namespace kiosk::ui {

void TouchTargets::add(std::string id, Rect rect, bool background) {
  building_.push_back(TouchTarget{std::move(id), rect, background});
}

std::optional<Rect> TouchTargets::find(std::string_view id) const {
  // The last entry wins: an overlay drawn later sits on top.
  for (auto it = published_.rbegin(); it != published_.rend(); ++it) {
    if (it->id == id) return it->rect;
  }
  return std::nullopt;
}

namespace {

std::string px(float value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.0f", static_cast<double>(value));
  return buffer;
}

// Distance between the edges of two rectangles; 0 when they touch or overlap.
float gap(const Rect& a, const Rect& b) {
  const float dx = std::max(0.0f, std::max(a.x, b.x) - std::min(a.x + a.w, b.x + b.w));
  const float dy = std::max(0.0f, std::max(a.y, b.y) - std::min(a.y + a.h, b.y + b.h));
  return std::max(dx, dy);
}

}  // namespace

std::vector<std::string> check_touch_rules(const std::vector<TouchTarget>& targets, float min_size, float min_spacing) {
  std::vector<std::string> problems;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const TouchTarget& t = targets[i];
    if (t.rect.w < min_size || t.rect.h < min_size) {
      problems.push_back(t.id + " is " + px(t.rect.w) + "x" + px(t.rect.h) + " px, below " + px(min_size) + " px");
    }
    if (t.background) continue;
    for (std::size_t j = i + 1; j < targets.size(); ++j) {
      const TouchTarget& u = targets[j];
      // Two widgets with one id share ImGui's press state: neither answers reliably.
      if (u.id == t.id) problems.push_back(t.id + " is used by two targets on one screen");
      if (u.background) continue;
      const float g = gap(t.rect, u.rect);
      if (g < min_spacing) {
        problems.push_back(t.id + " and " + u.id + " are " + px(g) + " px apart, below " + px(min_spacing) + " px");
      }
    }
  }
  return problems;
}

}  // namespace kiosk::ui
