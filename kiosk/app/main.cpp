// kiosk: composition root of the branch terminal. Reads the configuration, applies the command
// line, and runs the one-way loop (kiosk_runtime.cpp). See kiosk --help.
#include <chrono>
#include <cstdio>
#include <string_view>
#include <vector>

#include "kiosk/app/kiosk_args.hpp"
#include "kiosk/app/kiosk_config.hpp"
#include "kiosk/app/kiosk_runtime.hpp"
#include "kiosk/core/log.hpp"
#include "ui/common/script.hpp"

namespace {

int start_failed(const kiosk::Error& error) {
  kiosk::log::error("start_failed", {{"code", error.code}, {"message", error.message}});
  std::fprintf(stderr, "kiosk: %s\n", error.to_string().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  const auto process_start = std::chrono::steady_clock::now();
  kiosk::log::set_program("kiosk");
  kiosk::app::install_signal_handlers();

  const std::vector<std::string_view> arg_list(argv + 1, argv + argc);
  auto args = kiosk::app::parse_kiosk_args(arg_list);
  if (!args) {
    std::fprintf(stderr, "kiosk: %s\n", args.error().message.c_str());
    return 2;
  }
  if (args->help) {
    std::fputs(kiosk::app::kiosk_help_text().c_str(), stdout);
    return 0;
  }

  kiosk::KioskConfig config;
  std::error_code ec;
  const std::filesystem::path config_file =
      args->config.value_or(std::filesystem::path(kiosk::app::kDefaultKioskConfig));
  if (args->config || std::filesystem::exists(config_file, ec)) {
    auto loaded = kiosk::load_kiosk_config(config_file);
    if (!loaded) return start_failed(loaded.error());
    config = std::move(*loaded);
  }
  if (!config.log_file.empty()) {
    if (auto opened = kiosk::log::open_file(config.log_file); !opened) return start_failed(opened.error());
  }
  if (args->windowed) config.fullscreen = false;

  kiosk::app::KioskRunOptions options;
  options.process_start = process_start;
  options.catalog_dir = kiosk::app::resolve_catalog_dir(args->catalog_dir, config.catalog_dir);
  options.rule_pack = kiosk::app::resolve_rule_pack(config.rule_pack);
  if (args->size) {
    options.width = args->size->width;
    options.height = args->size->height;
  }
  if (args->script) {
    auto script = kiosk::ui::load_script(*args->script);
    if (!script) return start_failed(script.error());
    options.script = std::move(*script);
  }
  if (args->screenshot_dir) {
    std::filesystem::create_directories(*args->screenshot_dir, ec);
    options.screenshot_dir = *args->screenshot_dir;
  }
  kiosk::log::info("starting", {{"config", config.source.empty() ? "built-in defaults" : config.source.string()},
                                {"device_id", config.device_id},
                                {"catalog_dir", options.catalog_dir.string()},
                                {"fullscreen", config.fullscreen ? "true" : "false"},
                                {"renderer", config.renderer}});
  options.config = std::move(config);

  const kiosk::app::KioskRunResult result = kiosk::app::run_kiosk(options);
  kiosk::log::info("stopped", {{"exit_code", std::to_string(result.exit_code)}});
  return result.exit_code;
}
