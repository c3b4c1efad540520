// The kiosk's one-way loop: threads post events, the UI thread feeds them to KioskSession, draws
// the latest state and posts the UI's intents back into the same queue.
#pragma once

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <optional>

#include "kiosk/app/kiosk_config.hpp"
#include "kiosk/core/kiosk_session.hpp"
#include "ui/common/script.hpp"

namespace kiosk::app {

struct KioskRunOptions {
  KioskConfig config;                 // after command-line overrides
  std::filesystem::path catalog_dir;  // resolved: holds zh_CN.po and en.po
  int width = 1920;                   // windowed size
  int height = 1080;
  std::optional<ui::Script> script;
  std::filesystem::path screenshot_dir = ".";
  std::chrono::steady_clock::time_point process_start = std::chrono::steady_clock::now();
  bool gateway_monitor = true;      // tests without a gateway switch the monitor off
  std::filesystem::path rule_pack;  // resolved by resolve_rule_pack()
};

struct KioskRunResult {
  int exit_code = 0;  // 0 normal; 2 start-up failed; 3/4 script failures (see ui/common/script_runner.hpp)
  KioskState final_state;
};

// Set by the SIGTERM/SIGINT handler; the loop turns it into event::Shutdown.
std::atomic<bool>& shutdown_signalled();
void install_signal_handlers();

KioskRunResult run_kiosk(const KioskRunOptions& options);

// VmRSS of this process in KiB (from /proc/self/status), 0 if unknown.
long resident_kib();

// The configured pack, else <exe dir>/../share/csdc-kiosk/default-rulepack.toml, else the build tree's copy.
std::filesystem::path resolve_rule_pack(const std::filesystem::path& configured);

// The first of: `preferred` (when it holds zh_CN.po), `configured`, <exe dir>/../share/csdc-kiosk/i18n.
std::filesystem::path resolve_catalog_dir(const std::optional<std::filesystem::path>& preferred,
                                          const std::filesystem::path& configured);

}  // namespace kiosk::app
