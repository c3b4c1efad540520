// witness: the remote witness console (head-office desktop). Composition root: reads witness.toml,
// opens the window, runs the network thread (network.cpp, the only network access under ui/) and
// the UI loop. See witness --help.
#include <SDL.h>
#include <imgui.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <string_view>
#include <vector>

#include "kiosk/core/log.hpp"
#include "ui/common/fonts.hpp"
#include "ui/common/script_runner.hpp"
#include "ui/common/ui_window.hpp"
#include "ui/witness/network.hpp"
#include "ui/witness/witness_config.hpp"
#include "ui/witness/witness_screens.hpp"

namespace {

using namespace kiosk;

constexpr std::string_view kDefaultConfig = "/etc/csdc-witness/witness.toml";
constexpr auto kFrameInterval = std::chrono::milliseconds{33};

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true); }

constexpr const char* kHelp = R"(witness - remote witness console of the CSDC digital-certificate kiosks (head office)

Witnesses and operators sign in with their staff id and password; the console then keeps the
session with the gateway alive and shows whether head office is reachable.

usage: witness [options]

  --config FILE          witness.toml (default /etc/csdc-witness/witness.toml; built-in defaults
                         when it does not exist). Every key is described in witness.example.toml.
  --catalog-dir DIR      translation catalogs (zh_CN.po, en.po); overrides ui.catalog_dir
  --size WxH             window size (default from the config, 1280x800)
  --script FILE          drive the UI from a script: wait_frames N | wait_ms N | tap ID |
                         type FIELD TEXT | screenshot NAME | expect_screen SCREEN | quit
                         fields: staff_id, password; buttons: signin, signout;
                         screens: signed_out, signing_in, connected, reconnecting
  --screenshot-dir DIR   where `screenshot NAME` writes NAME.png (default: current directory)
  --help                 this text

Example:
  witness --config witness.toml --catalog-dir build/default/share/csdc-kiosk/i18n
)";

struct Args {
  std::optional<std::filesystem::path> config, catalog_dir, script, screenshot_dir;
  std::optional<std::pair<int, int>> size;
  bool help = false;
};

Result<Args> parse_args(int argc, char** argv) {
  Args out;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      out.help = true;
      continue;
    }
    if (i + 1 >= argc) return fail("ARGS_INVALID", "unknown argument or missing value: " + std::string(arg));
    const std::string_view value = argv[++i];
    if (arg == "--config")
      out.config = value;
    else if (arg == "--catalog-dir")
      out.catalog_dir = value;
    else if (arg == "--script")
      out.script = value;
    else if (arg == "--screenshot-dir")
      out.screenshot_dir = value;
    else if (arg == "--size") {
      int w = 0;
      int h = 0;
      if (std::sscanf(std::string(value).c_str(), "%dx%d", &w, &h) != 2 || w < 640 || h < 480 || w > 7680 || h > 4320) {
        return fail("ARGS_INVALID", "--size expects WIDTHxHEIGHT, e.g. 1280x800");
      }
      out.size = std::pair{w, h};
    } else {
      return fail("ARGS_INVALID", "unknown argument " + std::string(arg) + "; see witness --help");
    }
  }
  return out;
}

int start_failed(const Error& error) {
  log::error("start_failed", {{"code", error.code}, {"message", error.message}});
  std::fprintf(stderr, "witness: %s\n", error.to_string().c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("witness");
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);

  auto args = parse_args(argc, argv);
  if (!args) {
    std::fprintf(stderr, "witness: %s\n", args.error().message.c_str());
    return 2;
  }
  if (args->help) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  witness::WitnessConfig config;
  std::error_code ec;
  const std::filesystem::path config_file = args->config.value_or(std::filesystem::path(kDefaultConfig));
  if (args->config || std::filesystem::exists(config_file, ec)) {
    auto loaded = witness::load_witness_config(config_file);
    if (!loaded) return start_failed(loaded.error());
    config = std::move(*loaded);
  }
  if (!config.log_file.empty()) {
    if (auto opened = log::open_file(config.log_file); !opened) return start_failed(opened.error());
  }
  if (args->size) std::tie(config.width, config.height) = *args->size;
  const auto catalog_dir = args->catalog_dir.value_or(config.catalog_dir);
  auto catalogs = ui::load_catalogs(catalog_dir);
  if (!catalogs) return start_failed(catalogs.error());
  const ui::Catalog& catalog = catalogs->get(config.language);

  std::optional<ui::ScriptRunner> script;
  const auto screenshot_dir = args->screenshot_dir.value_or(".");
  if (args->script) {
    auto loaded = ui::load_script(*args->script);
    if (!loaded) return start_failed(loaded.error());
    std::filesystem::create_directories(screenshot_dir, ec);
    script.emplace(std::move(*loaded), screenshot_dir);
  }

  auto window = ui::UiWindow::create(
      ui::WindowOptions{.title = catalog.text("witness.window_title"), .width = config.width, .height = config.height});
  if (!window) return start_failed(window.error());
  // Names and roles come from head office: the common Chinese characters are included too.
  auto fonts = ui::build_font_atlas(*ImGui::GetIO().Fonts,
                                    ui::FontSpec{.file = config.font_file,
                                                 .index = config.font_index,
                                                 .base_px = static_cast<float>(config.font_size_px),
                                                 .chinese_common = true},
                                    catalogs->all_texts());
  if (!fonts) return start_failed(fonts.error());
  witness::apply_witness_style();
  const witness::WitnessFonts witness_fonts{fonts->base, fonts->large, fonts->title};
  log::info("started", {{"config", config.source.empty() ? "built-in defaults" : config.source.string()},
                        {"console_url", config.console_url},
                        {"glyphs", std::to_string(fonts->glyphs)},
                        {"font_atlas_ms", std::to_string(static_cast<int>(fonts->build_ms))}});

  witness::Inbox inbox;
  const Uint32 wake_event = SDL_RegisterEvents(1);
  inbox.set_waker([wake_event] {
    SDL_Event wake{};
    wake.type = wake_event;
    SDL_PushEvent(&wake);
  });
  witness::WitnessNetwork network(
      sync::HttpsClient::create(config.console_url,
                                sync::TlsIdentity{.ca_file = config.ca_file, .cert_file = {}, .key_file = {}},
                                std::chrono::duration_cast<std::chrono::milliseconds>(config.timeout)),
      std::chrono::duration_cast<std::chrono::milliseconds>(config.poll_interval), inbox);

  witness::WitnessSession session;
  witness::SignInForm form;
  ui::TouchTargets targets;
  const ui::ScriptHost host{
      .current_screen = [&session] { return std::string(witness::to_string(session.state().phase)); },
      .set_text =
          [&form](std::string_view id, std::string_view text) {
            if (id == "staff_id")
              form.staff_id = text;
            else if (id == "password")
              form.password = text;
            else
              return false;
            return true;
          }};
  const auto post = [&inbox](const witness::Event& e) { inbox.push(e); };

  int exit_code = 0;
  int frames_wanted = 2;
  std::uint64_t drawn_revision = session.state().revision;
  auto last_frame = std::chrono::steady_clock::now() - kFrameInterval;
  bool running = true;
  while (running) {
    const bool want_frame = frames_wanted > 0 || (script && script->active());
    int timeout_ms = 250;
    if (want_frame) {
      const auto due = last_frame + kFrameInterval - std::chrono::steady_clock::now();
      timeout_ms = static_cast<int>(
          std::max<std::int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(due).count()));
    }
    SDL_Event e;
    if (SDL_WaitEventTimeout(&e, timeout_ms) != 0) {
      do {
        if (e.type == wake_event) continue;
        if (e.type == SDL_QUIT) running = false;           // a desktop program: closing the window ends it
        if (e.type != SDL_MOUSEMOTION) frames_wanted = 3;  // keys, text and clicks need a few frames
        (*window)->process_event(e);
      } while (SDL_PollEvent(&e) != 0);
    }
    if (g_stop.load()) running = false;
    for (const witness::Event& event : inbox.drain()) {
      for (witness::Command& command : session.handle(event)) network.submit(std::move(command));
    }
    if (session.state().revision != drawn_revision) {
      drawn_revision = session.state().revision;
      frames_wanted = std::max(frames_wanted, 2);
    }
    if (!running) break;
    const auto now = std::chrono::steady_clock::now();
    if (!(frames_wanted > 0 || (script && script->active())) || now - last_frame < kFrameInterval) continue;
    last_frame = now;
    if (frames_wanted > 0) --frames_wanted;
    (*window)->begin_frame();
    targets.begin_frame();
    witness::draw_witness(session.state(), catalog, witness_fonts, form, targets, post);
    targets.end_frame();
    (*window)->render(witness::kWitnessBackground[0], witness::kWitnessBackground[1], witness::kWitnessBackground[2]);
    if (script && script->active()) {
      const auto status = script->after_frame(**window, targets, host);
      if (status == ui::ScriptRunner::Status::quit || status == ui::ScriptRunner::Status::failed) {
        exit_code = script->exit_code();
        running = false;
      }
    }
    (*window)->present();
  }
  log::info("stopped", {{"exit_code", std::to_string(exit_code)}});
  return exit_code;
}
