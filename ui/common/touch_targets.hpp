// The touch-target registry: every frame, each named button records where it was drawn
// (id -> screen rectangle). Scripts tap a button by id, and tests check the touch-size rules
// on what was really drawn. Plain C++: no SDL, no ImGui.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiosk::ui {

struct Rect {
  float x = 0;
  float y = 0;
  float w = 0;
  float h = 0;
  [[nodiscard]] float centre_x() const { return x + w / 2; }
  [[nodiscard]] float centre_y() const { return y + h / 2; }
};

struct TouchTarget {
  std::string id;
  Rect rect;
  // A background target (the whole attract screen, say) lies under the others on purpose and is
  // exempt from the spacing rule.
  bool background = false;
};

class TouchTargets {
 public:
  void begin_frame() { building_.clear(); }
  void add(std::string id, Rect rect, bool background = false);
  // Publishes the frame's targets; find() and targets() answer from the last published frame.
  void end_frame() { published_.swap(building_); }

  [[nodiscard]] std::optional<Rect> find(std::string_view id) const;
  [[nodiscard]] const std::vector<TouchTarget>& targets() const { return published_; }

 private:
  std::vector<TouchTarget> building_;
  std::vector<TouchTarget> published_;
};

// The kiosk touch-size rule at 1080p: targets at least 120 px high and wide, and at least 24 px
// between any two (REQ accessibility guidance for standing users and gloved fingers).
inline constexpr float kMinTouchSizePx = 120.0f;
inline constexpr float kMinTouchSpacingPx = 24.0f;

// One message per violation ("op.apply is 100x80 px, below 120 px", an id used twice); empty
// when all is well.
std::vector<std::string> check_touch_rules(const std::vector<TouchTarget>& targets, float min_size = kMinTouchSizePx,
                                           float min_spacing = kMinTouchSpacingPx);

}  // namespace kiosk::ui
