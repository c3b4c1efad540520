// The certificate transaction's screens (transaction_screens.cpp). Internal to ui/kiosk.
#pragma once

#include "ui/kiosk/kiosk_look.hpp"

namespace kiosk::ui {

// Draws the screen when it belongs to the transaction; false for any other screen.
bool draw_transaction_screen(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                             const KioskView& view, TouchTargets& targets, const IntentSink& post);

// The staff id and password fields with the on-screen keyboard, from `top` down (about 500 px at
// 1080p): shared by the transaction's staff sign-in and the engineer sign-in.
void draw_staff_credentials(const Layout& l, const Catalog& c, const KioskFonts& f, TouchTargets& targets, float top,
                            KioskInput& input);

}  // namespace kiosk::ui
