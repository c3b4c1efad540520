// The kiosk's screens: functions of the view state. draw_kiosk() draws KioskState with ImGui and
// turns touches into intents (kiosk::Event) handed to `post`; it never calls a device or the
// network and never changes state itself. Every touchable element registers a stable target id:
//   start (the whole attract screen), engineer.corner (hidden: held, it opens the engineer sign-in),
//   op.apply op.renew op.reissue op.freeze op.unfreeze op.revoke,
//   back, still_here, lang.toggle, end_session, identity.retry, identity.continue,
//   identity.finish; for the transaction: medium.hard medium.soft, consent.agree consent.refuse,
//   terms.accept terms.decline, staff.id staff.password (fields: tap to focus, `type` in scripts),
//   staff.submit, staff.approve staff.reject, revoke.confirm revoke.cancel, reason.<CODE>,
//   key.0..key.9 key.A..key.Z key.shift key.del key.ok (keypads), pin.field.<n>, token.taken_out,
//   tx.finish.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

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

// What the investor or a staff member is typing. Owned by the program and kept out of KioskState:
// secrets go from here straight to the verifier or the token worker, which wipe them.
struct KioskInput {
  std::string staff_id;
  std::string staff_password;
  std::string pin;      // current or initial PIN
  std::string new_pin;  // initial_then_new: the new PIN
  std::string new_pin_again;
  int focus = 0;             // which field the keypad types into (0, 1, 2)
  bool shift = false;        // the staff keyboard's upper case
  bool pins_differ = false;  // the two new PINs did not match: shown until the next key
  std::vector<int> keypad_order{1, 2, 3, 4, 5, 6, 7, 8, 9, 0};  // shuffled per PIN screen when configured
  std::uint64_t prepared_for = 0;                               // the state revision the buffers were reset for
};

struct KioskView {
  std::string device_id;
  // Turns a decoded chip photo into a texture the renderer can draw (owned by the program);
  // empty, or returning null, means the photo is not drawn.
  std::function<void*(const ChipPhoto&)> photo_texture;
  // A QR code of `text` as a texture (null when it cannot be made).
  std::function<void*(const std::string&)> qr_texture;
  KioskInput* input = nullptr;
  // Hand the typed secrets over; the callee wipes them. Return false when nothing was taken.
  std::function<void(std::string& staff_id, std::string& password)> submit_staff;
  std::function<void(std::string& pin, std::string& new_pin)> submit_pin;
};

using IntentSink = std::function<void(const Event&)>;

// The background colour the frame is cleared with (matches the screens).
inline constexpr unsigned char kKioskBackground[3] = {255, 255, 255};

// Colours, spacing and rounding of the kiosk look; call once after the ImGui context exists.
void apply_kiosk_style();

void draw_kiosk(const KioskState& state, const Catalog& catalog, const KioskFonts& fonts, const KioskView& view,
                TouchTargets& targets, const IntentSink& post);

}  // namespace kiosk::ui
