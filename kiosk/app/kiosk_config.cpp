#include "kiosk/app/kiosk_config.hpp"

#include <array>

#include "kiosk/core/config_reader.hpp"

namespace kiosk {
namespace {

// Copies a Result's value into `target`, or leaves the function with its error.
#define KIOSK_READ(target, expr)                        \
  do {                                                  \
    auto kiosk_read_value = (expr);                     \
    if (!kiosk_read_value) {                            \
      return std::unexpected(kiosk_read_value.error()); \
    }                                                   \
    target = *std::move(kiosk_read_value);              \
  } while (false)

Result<KioskConfig> read(ConfigReader reader, std::filesystem::path source) {
  KioskConfig c;
  c.source = std::move(source);
  constexpr std::array<std::string_view, 2> modes{"simulator", "production"};
  constexpr std::array<std::string_view, 2> languages{"zh_CN", "en"};
  constexpr std::array<std::string_view, 2> renderers{"auto", "software"};

  std::string mode;
  KIOSK_READ(mode, reader.get_choice("kiosk.device_mode", "simulator", modes));
  c.device_mode = mode == "production" ? DeviceMode::production : DeviceMode::simulator;
  KIOSK_READ(c.device_id, reader.get_string("kiosk.device_id", c.device_id));
  KIOSK_READ(c.state_dir, reader.get_path("kiosk.state_dir", c.state_dir));
  constexpr std::array<std::string_view, 3> kiosk_modes{"attended-counter", "attended-witness", "remote"};
  std::string kiosk_mode;
  KIOSK_READ(kiosk_mode, reader.get_choice("kiosk.mode", std::string(to_string(c.kiosk_mode)), kiosk_modes));
  c.kiosk_mode = parse_enum<KioskMode>(kiosk_mode).value_or(KioskMode::attended_witness);
  KIOSK_READ(c.rule_pack, reader.get_path("kiosk.rule_pack", c.rule_pack));
  KIOSK_READ(c.rule_pack_public_key, reader.get_path("kiosk.rule_pack_public_key", c.rule_pack_public_key));
  KIOSK_READ(c.staff_registry, reader.get_path("kiosk.staff_registry", c.staff_registry));

  KIOSK_READ(c.gateway_url, reader.get_string("gateway.url", c.gateway_url));
  KIOSK_READ(c.gateway_ca_file, reader.get_path("gateway.ca_file", c.gateway_ca_file));
  KIOSK_READ(c.device_cert_file, reader.get_path("gateway.cert_file", c.device_cert_file));
  // A token URI is not a path: it must not be resolved against the config file's folder.
  std::string key_text;
  KIOSK_READ(key_text, reader.get_string("gateway.key_file", ""));
  if (key_text.starts_with("pkcs11:")) {
    c.device_key_file = key_text;
  } else {
    KIOSK_READ(c.device_key_file, reader.get_path("gateway.key_file", c.device_key_file));
  }
  KIOSK_READ(c.device_key_pkcs11_module, reader.get_path("gateway.pkcs11_module", c.device_key_pkcs11_module));
  KIOSK_READ(c.device_key_pin_file, reader.get_path("gateway.pin_file", c.device_key_pin_file));
  std::int64_t seconds = 0;
  KIOSK_READ(seconds, reader.get_int("gateway.check_interval_seconds", c.gateway_check_interval.count(), 1, 3600));
  c.gateway_check_interval = std::chrono::seconds{seconds};
  KIOSK_READ(seconds, reader.get_int("gateway.timeout_seconds", c.gateway_timeout.count(), 1, 120));
  c.gateway_timeout = std::chrono::seconds{seconds};

  std::string language;
  KIOSK_READ(language, reader.get_choice("ui.language", "zh_CN", languages));
  c.language = *language_from_string(language);
  KIOSK_READ(c.fullscreen, reader.get_bool("ui.fullscreen", c.fullscreen));
  KIOSK_READ(c.renderer, reader.get_choice("ui.renderer", c.renderer, renderers));
  KIOSK_READ(seconds, reader.get_int("ui.idle_timeout_seconds", c.idle_timeout.count(), 10, 3600));
  c.idle_timeout = std::chrono::seconds{seconds};
  KIOSK_READ(seconds, reader.get_int("ui.idle_warning_seconds", c.idle_warning.count(), 5, 300));
  c.idle_warning = std::chrono::seconds{seconds};
  KIOSK_READ(c.maintenance_exit, reader.get_bool("ui.maintenance_exit", c.maintenance_exit));
  KIOSK_READ(c.font_file, reader.get_path("ui.font_file", c.font_file));
  KIOSK_READ(seconds, reader.get_int("ui.font_index", c.font_index, 0, 64));
  c.font_index = static_cast<int>(seconds);
  KIOSK_READ(seconds, reader.get_int("ui.font_size_px", c.font_size_px, 12, 96));
  c.font_size_px = static_cast<int>(seconds);
  KIOSK_READ(c.catalog_dir, reader.get_path("ui.catalog_dir", c.catalog_dir));

  KIOSK_READ(c.id_reader, reader.get_string("devices.id_reader", c.id_reader));
  std::int64_t baud = 0;
  KIOSK_READ(baud, reader.get_int("devices.id_reader_baud", c.id_reader_baud, 9600, 115200));
  if (baud != 9600 && baud != 19200 && baud != 38400 && baud != 57600 && baud != 115200) {
    return fail("CONFIG_BAD_VALUE",
                reader.source_name() + ": key 'devices.id_reader_baud' must be 9600, 19200, 38400, 57600 or 115200");
  }
  c.id_reader_baud = static_cast<unsigned>(baud);
  KIOSK_READ(c.id_photo_decoder, reader.get_path("devices.id_photo_decoder", c.id_photo_decoder));
  KIOSK_READ(c.token_module, reader.get_string("devices.token_module", c.token_module));
  KIOSK_READ(c.camera, reader.get_string("devices.camera", c.camera));
  KIOSK_READ(c.printer, reader.get_string("devices.printer", c.printer));

  static constexpr std::string_view key_types[] = {"ec-p256", "rsa2048"};
  KIOSK_READ(c.token_allowlist, reader.get_path("token.allowlist", c.token_allowlist));
  KIOSK_READ(c.shuffled_keypad, reader.get_bool("token.shuffled_keypad", c.shuffled_keypad));
  KIOSK_READ(c.token_key_type, reader.get_choice("token.key_type", c.token_key_type, key_types));
  KIOSK_READ(seconds, reader.get_int("token.reinsert_timeout_seconds", c.token_reinsert_timeout.count(), 5, 600));
  c.token_reinsert_timeout = std::chrono::seconds{seconds};

  KIOSK_READ(c.evidence_recipient, reader.get_path("evidence.recipient", c.evidence_recipient));
  KIOSK_READ(c.evidence_escrow_recipient, reader.get_path("evidence.escrow_recipient", c.evidence_escrow_recipient));
  KIOSK_READ(c.evidence_upload, reader.get_bool("evidence.upload", c.evidence_upload));
  std::int64_t amount = 0;
  // The gateway accepts PATCH bodies up to its max_patch_bytes (8 MiB by default, sync/gateway/uploads/PROTOCOL.md).
  KIOSK_READ(amount,
             reader.get_int("evidence.upload_chunk_bytes", static_cast<std::int64_t>(c.evidence_upload_chunk_bytes),
                            64 * 1024, 8 * 1024 * 1024));
  c.evidence_upload_chunk_bytes = static_cast<std::uint64_t>(amount);
  KIOSK_READ(amount, reader.get_int("evidence.max_upload_bytes_per_second",
                                    static_cast<std::int64_t>(c.evidence_max_upload_bytes_per_second), 0,
                                    std::int64_t{10} * 1024 * 1024 * 1024));
  c.evidence_max_upload_bytes_per_second = static_cast<std::uint64_t>(amount);
  KIOSK_READ(amount, reader.get_int("evidence.local_retention_days", c.evidence_local_retention.count(), 0, 3650));
  c.evidence_local_retention = std::chrono::days{amount};

  KIOSK_READ(c.nciis_check, reader.get_bool("identity.nciis_check", c.nciis_check));

  KIOSK_READ(c.log_file, reader.get_path("log.file", c.log_file));

  if (auto unknown = reader.check_no_unknown_keys(); !unknown) return std::unexpected(unknown.error());
  if (!c.gateway_url.starts_with("https://")) {
    return fail("CONFIG_BAD_VALUE", reader.source_name() + ": key 'gateway.url' must start with https:// (got \"" +
                                        c.gateway_url + "\"); the kiosk talks to head office only over TLS");
  }
  if (c.device_mode == DeviceMode::production &&
      (c.id_reader == "sim" || c.token_module == "sim" || c.camera == "sim" || c.printer == "sim")) {
    return fail("CONFIG_BAD_VALUE", reader.source_name() +
                                        ": device_mode is production but a [devices] entry is \"sim\"; "
                                        "name the real device or switch device_mode to simulator");
  }
  return c;
}

#undef KIOSK_READ

}  // namespace

sync::TlsIdentity device_tls_identity(const KioskConfig& config) {
  return sync::TlsIdentity{.ca_file = config.gateway_ca_file,
                           .cert_file = config.device_cert_file,
                           .key_file = config.device_key_file,
                           .pkcs11_module = config.device_key_pkcs11_module,
                           .pin_file = config.device_key_pin_file};
}

Result<KioskConfig> load_kiosk_config(const std::filesystem::path& file) {
  auto reader = ConfigReader::from_file(file);
  if (!reader) return std::unexpected(reader.error());
  return read(std::move(*reader), file);
}

Result<KioskConfig> parse_kiosk_config(std::string_view text, std::string source_name, std::filesystem::path base_dir) {
  auto reader = ConfigReader::from_string(text, source_name, std::move(base_dir));
  if (!reader) return std::unexpected(reader.error());
  return read(std::move(*reader), source_name);
}

KioskSettings session_settings(const KioskConfig& config) {
  return KioskSettings{.idle_timeout = config.idle_timeout,
                       .idle_warning = config.idle_warning,
                       .default_language = config.language,
                       .maintenance_exit_allowed = config.maintenance_exit};
}

std::filesystem::path token_module_path(const KioskConfig& config) {
  if (config.token_module == "sim") return "/usr/lib/softhsm/libsofthsm2.so";  // Debian's softhsm2 package
  return config.token_module;
}

std::filesystem::path simulated_token_config(const KioskConfig& config) {
  if (config.token_module != "sim") return {};
  return config.state_dir / "softhsm" / "softhsm2.conf";
}

std::filesystem::path id_reader_path(const KioskConfig& config) {
  if (config.id_reader == "sim") return config.state_dir / "run" / "idcard-sim.tty";
  return config.id_reader;
}

}  // namespace kiosk
