// The certificate transaction's screens (transaction_screens.cpp). Internal to ui/kiosk.
#pragma once

#include "ui/kiosk/kiosk_look.hpp"

namespace kiosk::ui {

// Draws the screen when it belongs to the transaction; false for any other screen.
bool draw_transaction_screen(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                             const KioskView& view, TouchTargets& targets, const IntentSink& post);

}  // namespace kiosk::ui
