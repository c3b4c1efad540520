#include "sync/gateway/gateway_config.hpp"

#include <arpa/inet.h>

#include "kiosk/core/config_reader.hpp"

namespace kiosk::gateway {
namespace {

bool is_ip_address(const std::string& text) {
  unsigned char buffer[16];
  return inet_pton(AF_INET, text.c_str(), buffer) == 1 || inet_pton(AF_INET6, text.c_str(), buffer) == 1;
}

Result<GatewayConfig> read(ConfigReader& reader, std::filesystem::path source) {
  GatewayConfig c;
  c.source = std::move(source);
  auto data_dir = reader.get_path("storage.data_dir", c.data_dir);
  if (!data_dir) return std::unexpected(data_dir.error());
  c.data_dir = *data_dir;

  struct ListenerKeys {
    const char* address_key;
    const char* port_key;
    std::string& address;
    std::uint16_t& port;
  };
  for (ListenerKeys keys :
       {ListenerKeys{"device_listener.address", "device_listener.port", c.device_address, c.device_port},
        ListenerKeys{"console_listener.address", "console_listener.port", c.console_address, c.console_port}}) {
    auto address = reader.get_string(keys.address_key, keys.address);
    if (!address) return std::unexpected(address.error());
    if (!is_ip_address(*address)) {
      return fail("CONFIG_BAD_VALUE", reader.source_name() + ": " + keys.address_key +
                                          " must be an IP address such as "
                                          "127.0.0.1 or 0.0.0.0, got \"" +
                                          *address + "\"");
    }
    keys.address = *address;
    // 0 asks the system for a free port; the real one is written to DATA/run/ports.json.
    auto port = reader.get_int(keys.port_key, keys.port, 0, 65535);
    if (!port) return std::unexpected(port.error());
    keys.port = static_cast<std::uint16_t>(*port);
  }

  auto handshake = reader.get_int("limits.handshake_timeout_seconds", c.handshake_timeout.count(), 1, 120);
  if (!handshake) return std::unexpected(handshake.error());
  c.handshake_timeout = std::chrono::seconds(*handshake);
  auto request = reader.get_int("limits.request_timeout_seconds", c.request_timeout.count(), 1, 600);
  if (!request) return std::unexpected(request.error());
  c.request_timeout = std::chrono::seconds(*request);
  auto grace = reader.get_int("limits.shutdown_grace_seconds", c.shutdown_grace.count(), 1, 60);
  if (!grace) return std::unexpected(grace.error());
  c.shutdown_grace = std::chrono::seconds(*grace);
  auto body = reader.get_int("limits.max_body_bytes", static_cast<std::int64_t>(c.max_body_bytes), 1024, 64 * 1024);
  if (!body) return std::unexpected(body.error());
  c.max_body_bytes = static_cast<std::size_t>(*body);

  auto log_file = reader.get_path("log.file", {});
  if (!log_file) return std::unexpected(log_file.error());
  c.log_file = *log_file;

  auto backend = reader.get_string("nciis.backend", c.nciis_backend);
  if (!backend) return std::unexpected(backend.error());
  if (auto supported = check_nciis_backend(*backend); !supported) {
    return fail(supported.error().code, reader.source_name() + ": key 'nciis.backend': " + supported.error().message);
  }
  c.nciis_backend = *backend;
  auto fixtures = reader.get_path("nciis.fixtures", {});
  if (!fixtures) return std::unexpected(fixtures.error());
  c.nciis_fixtures = *fixtures;

  auto validity = reader.get_int("ca.validity_days", c.ca_validity_days, 1, 3650);
  if (!validity) return std::unexpected(validity.error());
  c.ca_validity_days = static_cast<int>(*validity);
  auto window = reader.get_int("ca.renewal_window_days", c.ca_renewal_window_days, 0, 365);
  if (!window) return std::unexpected(window.error());
  c.ca_renewal_window_days = static_cast<int>(*window);
  auto second = reader.get_bool("ca.allow_second_live_certificate", c.ca_allow_second_live_certificate);
  if (!second) return std::unexpected(second.error());
  c.ca_allow_second_live_certificate = *second;
  auto valid_hours = reader.get_int("ca.soft_download_valid_hours", c.ca_soft_download_valid_hours, 1, 24 * 30);
  if (!valid_hours) return std::unexpected(valid_hours.error());
  c.ca_soft_download_valid_hours = static_cast<int>(*valid_hours);
  auto attempts = reader.get_int("ca.soft_download_max_attempts", c.ca_soft_download_max_attempts, 1, 20);
  if (!attempts) return std::unexpected(attempts.error());
  c.ca_soft_download_max_attempts = static_cast<int>(*attempts);

  auto upload_bytes =
      reader.get_int("uploads.max_bytes", static_cast<std::int64_t>(c.uploads_max_bytes), 1, std::int64_t{1} << 40);
  if (!upload_bytes) return std::unexpected(upload_bytes.error());
  c.uploads_max_bytes = static_cast<std::uint64_t>(*upload_bytes);
  auto patch_bytes = reader.get_int("uploads.max_patch_bytes", static_cast<std::int64_t>(c.uploads_max_patch_bytes),
                                    64 * 1024, 64 * 1024 * 1024);
  if (!patch_bytes) return std::unexpected(patch_bytes.error());
  c.uploads_max_patch_bytes = static_cast<std::size_t>(*patch_bytes);
  auto open_uploads =
      reader.get_int("uploads.max_open_per_device", static_cast<std::int64_t>(c.uploads_max_open_per_device), 1, 1000);
  if (!open_uploads) return std::unexpected(open_uploads.error());
  c.uploads_max_open_per_device = static_cast<std::size_t>(*open_uploads);

  auto evidence_store = reader.get_string("evidence.store", c.evidence_store);
  if (!evidence_store) return std::unexpected(evidence_store.error());
  if (*evidence_store != "embedded" && *evidence_store != "s3-object-lock") {
    return fail("CONFIG_BAD_VALUE", reader.source_name() +
                                        ": evidence.store must be \"embedded\" or \"s3-object-lock\", got \"" +
                                        *evidence_store + "\"");
  }
  c.evidence_store = *evidence_store;
  auto retention = reader.get_int("evidence.retention_years", c.evidence_retention_years, 1, 100);
  if (!retention) return std::unexpected(retention.error());
  c.evidence_retention_years = static_cast<int>(*retention);
  auto recipient_key = reader.get_path("evidence.recipient_key_file", {});
  if (!recipient_key) return std::unexpected(recipient_key.error());
  c.evidence_recipient_key_file = *recipient_key;
  if (c.evidence_store == "s3-object-lock") {
    auto object_lock = evidence::read_object_lock_store_config(reader);
    if (!object_lock) return std::unexpected(object_lock.error());
    c.evidence_object_lock = std::move(*object_lock);
  }

  if (auto unknown = reader.check_no_unknown_keys(); !unknown) return std::unexpected(unknown.error());
  return c;
}

}  // namespace

Result<void> check_nciis_backend(std::string_view backend) {
  if (backend == "simulator") return {};
  return fail("NCIIS_BACKEND_UNSUPPORTED",
              "the online NCIIS back end needs the broker's service contract and is not built in this version; "
              "use backend = \"simulator\"");
}

Result<GatewayConfig> load_gateway_config(const std::filesystem::path& file) {
  auto reader = ConfigReader::from_file(file);
  if (!reader) return std::unexpected(reader.error());
  return read(*reader, file);
}

Result<GatewayConfig> parse_gateway_config(std::string_view text, std::string source_name,
                                           std::filesystem::path base_dir) {
  auto reader = ConfigReader::from_string(text, source_name, std::move(base_dir));
  if (!reader) return std::unexpected(reader.error());
  return read(*reader, {});
}

}  // namespace kiosk::gateway
