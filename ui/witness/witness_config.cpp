#include "ui/witness/witness_config.hpp"

#include <array>

#include "kiosk/core/config_reader.hpp"

namespace kiosk::witness {

Result<WitnessConfig> load_witness_config(const std::filesystem::path& file) {
  auto reader = ConfigReader::from_file(file);
  if (!reader) return std::unexpected(reader.error());
  WitnessConfig c;
  c.source = file;
  constexpr std::array<std::string_view, 2> languages{"zh_CN", "en"};
  auto url = reader->get_string("gateway.console_url", c.console_url);
  if (!url) return std::unexpected(url.error());
  c.console_url = *url;
  auto ca = reader->get_path("gateway.ca_file", c.ca_file);
  if (!ca) return std::unexpected(ca.error());
  c.ca_file = *ca;
  auto timeout = reader->get_int("gateway.timeout_seconds", c.timeout.count(), 1, 120);
  if (!timeout) return std::unexpected(timeout.error());
  c.timeout = std::chrono::seconds{*timeout};
  auto poll = reader->get_int("gateway.poll_interval_seconds", c.poll_interval.count(), 1, 300);
  if (!poll) return std::unexpected(poll.error());
  c.poll_interval = std::chrono::seconds{*poll};

  auto language = reader->get_choice("ui.language", "zh_CN", languages);
  if (!language) return std::unexpected(language.error());
  c.language = *language_from_string(*language);
  auto width = reader->get_int("ui.width", c.width, 640, 7680);
  if (!width) return std::unexpected(width.error());
  c.width = static_cast<int>(*width);
  auto height = reader->get_int("ui.height", c.height, 480, 4320);
  if (!height) return std::unexpected(height.error());
  c.height = static_cast<int>(*height);
  auto font = reader->get_path("ui.font_file", c.font_file);
  if (!font) return std::unexpected(font.error());
  c.font_file = *font;
  auto index = reader->get_int("ui.font_index", c.font_index, 0, 64);
  if (!index) return std::unexpected(index.error());
  c.font_index = static_cast<int>(*index);
  auto size = reader->get_int("ui.font_size_px", c.font_size_px, 12, 96);
  if (!size) return std::unexpected(size.error());
  c.font_size_px = static_cast<int>(*size);
  auto catalogs = reader->get_path("ui.catalog_dir", c.catalog_dir);
  if (!catalogs) return std::unexpected(catalogs.error());
  c.catalog_dir = *catalogs;
  auto log_file = reader->get_path("log.file", c.log_file);
  if (!log_file) return std::unexpected(log_file.error());
  c.log_file = *log_file;

  if (auto unknown = reader->check_no_unknown_keys(); !unknown) return std::unexpected(unknown.error());
  if (!c.console_url.starts_with("https://")) {
    return fail("CONFIG_BAD_VALUE", reader->source_name() +
                                        ": key 'gateway.console_url' must start with https://; the console "
                                        "signs in over TLS only");
  }
  return c;
}

}  // namespace kiosk::witness
