// The engineer's screens (engineer_screens.cpp): "not available", the operator's sign-in, the
// check with head office and the device status with the evidence upload. Internal to ui/kiosk,
// except the formatting helpers, which tests use.
#pragma once

#include <cstdint>
#include <string>

#include "ui/kiosk/kiosk_look.hpp"

namespace kiosk::ui {

// Draws the screen when it is one of the engineer's; false for any other screen.
bool draw_engineer_screen(const Layout& l, const KioskState& state, const Catalog& c, const KioskFonts& f,
                          const KioskView& view, TouchTargets& targets, const IntentSink& post);

// How much of the package is sent, 0..100 (0 when the length is not known yet).
int upload_percent(std::uint64_t offset, std::uint64_t length);
// "512 B", "3.5 KiB", "12.0 MiB", "1.2 GiB": units from the catalog (engineer.unit.*).
std::string size_text(const Catalog& c, std::uint64_t bytes);
// "850.0 KiB/s" below one MiB/s, "4.2 MiB/s" from there (engineer.unit.*_per_s).
std::string throughput_text(const Catalog& c, double bytes_per_second);

}  // namespace kiosk::ui
