// The gateway's configuration (gateway.toml). Every key, its default and its meaning are documented
// in gateway.example.toml beside this file.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"
#include "sync/gateway/evidence/object_lock_store.hpp"

namespace kiosk::gateway {

struct GatewayConfig {
  std::filesystem::path source;  // the file it was read from; empty for built-in defaults

  // [storage]
  std::filesystem::path data_dir = "/var/lib/csdc-gateway";
  // [device_listener] (mutual TLS, kiosks)
  std::string device_address = "127.0.0.1";
  std::uint16_t device_port = 8443;
  // [console_listener] (server TLS, witness consoles)
  std::string console_address = "127.0.0.1";
  std::uint16_t console_port = 8444;
  // [limits]
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds request_timeout{30};
  std::chrono::seconds shutdown_grace{5};
  std::size_t max_body_bytes = 64 * 1024;
  // [log]
  std::filesystem::path log_file;  // empty: standard error
  // [nciis]
  std::string nciis_backend = "simulator";  // the only back end built in this version
  std::filesystem::path nciis_fixtures;     // empty: the fixtures compiled into the binary
  // [ca] the investor-certificate profile of the embedded local-ca (sync/gateway/ca)
  int ca_validity_days = 730;
  int ca_renewal_window_days = 30;
  bool ca_allow_second_live_certificate = false;  // REQ-32, TBD-CSDC
  int ca_soft_download_valid_hours = 24;          // how long a soft certificate's download code works
  int ca_soft_download_max_attempts = 5;          // wrong codes before the reservation locks
  // [uploads] resumable evidence uploads (sync/gateway/uploads/PROTOCOL.md)
  std::uint64_t uploads_max_bytes = 8ULL * 1024 * 1024 * 1024;  // largest Upload-Length
  std::size_t uploads_max_patch_bytes = 8 * 1024 * 1024;        // largest PATCH body
  std::size_t uploads_max_open_per_device = 16;                 // unfinished uploads per device
  // [evidence] the head-office evidence intake and store (sync/gateway/evidence/README.md)
  std::string evidence_store = "embedded";  // "embedded" | "s3-object-lock"
  int evidence_retention_years = 20;        // REQ-42: years after max(closed_at, received_at)
  // Optional head-office recipient private key (PEM): when set, the intake also checks that each
  // package's wrapped data key for it opens and every stream's tags verify. Empty: not checked.
  std::filesystem::path evidence_recipient_key_file;
  // [evidence.s3] and [evidence.postgres]: read only when evidence_store is "s3-object-lock".
  evidence::ObjectLockStoreConfig evidence_object_lock{};
};

// NCIIS_BACKEND_UNSUPPORTED for anything but "simulator": the online service needs the broker's
// contract, and its place is an NciisAdapter (sync/gateway/nciis.hpp).
Result<void> check_nciis_backend(std::string_view backend);

// Reads and validates a gateway.toml. Errors name the file, line and key.
Result<GatewayConfig> load_gateway_config(const std::filesystem::path& file);
Result<GatewayConfig> parse_gateway_config(std::string_view text, std::string source_name,
                                           std::filesystem::path base_dir);

}  // namespace kiosk::gateway
