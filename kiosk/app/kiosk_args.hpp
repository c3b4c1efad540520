// Command line of the kiosk program. kiosk --help prints kiosk_help_text().
#pragma once

#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"

namespace kiosk::app {

inline constexpr std::string_view kDefaultKioskConfig = "/etc/csdc-kiosk/kiosk.toml";

struct WindowSize {
  int width = 1920;
  int height = 1080;
};

struct KioskArgs {
  std::optional<std::filesystem::path> config;  // --config; unset: kDefaultKioskConfig if present
  bool windowed = false;
  std::optional<WindowSize> size;
  std::optional<std::filesystem::path> script;
  std::optional<std::filesystem::path> screenshot_dir;
  std::optional<std::filesystem::path> catalog_dir;
  bool help = false;
};

// ARGS_INVALID names the bad argument and says what was expected.
Result<KioskArgs> parse_kiosk_args(std::span<const std::string_view> args);
// "1920x1080" -> {1920, 1080}; 320..7680 by 240..4320.
Result<WindowSize> parse_window_size(std::string_view text);
std::string kiosk_help_text();

}  // namespace kiosk::app
