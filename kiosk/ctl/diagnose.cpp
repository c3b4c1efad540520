#include "kiosk/ctl/diagnose.hpp"

#include <curl/curl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "hal/idcard/reader.hpp"
#include "sync/client/https_client.hpp"
#include "sync/outbox/outbox.hpp"

namespace kiosk::ctl {
namespace {

namespace fs = std::filesystem;

Check pass(std::string name, std::string detail) { return {std::move(name), CheckStatus::pass, std::move(detail), {}}; }
Check warn(std::string name, std::string detail, std::string fix) {
  return {std::move(name), CheckStatus::warn, std::move(detail), std::move(fix)};
}
Check failed(std::string name, std::string detail, std::string fix) {
  return {std::move(name), CheckStatus::fail, std::move(detail), std::move(fix)};
}

std::string config_name(const KioskConfig& config) {
  return config.source.empty() ? std::string("the kiosk configuration") : config.source.string();
}

std::string gateway_fix(const std::string& code, const KioskConfig& config) {
  if (code == "GATEWAY_UNREACHABLE" || code == "GATEWAY_TIMEOUT") {
    return "check that the gateway is running and that " + config.gateway_url +
           " is reachable from this kiosk (network, firewall, [gateway] url in " + config_name(config) + ")";
  }
  if (code == "TLS_HANDSHAKE_FAILED") {
    return "the gateway refused this device's certificate: re-enrol the device (development: gateway enrol-dev) "
           "and install device.crt / device.key at [gateway] cert_file / key_file";
  }
  if (code == "GATEWAY_CERT_UNTRUSTED") {
    return "make [gateway] ca_file the CA that signed the gateway's certificate, and use the host name in the "
           "gateway's certificate in [gateway] url";
  }
  if (code == "CLIENT_CERT_UNREADABLE") {
    return "install the device certificate and key from provisioning at [gateway] cert_file and key_file, "
           "readable by the kiosk user";
  }
  if (code == "GATEWAY_URL_INVALID") return "fix [gateway] url in " + config_name(config);
  if (code == "GATEWAY_UNHEALTHY") return "the gateway answers but reports a problem: check the gateway's log";
  return "see the detail; check the gateway and the network";
}

struct X509Free {
  void operator()(X509* cert) const { X509_free(cert); }
};

std::string device_label(std::string_view key) {
  if (key == "id_reader") return "ID card reader";
  if (key == "token_module") return "USB token";
  if (key == "camera") return "camera";
  return "printer";
}

std::string human_bytes(std::uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f GiB", static_cast<double>(bytes) / (1024.0 * 1024.0 * 1024.0));
  return text;
}

Check check_config_file(const fs::path& file, Result<KioskConfig>& loaded) {
  loaded = load_kiosk_config(file);
  if (!loaded) {
    const bool missing = loaded.error().code == "CONFIG_UNREADABLE";
    return failed(
        "config", loaded.error().to_string(),
        missing ? "create " + file.string() + " from kiosk.example.toml, or pass --config FILE"
                : "correct the key named above in " + file.string() + " (kiosk.example.toml documents every key)");
  }
  return pass("config", file.string() + " parses and every value is valid");
}

Check check_file_present(std::string name, const fs::path& file, std::string what, std::string fix) {
  std::error_code error;
  if (!fs::is_regular_file(file, error))
    return failed(std::move(name), what + " " + file.string() + " is missing", fix);
  if (::access(file.c_str(), R_OK) != 0) {
    return failed(std::move(name), what + " " + file.string() + " is not readable",
                  "make it readable by the kiosk user");
  }
  return pass(std::move(name), what + " " + file.string() + " is present");
}

Check check_state_dir(const KioskConfig& config) {
  const fs::path& dir = config.state_dir;
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    return failed("state_dir", "state directory " + dir.string() + " does not exist",
                  "create it (mkdir -p " + dir.string() + ") owned by the kiosk user, or fix [kiosk] state_dir");
  }
  // Writability is proven by writing, not by looking at mode bits (read-only mounts, ACLs).
  const fs::path probe = dir / (".kioskctl-probe-" + std::to_string(::getpid()));
  {
    std::ofstream out(probe);
    out << "probe";
    if (!out) {
      return failed("state_dir", "state directory " + dir.string() + " is not writable",
                    "give the kiosk user write access to " + dir.string() + " and check the disk is not read-only");
    }
  }
  fs::remove(probe, error);
  return pass("state_dir", "state directory " + dir.string() + " exists and is writable");
}

Check check_disk_space(const KioskConfig& config, const DiagnoseLimits& limits) {
  std::error_code error;
  const auto space = fs::space(config.state_dir, error);
  if (error) {
    return warn("disk_space", "cannot measure free space at " + config.state_dir.string() + ": " + error.message(),
                "create the state directory first");
  }
  const std::string detail = human_bytes(space.available) + " free at " + config.state_dir.string();
  if (space.available < limits.min_free_bytes) {
    return warn("disk_space", detail + " (less than " + human_bytes(limits.min_free_bytes) + ")",
                "free disk space: make sure evidence has synced to head office, then remove old logs");
  }
  return pass("disk_space", detail);
}

std::string mebibytes(double bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", bytes / (1024.0 * 1024.0));
  return text;
}

std::string age_text(std::chrono::seconds age) {
  const auto s = age.count();
  if (s < 120) return std::to_string(s) + " s";
  if (s < 2 * 3600) return std::to_string(s / 60) + " min";
  if (s < 2 * 86400) return std::to_string(s / 3600) + " h";
  return std::to_string(s / 86400) + " days";
}

// The upload worker's report: what it is sending, and the packages head office rejected.
struct UploadReport {
  bool present = false;
  std::string problem;  // the file exists but cannot be used
  std::chrono::seconds age{0};
  std::string current;  // "pkg-… 12.0 of 30.0 MiB (40%) at 1.2 MiB/s"
  std::string last_error_code;
  std::vector<std::string> rejected;  // "pkg-… (tx-…): REASON"
};

UploadReport read_upload_report(const fs::path& file, std::chrono::system_clock::time_point now) {
  UploadReport report;
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) return report;
  report.present = true;
  const auto written = std::chrono::system_clock::from_time_t(info.st_mtim.tv_sec);
  report.age = std::max(std::chrono::seconds{0}, std::chrono::duration_cast<std::chrono::seconds>(now - written));
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  const auto json = nlohmann::json::parse(text.str(), nullptr, false);
  if (!json.is_object() || !json.contains("format_version") || json["format_version"] != 1) {
    report.problem = file.string() + " is not an upload status this kioskctl understands";
    return report;
  }
  const auto text_of = [](const nlohmann::json& object, const char* key) {
    return object.is_object() && object.contains(key) && object[key].is_string() ? object[key].get<std::string>()
                                                                                 : std::string();
  };
  const auto number_of = [](const nlohmann::json& object, const char* key) {
    return object.is_object() && object.contains(key) && object[key].is_number() ? object[key].get<double>() : 0.0;
  };
  report.last_error_code = text_of(json, "last_error_code");
  if (json.contains("current") && json["current"].is_object()) {
    const auto& current = json["current"];
    const double offset = number_of(current, "offset");
    const double length = number_of(current, "length");
    char percent[16];
    std::snprintf(percent, sizeof percent, "%.0f%%", length > 0 ? 100.0 * offset / length : 0.0);
    report.current = text_of(current, "package") + " (" + text_of(current, "transaction_id") + ") " +
                     mebibytes(offset) + " of " + mebibytes(length) + " (" + percent + ") at " +
                     mebibytes(number_of(current, "bytes_per_second")) + "/s";
  }
  if (json.contains("rejected") && json["rejected"].is_array()) {
    for (const auto& rejected : json["rejected"]) {
      report.rejected.push_back(text_of(rejected, "package_id") + " (" + text_of(rejected, "transaction_id") +
                                "): " + text_of(rejected, "reason"));
    }
  }
  return report;
}

}  // namespace

Check check_outbox(const KioskConfig& config, const DiagnoseLimits& limits, std::chrono::system_clock::time_point now) {
  const fs::path outbox_dir = config.state_dir / "outbox";
  std::error_code error;
  if (!fs::exists(outbox_dir / "outbox.sqlite", error)) {
    return pass("outbox", "no evidence outbox at " + outbox_dir.string() + " (nothing has been sealed on this kiosk)");
  }
  outbox::OutboxOptions options;
  options.state_dir = config.state_dir;
  auto box = outbox::Outbox::open(options);
  auto stats = box ? box->stats(now) : Result<outbox::OutboxStats>(std::unexpected(box.error()));
  if (!stats) {
    return failed("outbox", stats.error().to_string(),
                  "the evidence outbox cannot be read: do not delete it; check the permissions of " +
                      outbox_dir.string() + ", then call head office support with this message");
  }
  using outbox::PackageState;
  std::string detail = "sealed " + std::to_string(stats->count(PackageState::sealed)) + ", uploading " +
                       std::to_string(stats->count(PackageState::uploading)) + ", uploaded " +
                       std::to_string(stats->count(PackageState::uploaded)) + ", receipted " +
                       std::to_string(stats->count(PackageState::receipted)) + ", purgeable " +
                       std::to_string(stats->count(PackageState::purgeable)) + ", purged " +
                       std::to_string(stats->count(PackageState::purged)) + "; " +
                       mebibytes(static_cast<double>(stats->bytes_pending)) + " pending";
  if (stats->oldest_unsent_age) detail += "; oldest unsent " + age_text(*stats->oldest_unsent_age);
  detail += "; legal holds " + std::to_string(stats->legal_holds);
  const bool unsent = stats->count(PackageState::sealed) + stats->count(PackageState::uploading) > 0;

  const UploadReport upload = read_upload_report(outbox_dir / "upload-status.json", now);
  if (!upload.present) {
    detail += "; the upload worker has not reported (upload-status.json missing)";
  } else if (!upload.problem.empty()) {
    detail += "; " + upload.problem;
  } else {
    detail += "; upload status " + age_text(upload.age) + " old";
    detail += upload.current.empty() ? std::string("; not sending now") : "; sending " + upload.current;
    if (!upload.last_error_code.empty()) detail += "; last error " + upload.last_error_code;
  }

  if (!upload.rejected.empty()) {
    std::string list;
    for (const auto& rejected : upload.rejected) list += (list.empty() ? "" : ", ") + rejected;
    return failed("outbox",
                  detail + "; head office REJECTED " + std::to_string(upload.rejected.size()) + " package(s): " + list,
                  "call head office: give them the package ids and reasons above. The packages are kept on this "
                  "kiosk and are never deleted automatically; do not delete them by hand");
  }
  if (stats->oldest_unsent_age && *stats->oldest_unsent_age > limits.max_unsent_age) {
    return failed("outbox",
                  detail + "; evidence older than " + age_text(limits.max_unsent_age) + " has not reached head office",
                  !config.evidence_upload
                      ? "set [evidence] upload = true in " + config_name(config) + " and restart the kiosk"
                      : "check the gateway check above and the kiosk's log (evidence_upload_failed); the kiosk "
                        "resumes by itself once head office is reachable");
  }
  if (unsent && !config.evidence_upload) {
    return warn("outbox", detail + "; [evidence] upload is off",
                "set [evidence] upload = true in " + config_name(config) + " so that evidence reaches head office");
  }
  if (unsent && upload.present && upload.age > limits.status_stale_after) {
    return warn("outbox", detail,
                "the upload worker has not reported for " + age_text(upload.age) +
                    ": check that the kiosk program is running (systemctl status kiosk)");
  }
  return pass("outbox", detail);
}

std::string_view status_name(CheckStatus status) {
  switch (status) {
    case CheckStatus::pass: return "pass";
    case CheckStatus::warn: return "warn";
    case CheckStatus::fail: return "fail";
  }
  return "fail";
}

int DiagnoseReport::count(CheckStatus status) const {
  int n = 0;
  for (const auto& check : checks) n += check.status == status ? 1 : 0;
  return n;
}

Check check_gateway(const KioskConfig& config) {
  const std::chrono::milliseconds timeout = config.gateway_timeout;
  auto client = sync::HttpsClient::create(config.gateway_url, device_tls_identity(config), timeout);
  if (!client) return failed("gateway", client.error().to_string(), gateway_fix(client.error().code, config));
  auto response = client->get("/healthz");
  if (!response) return failed("gateway", response.error().to_string(), gateway_fix(response.error().code, config));
  if (response->status != 200) {
    return failed(
        "gateway",
        "GATEWAY_UNHEALTHY: " + config.gateway_url + "/healthz answered HTTP " + std::to_string(response->status),
        gateway_fix("GATEWAY_UNHEALTHY", config));
  }
  std::string device_id;
  const auto body = nlohmann::json::parse(response->body, nullptr, false);
  if (body.is_object() && body.contains("device_id") && body["device_id"].is_string()) {
    device_id = body["device_id"].get<std::string>();
  }
  std::string detail = config.gateway_url + " answered /healthz over mutual TLS";
  if (!device_id.empty()) detail += " and knows this kiosk as " + device_id;
  if (!device_id.empty() && device_id != config.device_id) {
    return warn("gateway", detail + ", but [kiosk] device_id is " + config.device_id,
                "make [kiosk] device_id match the device certificate, or re-enrol the device with the right id");
  }
  return pass("gateway", detail);
}

Check check_device_certificate(const KioskConfig& config, const DiagnoseLimits& limits) {
  const fs::path& file = config.device_cert_file;
  const std::string fix_install =
      "install the device certificate issued at provisioning at " + file.string() + " ([gateway] cert_file)";
  std::FILE* handle = std::fopen(file.c_str(), "r");
  if (handle == nullptr)
    return failed("device_certificate", "device certificate " + file.string() + " is missing", fix_install);
  std::unique_ptr<X509, X509Free> cert(PEM_read_X509(handle, nullptr, nullptr, nullptr));
  std::fclose(handle);
  if (!cert) {
    return failed("device_certificate", file.string() + " is not a PEM certificate",
                  "replace it with the PEM certificate issued at provisioning");
  }
  int days = 0;
  int seconds = 0;
  // Difference from now (null) to the end of validity; negative means expired.
  if (ASN1_TIME_diff(&days, &seconds, nullptr, X509_get0_notAfter(cert.get())) != 1) {
    return failed("device_certificate", file.string() + " has an unreadable expiry date", "re-enrol the device");
  }
  int days_since_start = 0;
  int seconds_since_start = 0;
  ASN1_TIME_diff(&days_since_start, &seconds_since_start, X509_get0_notBefore(cert.get()), nullptr);
  if (days_since_start < 0 || seconds_since_start < 0) {
    return failed("device_certificate", "the device certificate is not valid yet",
                  "check the kiosk's clock (timedatectl) and NTP");
  }
  if (days < 0 || seconds < 0 || (days == 0 && seconds == 0)) {
    return failed("device_certificate", "the device certificate expired " + std::to_string(-days) + " days ago",
                  "renew the device certificate (re-enrol the device) and install it at " + file.string());
  }
  const std::string detail =
      "device certificate " + file.string() + " is valid; it expires in " + std::to_string(days) + " days";
  if (days < limits.certificate_warn_days) {
    return warn("device_certificate", detail, "renew the device certificate before it expires (re-enrol the device)");
  }
  return pass("device_certificate", detail);
}

Check check_device(std::string_view key, std::string_view value) {
  const std::string name = "devices." + std::string(key);
  const std::string label = device_label(key);
  if (value == "sim") {
    return warn(name, "simulator selected; simulated " + label + " is not available in this build yet",
                "use a build that includes the " + label +
                    " simulator, or configure the real device path in "
                    "[devices] " +
                    std::string(key));
  }
  const fs::path path(value);
  std::error_code error;
  if (!fs::exists(path, error)) {
    return failed(name, label + " " + path.string() + " does not exist",
                  "connect the " + label + " or correct [devices] " + std::string(key));
  }
  if (key == "token_module") {
    if (!fs::is_regular_file(path, error) || ::access(path.c_str(), R_OK) != 0) {
      return failed(name, "token module " + path.string() + " is not a readable file",
                    "install the token vendor's PKCS#11 module and point [devices] token_module at the .so file");
    }
    return pass(name, "PKCS#11 module " + path.string() + " is present and readable");
  }
  return pass(name, label + " " + path.string() + " is present");
}

Check check_id_reader(const KioskConfig& config) {
  const std::string name = "devices.id_reader";
  hal::idcard::ReaderConfig reader_config;
  reader_config.device_path = id_reader_path(config).string();
  reader_config.baud = config.id_reader_baud;
  reader_config.timeouts.status = std::chrono::milliseconds{1000};
  hal::idcard::IdCardReader reader(reader_config);
  auto status = reader.sam_status();
  const std::string where = config.id_reader == "sim" ? "simulated reader at " + reader_config.device_path
                                                      : "ID card reader at " + reader_config.device_path;
  if (status) return pass(name, where + " answers; SAM id " + status->id.to_string());
  const std::string detail = where + ": " + status.error().error.code + ": " + status.error().error.message;
  if (config.id_reader == "sim") {
    return failed(name, detail,
                  "start idcard-sim with --link " + reader_config.device_path +
                      " (tools/demo.sh does), or configure the real reader's path in [devices] id_reader");
  }
  return failed(name, detail,
                "check the reader's USB cable and power, that [devices] id_reader names its serial device and "
                "id_reader_baud its speed; then run kioskctl idcard sam --device " +
                    reader_config.device_path);
}

std::vector<Check> run_checks(const KioskConfig& config, const DiagnoseLimits& limits) {
  std::vector<Check> checks;
  checks.push_back(check_gateway(config));
  checks.push_back(check_device_certificate(config, limits));
  checks.push_back(check_file_present("gateway_ca", config.gateway_ca_file, "gateway CA",
                                      "install the CA certificate issued at provisioning at " +
                                          config.gateway_ca_file.string() + " ([gateway] ca_file)"));
  checks.push_back(check_file_present("font", config.font_file, "CJK font",
                                      "install the fonts-noto-cjk package or fix [ui] font_file"));
  checks.push_back(check_state_dir(config));
  checks.push_back(check_disk_space(config, limits));
  checks.push_back(check_outbox(config, limits, std::chrono::system_clock::now()));
  checks.push_back(check_id_reader(config));
  checks.push_back(check_device("token_module", config.token_module));
  checks.push_back(check_device("camera", config.camera));
  checks.push_back(check_device("printer", config.printer));
  return checks;
}

DiagnoseReport diagnose(const fs::path& config_file, const DiagnoseLimits& limits) {
  DiagnoseReport report;
  report.config_file = config_file;
  Result<KioskConfig> loaded = fail("CONFIG_UNREADABLE", "not read yet");
  report.checks.push_back(check_config_file(config_file, loaded));
  // Without a valid configuration the other checks would test defaults, not this kiosk.
  if (loaded) {
    for (auto& check : run_checks(*loaded, limits)) report.checks.push_back(std::move(check));
  }
  return report;
}

std::string report_json(const DiagnoseReport& report) {
  nlohmann::json checks = nlohmann::json::array();
  for (const auto& check : report.checks) {
    checks.push_back(
        {{"name", check.name}, {"status", status_name(check.status)}, {"detail", check.detail}, {"fix", check.fix}});
  }
  const nlohmann::json out{{"kioskctl_version", KIOSK_CTL_VERSION},
                           {"config", report.config_file.string()},
                           {"checks", checks},
                           {"summary",
                            {{"pass", report.count(CheckStatus::pass)},
                             {"warn", report.count(CheckStatus::warn)},
                             {"fail", report.count(CheckStatus::fail)}}}};
  return out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

std::string report_text(const DiagnoseReport& report) {
  std::ostringstream out;
  out << "kioskctl diagnose: " << report.config_file.string() << "\n";
  for (const auto& check : report.checks) {
    char head[64];
    std::snprintf(head, sizeof head, "[%s] %-22s ", std::string(status_name(check.status)).c_str(), check.name.c_str());
    out << head << check.detail << "\n";
    if (!check.fix.empty()) out << "       fix: " << check.fix << "\n";
  }
  out << report.count(CheckStatus::pass) << " passed, " << report.count(CheckStatus::warn) << " warnings, "
      << report.count(CheckStatus::fail) << " failed\n";
  return out.str();
}

std::string version_text() {
  std::ostringstream out;
  out << "kioskctl " << KIOSK_CTL_VERSION << "\n";
  out << "build type: " << KIOSK_CTL_BUILD_TYPE << "\n";
  out << "compiler:   " << KIOSK_CTL_COMPILER << " " << __VERSION__ << "\n";
  out << "OpenSSL:    " << OpenSSL_version(OPENSSL_VERSION) << "\n";
  out << "libcurl:    " << curl_version_info(CURLVERSION_NOW)->version << "\n";
  out << "SQLite:     " << sqlite3_libversion() << "\n";
  return out.str();
}

}  // namespace kiosk::ctl
