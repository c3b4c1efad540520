// The kiosk's screens: functions of the view state. draw_kiosk() draws KioskState with ImGui and
// turns touches into intents (kiosk::Event) handed to `post`; it never calls a device or the
// network and never changes state itself. Every touchable element registers a stable target id:
//   start (the whole attract screen), op.apply op.renew op.reissue op.freeze op.unfreeze op.revoke,
//   back, still_here, lang.toggle, end_session, identity.retry, identity.continue,
//   identity.finish.
#pragma once

#include <functional>
#include <string>

#include "kiosk/core/kiosk_session.hpp"
#include "ui/common/po_catalog.hpp"
#include "ui/common/touch_targets.hpp"

struct ImFont;

namespace kiosk::ui {

struct KioskFonts {
  ImFont* base = nullptr;   // body text, 32 px by default
  ImFont* large = nullptr;  // operation names, prompts
  ImFont* title = nullptr;  // headings, 64 px by default
};

struct KioskView {
  std::string device_id;
  // Turns a decoded chip photo into a texture the renderer can draw (owned by the program);
  // empty, or returning null, means the photo is not drawn.
  std::function<void*(const ChipPhoto&)> photo_texture;
};

using IntentSink = std::function<void(const Event&)>;

// The background colour the frame is cleared with (matches the screens).
inline constexpr unsigned char kKioskBackground[3] = {255, 255, 255};

// Colours, spacing and rounding of the kiosk look; call once after the ImGui context exists.
void apply_kiosk_style();

void draw_kiosk(const KioskState& state, const Catalog& catalog, const KioskFonts& fonts, const KioskView& view,
                TouchTargets& targets, const IntentSink& post);

}  // namespace kiosk::ui
