// The witness console's screens, drawn from WitnessState. Intents go out through `post`; the
// screens never call the network. Text fields: staff_id, password. Buttons: signin, signout.
#pragma once

#include <functional>
#include <string>

#include "ui/common/po_catalog.hpp"
#include "ui/common/touch_targets.hpp"
#include "ui/witness/witness_state.hpp"

struct ImFont;

namespace kiosk::witness {

struct WitnessFonts {
  ImFont* base = nullptr;
  ImFont* large = nullptr;
  ImFont* title = nullptr;
};

// What the staff member is typing; owned by the UI thread, cleared of the password on submit.
struct SignInForm {
  std::string staff_id;
  std::string password;
};

inline constexpr unsigned char kWitnessBackground[3] = {246, 247, 249};

void apply_witness_style();
void draw_witness(const WitnessState& state, const ui::Catalog& catalog, const WitnessFonts& fonts, SignInForm& form,
                  ui::TouchTargets& targets, const std::function<void(const Event&)>& post);

}  // namespace kiosk::witness
