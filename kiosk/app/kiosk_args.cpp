#include "kiosk/app/kiosk_args.hpp"

#include <charconv>

namespace kiosk::app {
namespace {

bool parse_int(std::string_view text, int& out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return !text.empty() && ec == std::errc{} && ptr == text.data() + text.size();
}

}  // namespace

Result<WindowSize> parse_window_size(std::string_view text) {
  const std::size_t x = text.find('x');
  WindowSize size;
  if (x == std::string_view::npos || !parse_int(text.substr(0, x), size.width) ||
      !parse_int(text.substr(x + 1), size.height) || size.width < 320 || size.width > 7680 || size.height < 240 ||
      size.height > 4320) {
    return fail("ARGS_INVALID",
                "--size expects WIDTHxHEIGHT in pixels, e.g. 1920x1080 (got \"" + std::string(text) + "\")");
  }
  return size;
}

Result<KioskArgs> parse_kiosk_args(std::span<const std::string_view> args) {
  KioskArgs out;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const auto value = [&]() -> Result<std::string_view> {
      if (i + 1 >= args.size()) return fail("ARGS_INVALID", std::string(arg) + " needs a value; see kiosk --help");
      return args[++i];
    };
    if (arg == "--help" || arg == "-h") {
      out.help = true;
    } else if (arg == "--windowed") {
      out.windowed = true;
    } else if (arg == "--config" || arg == "--script" || arg == "--screenshot-dir" || arg == "--catalog-dir" ||
               arg == "--size") {
      auto v = value();
      if (!v) return std::unexpected(v.error());
      if (arg == "--config")
        out.config = std::filesystem::path(*v);
      else if (arg == "--script")
        out.script = std::filesystem::path(*v);
      else if (arg == "--screenshot-dir")
        out.screenshot_dir = std::filesystem::path(*v);
      else if (arg == "--catalog-dir")
        out.catalog_dir = std::filesystem::path(*v);
      else {
        auto size = parse_window_size(*v);
        if (!size) return std::unexpected(size.error());
        out.size = *size;
      }
    } else {
      return fail("ARGS_INVALID", "unknown argument \"" + std::string(arg) + "\"; see kiosk --help");
    }
  }
  return out;
}

std::string kiosk_help_text() {
  return R"(kiosk - the CSDC digital-certificate self-service kiosk (touch screen, in a branch)

Investors apply for, renew, reissue, freeze, unfreeze or revoke their CSDC digital certificate
here. The program runs fullscreen, shows the attract screen, reports whether head office (the
gateway) answers, and clears an investor's session after inactivity.

usage: kiosk [options]

  --config FILE          kiosk.toml to read (default /etc/csdc-kiosk/kiosk.toml; built-in
                         defaults when that file does not exist). Every key is described in
                         kiosk.example.toml.
  --windowed             a window instead of fullscreen (development)
  --size WxH             window size in pixels, e.g. 1920x1080 (default 1920x1080)
  --catalog-dir DIR      translation catalogs (zh_CN.po, en.po); overrides ui.catalog_dir. When
                         neither exists, ../share/csdc-kiosk/i18n next to the program is used.
  --script FILE          drive the UI from a script (headless tests, screenshots):
                           wait_frames N | wait_ms N | tap TARGET | screenshot NAME |
                           key escape|alt+f4|ctrl+alt+shift+q|close |
                           expect_screen SCREEN | quit      (# starts a comment)
                         exit status 3 when an expect_screen fails, 4 when a step cannot run
  --screenshot-dir DIR   where `screenshot NAME` writes NAME.png (default: current directory)
  --help                 this text

Keyboard policy: a kiosk in a branch cannot be left from the keyboard. Alt+F4, Escape and the
window manager's close request are ignored. Only when ui.maintenance_exit = true in the config
does Ctrl+Alt+Shift+Q (or a close request) end the program. SIGTERM/SIGINT always end it cleanly.

Logs are JSON lines on standard error (or log.file); the first frame logs "first_frame" with the
start-up time and memory.

Example (headless screenshots of the attract screen from a build tree):
  xvfb-run -a -s '-screen 0 1920x1080x24' build/default/bin/kiosk --windowed --size 1920x1080 \
    --catalog-dir build/default/share/csdc-kiosk/i18n --script attract.script --screenshot-dir shots
)";
}

}  // namespace kiosk::app
