// `kioskctl diagnose`: checks a kiosk's configuration, certificates, files, disk and gateway
// connection, and says for each problem what to do about it. A library so tests can run the checks
// against crafted configurations.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "kiosk/app/kiosk_config.hpp"

namespace kiosk::ctl {

enum class CheckStatus { pass, warn, fail };
std::string_view status_name(CheckStatus status);

struct Check {
  std::string name;  // stable, e.g. "gateway", "device_certificate", "devices.camera"
  CheckStatus status = CheckStatus::pass;
  std::string detail;  // what was found
  std::string fix;     // what to do; empty when nothing needs doing
};

struct DiagnoseLimits {
  int certificate_warn_days = 30;
  std::uint64_t min_free_bytes = 1024ULL * 1024 * 1024;
  std::chrono::hours max_unsent_age{24};         // older evidence not yet at head office fails "outbox"
  std::chrono::seconds status_stale_after{120};  // the upload worker rewrites its status at least every 10 s
};

struct DiagnoseReport {
  std::filesystem::path config_file;
  std::vector<Check> checks;

  [[nodiscard]] int count(CheckStatus status) const;
  [[nodiscard]] bool has_failure() const { return count(CheckStatus::fail) > 0; }
};

inline constexpr const char* kDefaultConfigFile = "/etc/csdc-kiosk/kiosk.toml";

// Reads the config file (check "config") and, when it parses, runs every other check on it.
DiagnoseReport diagnose(const std::filesystem::path& config_file, const DiagnoseLimits& limits = {});
// The checks after "config", for an already loaded configuration.
std::vector<Check> run_checks(const KioskConfig& config, const DiagnoseLimits& limits = {});

// One check each; exposed for tests.
Check check_gateway(const KioskConfig& config);
Check check_device_certificate(const KioskConfig& config, const DiagnoseLimits& limits);
Check check_device(std::string_view key, std::string_view value);
// outbox: the evidence outbox's packages per state, bytes and age of what head office does not have
// yet, legal holds, and the upload worker's own report (<state_dir>/outbox/upload-status.json: the
// package being sent, its progress and throughput, the report's age, packages head office
// rejected). Fails on rejected packages and on unsent evidence older than max_unsent_age.
Check check_outbox(const KioskConfig& config, const DiagnoseLimits& limits, std::chrono::system_clock::time_point now);
// devices.id_reader: asks the reader (the real driver; for "sim" the simulator's link) for its SAM
// status and id with short timeouts. Pass names the SAM id; fail gives the driver's code.
Check check_id_reader(const KioskConfig& config);

// {"kioskctl_version","config","checks":[...],"summary":{"pass","warn","fail"}}
std::string report_json(const DiagnoseReport& report);
// Aligned text for a person at a terminal.
std::string report_text(const DiagnoseReport& report);

// Program version, build type, compiler and library versions, one per line.
std::string version_text();

}  // namespace kiosk::ctl
