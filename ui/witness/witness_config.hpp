// witness.toml: configuration of the witness console. Every key, its default and its meaning are
// in witness.example.toml beside this file; tests/unit/witness checks that they agree.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "kiosk/core/error.hpp"
#include "kiosk/core/kiosk_session.hpp"

namespace kiosk::witness {

struct WitnessConfig {
  std::filesystem::path source;  // empty for built-in defaults
  // [gateway]
  std::string console_url = "https://127.0.0.1:8444";
  std::filesystem::path ca_file = "/etc/csdc-witness/ca.crt";
  std::chrono::seconds timeout{5};
  std::chrono::seconds poll_interval{5};
  // [ui]
  Language language = Language::zh_CN;
  int width = 1280;
  int height = 800;
  std::filesystem::path font_file = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
  int font_index = 2;
  int font_size_px = 24;
  std::filesystem::path catalog_dir = "/usr/share/csdc-kiosk/i18n";
  // [log]
  std::filesystem::path log_file;
};

Result<WitnessConfig> load_witness_config(const std::filesystem::path& file);

}  // namespace kiosk::witness
