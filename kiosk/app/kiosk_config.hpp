// The kiosk's configuration (kiosk.toml), shared by the kiosk program and kioskctl.
// Every key, its default and its meaning are documented in kiosk.example.toml beside this file;
// tests/unit/app checks that the example and these defaults agree.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>

#include "kiosk/core/domain.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/kiosk_session.hpp"
#include "sync/client/https_client.hpp"

namespace kiosk {

enum class DeviceMode { simulator, production };

struct KioskConfig {
  std::filesystem::path source;  // the file it was read from; empty for built-in defaults

  // [kiosk]
  DeviceMode device_mode = DeviceMode::simulator;
  std::string device_id = "SIM-0001";
  std::filesystem::path state_dir = "/var/lib/kiosk";
  KioskMode kiosk_mode = KioskMode::attended_witness;  // which channel this kiosk serves (REQ-49)
  std::filesystem::path rule_pack;                     // empty: the installed default pack
  std::filesystem::path rule_pack_public_key;          // empty: none (a production kiosk then refuses to start)
  std::filesystem::path staff_registry;                // head office's staff feed; empty: no certificate transactions

  // [gateway]
  std::string gateway_url = "https://127.0.0.1:8443";
  std::filesystem::path gateway_ca_file = "/var/lib/kiosk/device/ca.crt";
  std::filesystem::path device_cert_file = "/var/lib/kiosk/device/device.crt";
  // A PEM file, or an RFC 7512 "pkcs11:" URI of a key on a token (TPM or USB), which then needs:
  std::filesystem::path device_key_file = "/var/lib/kiosk/device/device.key";
  std::filesystem::path device_key_pkcs11_module;  // the token's PKCS#11 module (.so)
  std::filesystem::path device_key_pin_file;       // the file holding the token PIN (root-only)
  std::chrono::seconds gateway_check_interval{10};
  std::chrono::seconds gateway_timeout{5};

  // [ui]
  Language language = Language::zh_CN;
  bool fullscreen = true;
  std::string renderer = "auto";  // "auto" (GPU if any) or "software" (deterministic screenshots)
  std::chrono::seconds idle_timeout{90};
  std::chrono::seconds idle_warning{20};
  bool maintenance_exit = false;
  std::filesystem::path font_file = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc";
  int font_index = 2;  // Noto Sans CJK SC inside the TTC collection
  int font_size_px = 32;
  std::filesystem::path catalog_dir = "/usr/share/csdc-kiosk/i18n";

  // [devices]: "sim" for the simulator, or a device path / module path for real hardware.
  std::string id_reader = "sim";  // "sim": the simulator's link at <state_dir>/run/idcard-sim.tty
  unsigned id_reader_baud = 115200;
  std::filesystem::path id_photo_decoder;  // the vendor's WLT library; empty: not installed
  std::string token_module = "sim";
  std::string camera = "sim";
  std::string printer = "sim";

  // [token]
  std::filesystem::path token_allowlist;            // the accepted token models (REQ-04); empty: none accepted
  bool shuffled_keypad = true;                      // the PIN keypad's digits in a new order each time
  std::string token_key_type = "ec-p256";           // "ec-p256" or "rsa2048"
  std::chrono::seconds token_reinsert_timeout{60};  // a token pulled mid-write may come back this long

  // [evidence]: head office's keys that every evidence package is encrypted to (PEM public keys).
  // Empty recipient: transactions are journaled but not sealed for upload (development only).
  std::filesystem::path evidence_recipient;
  std::filesystem::path evidence_escrow_recipient;  // optional second recipient: an offline escrow key
  // Upload of sealed packages to head office (kiosk/app/evidence_upload_worker).
  bool evidence_upload = true;
  std::uint64_t evidence_upload_chunk_bytes = 4ULL * 1024 * 1024;  // one tus PATCH body
  std::uint64_t evidence_max_upload_bytes_per_second = 0;          // 0: no cap
  std::chrono::days evidence_local_retention{7};                   // kept after the verified receipt; 0: purge at once

  // [identity]
  bool nciis_check = true;  // ask NCIIS through head office after reading a resident ID card

  // [log]
  std::filesystem::path log_file;  // empty: standard error
};

// Reads and validates a kiosk.toml. Errors name the file, line and key.
Result<KioskConfig> load_kiosk_config(const std::filesystem::path& file);

// The device's mutual-TLS identity towards head office ([gateway] ca_file, cert_file, key_file and,
// for a token key, pkcs11_module and pin_file): one place, so every client uses the same key.
sync::TlsIdentity device_tls_identity(const KioskConfig& config);
// Same, from text (tests); relative paths resolve against base_dir.
Result<KioskConfig> parse_kiosk_config(std::string_view text, std::string source_name, std::filesystem::path base_dir);

KioskSettings session_settings(const KioskConfig& config);

// The PKCS#11 module: the configured path, or SoftHSM2's module for "sim".
std::filesystem::path token_module_path(const KioskConfig& config);
// SoftHSM2's configuration file for "sim" (<state_dir>/softhsm/softhsm2.conf); empty otherwise.
std::filesystem::path simulated_token_config(const KioskConfig& config);

// The ID-card reader's device path: the configured one, or the simulator's link for "sim".
std::filesystem::path id_reader_path(const KioskConfig& config);

}  // namespace kiosk
