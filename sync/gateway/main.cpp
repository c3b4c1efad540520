// `gateway`: the head-office server that kiosks and witness consoles talk to, plus the development
// commands that prepare its data directory (dev PKI, device enrolment, staff accounts).
#include <termios.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/log.hpp"
#include "kiosk/core/time_text.hpp"
#include "sync/gateway/api.hpp"
#include "sync/gateway/ca/ca_routes.hpp"
#include "sync/gateway/ca/local_ca.hpp"
#include "sync/gateway/evidence/embedded_store.hpp"
#include "sync/gateway/evidence/evidence_intake.hpp"
#include "sync/gateway/evidence/export_routes.hpp"
#include "sync/gateway/evidence/object_lock_store.hpp"
#include "sync/gateway/evidence/receipt_routes.hpp"
#include "sync/gateway/evidence/retention.hpp"
#include "sync/gateway/gateway_config.hpp"
#include "sync/gateway/nciis.hpp"
#include "sync/gateway/pki.hpp"
#include "sync/gateway/server.hpp"
#include "sync/gateway/store.hpp"
#include "sync/gateway/uploads/upload_routes.hpp"
#include "sync/gateway/uploads/upload_store.hpp"

namespace {

using namespace kiosk;
using namespace kiosk::gateway;

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

constexpr const char* kMainHelp = R"(gateway - head-office server of the CSDC certificate-service kiosks

Every kiosk (device certificate, mutual TLS) and every witness console (staff sign-in) talks only
to this program. It keeps its state in one data directory: a development PKI in DATA/pki/, the
staff, device and NCIIS-query index in DATA/index.sqlite, the key that hashes ID numbers in that
index in DATA/nciis-hmac.key, and the listening ports in DATA/run/ports.json.

Usage:
  gateway [serve] [--config FILE] [--data-dir DIR]
  gateway enrol-dev --data-dir DIR --device-id ID --out DIR
  gateway add-staff --data-dir DIR --staff-id ID --name NAME --role ROLE   (password on stdin)
  gateway evidence-purge --data-dir DIR [--now TIME]
  gateway legal-hold --data-dir DIR --device ID --package ID (--on|--off)
  gateway help [COMMAND] | gateway COMMAND --help | gateway --version

Commands:
  serve       run the server (the default command)
  enrol-dev   issue a development device certificate for a kiosk
  add-staff   create a witness / operator / reviewer account for the witness console
  evidence-purge  delete stored evidence past its retention date and not on legal hold (REQ-47)
  legal-hold      set or lift a legal hold on one stored evidence package (REQ-47)

Example (one machine, development):
  gateway enrol-dev --data-dir ./gw-data --device-id SIM-0001 --out ./kiosk-device
  printf 'secret\n' | gateway add-staff --data-dir ./gw-data --staff-id W0001 --name 'Wang Li' --role witness
  gateway serve --data-dir ./gw-data

Exit status: 0 success, 1 failure (the message says why), 2 wrong usage.
)";

constexpr const char* kServeHelp = R"(gateway serve - run the head-office server

Usage: gateway [serve] [--config FILE] [--data-dir DIR]

Options:
  --config FILE    gateway.toml to read (see gateway.example.toml). Without it every setting takes
                   its default: data dir /var/lib/csdc-gateway, device listener 127.0.0.1:8443,
                   console listener 127.0.0.1:8444, log to standard error.
  --data-dir DIR   data directory; overrides [storage] data_dir from the config file.

On first start the data directory gets a development PKI (DATA/pki/: "CSDC Kiosk Dev CA" and a
server certificate for localhost / 127.0.0.1), the index DATA/index.sqlite and the NCIIS hash key
DATA/nciis-hmac.key. NCIIS checks are answered by the built-in simulator ([nciis] in the config;
without a fixtures file it knows the people compiled into the binary, e.g. 测试一 /
11010519491231002X). The embedded CA (local-ca) makes its root and issuing CA in DATA/ca/.

Listeners:
  device   mutual TLS; only kiosks with a certificate from the dev CA get past the handshake.
           GET /healthz, POST /v1/device/nciis-check, POST /v1/device/ca/<operation>,
           POST /v1/device/ca/lookup, GET /v1/device/ca/status/<serial>, GET /v1/ca/crl,
           the evidence uploads /v1/device/uploads (tus 1.0), GET /v1/device/receipts/<package_id>
  console  server TLS; GET /healthz, POST /v1/console/sign-in, GET /v1/console/session,
           GET /v1/ca/crl, POST /v1/softcert/download (the investor's software),
           POST /v1/console/evidence/search, GET /v1/console/evidence/<device>/<package>/archive,
           GET /v1/console/evidence/<device>/certificate (inspector role only, REQ-44)

A port of 0 picks a free port; the real ports are written to DATA/run/ports.json as
{"device":N,"console":N} and logged in the "listening" event. SIGTERM or SIGINT stops the server
cleanly (in-flight requests finish, up to [limits] shutdown_grace_seconds) and it exits with 0.

Example:
  gateway serve --config /etc/csdc-gateway/gateway.toml
)";

constexpr const char* kEnrolHelp = R"(gateway enrol-dev - issue a development device certificate

Usage: gateway enrol-dev --data-dir DIR --device-id ID --out DIR

Makes a new P-256 key and a certificate with CN=ID (clientAuth) signed by the development CA in
DIR/pki/, records the device in DIR/index.sqlite and writes, into the --out directory:
  device.key   the device's private key (mode 0600)
  device.crt   the device certificate
  ca.crt       the CA that signed the gateway's certificate (for the kiosk's [gateway] ca_file)
The data directory's development PKI is created if it does not exist yet. Refused when the data
directory holds a PKI that is not the development CA: production devices are enrolled by the
broker's CA, never by this command.

Options:
  --data-dir DIR    the gateway's data directory (required)
  --device-id ID    1-64 letters, digits, '.', '_' or '-', e.g. SIM-0001 (required)
  --out DIR         where to write the three files; created if needed (required)

Example:
  gateway enrol-dev --data-dir ./gw-data --device-id SIM-0001 --out ./kiosk-device
)";

constexpr const char* kAddStaffHelp = R"(gateway add-staff - create a staff account for the witness console

Usage: gateway add-staff --data-dir DIR --staff-id ID --name NAME --role ROLE

The password is read from standard input (one line; it is not echoed when typed on a terminal
and never logged). It is stored as PBKDF2-HMAC-SHA256 with a per-user salt. An empty password is
refused.

Options:
  --data-dir DIR    the gateway's data directory (required)
  --staff-id ID     1-32 letters, digits, '_' or '-', e.g. W0001 (required)
  --name NAME       the name shown in the console (required)
  --role ROLE       witness, operator, reviewer or inspector (required)

Example:
  printf 'secret\n' | gateway add-staff --data-dir ./gw-data --staff-id W0001 --name 'Wang Li' --role witness
)";

constexpr const char* kPurgeHelp = R"(gateway evidence-purge - delete evidence past its retention date (REQ-47)

Usage: gateway evidence-purge --data-dir DIR [--now TIME]

Deletes every package of the embedded evidence store (DIR/evidence, DIR/index.sqlite) whose
retain_until is at or before TIME and that is not under legal hold: first its index row, then its
archive. Each deletion is logged ("evidence_deleted"); a package the store refuses is logged
("evidence_delete_refused") and kept. Run it from a scheduler (cron, systemd timer).

Options:
  --data-dir DIR   the gateway's data directory (required)
  --now TIME       UTC "YYYY-MM-DDTHH:MM:SS.mmmZ" to judge retention by; default: the clock now

Prints how many packages were deleted. Exit status 1 when any deletion failed.
)";

constexpr const char* kLegalHoldHelp = R"(gateway legal-hold - set or lift a legal hold on stored evidence (REQ-47)

Usage: gateway legal-hold --data-dir DIR --device ID --package ID (--on|--off)

A package under legal hold is never deleted, whatever its retention date. The change is logged
("evidence_legal_hold").

Options:
  --data-dir DIR   the gateway's data directory (required)
  --device ID      the kiosk's device id (required)
  --package ID     the package id of the manifest (required)
  --on | --off     set or lift the hold (exactly one)
)";

int usage_error(const std::string& message, const char* command) {
  std::fprintf(stderr, "gateway: %s\nRun 'gateway %s--help' for usage.\n", message.c_str(), command);
  return kExitUsage;
}

int runtime_error(const Error& error) {
  std::fprintf(stderr, "gateway: %s\n", error.to_string().c_str());
  return kExitFailure;
}

// --name VALUE pairs; any other word is a usage error.
struct Options {
  std::map<std::string, std::string> values;
  bool help = false;
};

std::optional<Options> parse_options(const std::vector<std::string>& args, std::vector<std::string_view> allowed,
                                     std::string& problem) {
  Options options;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      continue;
    }
    bool known = false;
    for (const auto name : allowed) known = known || arg == name;
    if (!known) {
      problem = "unknown option '" + arg + "'";
      return std::nullopt;
    }
    if (i + 1 >= args.size()) {
      problem = "option " + arg + " needs a value";
      return std::nullopt;
    }
    options.values[arg] = args[++i];
  }
  return options;
}

Result<std::string> read_password_from_stdin() {
  const bool terminal = ::isatty(STDIN_FILENO) == 1;
  termios saved{};
  if (terminal && ::tcgetattr(STDIN_FILENO, &saved) == 0) {
    // Typed passwords are not echoed; the terminal is restored right after the line is read.
    termios quiet = saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
    std::fprintf(stderr, "Password: ");
  }
  std::string password;
  const bool got_line = static_cast<bool>(std::getline(std::cin, password));
  if (terminal) {
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    std::fprintf(stderr, "\n");
  }
  if (!got_line && password.empty()) {
    return fail("STAFF_INVALID", "no password on standard input; pipe it in, e.g. printf 'secret\\n' | gateway ...");
  }
  if (!password.empty() && password.back() == '\r') password.pop_back();
  if (password.empty()) return fail("STAFF_INVALID", "the password is empty; an empty password is refused");
  return password;
}

// The evidence store [evidence] store names. The scale-out store is wired by its own module.
Result<std::unique_ptr<evidence::EvidenceStore>> open_evidence_store(const GatewayConfig& config) {
  if (config.evidence_store == "s3-object-lock") {
    auto store = evidence::ObjectLockEvidenceStore::open(config.evidence_object_lock);
    if (!store) return std::unexpected(store.error());
    return std::unique_ptr<evidence::EvidenceStore>(std::move(*store));
  }
  auto store = evidence::EmbeddedEvidenceStore::open(config.data_dir);
  if (!store) return std::unexpected(store.error());
  return std::unique_ptr<evidence::EvidenceStore>(std::move(*store));
}

int run_serve(const std::vector<std::string>& args) {
  std::string problem;
  auto options = parse_options(args, {"--config", "--data-dir"}, problem);
  if (!options) return usage_error(problem, "serve ");
  if (options->help) {
    std::fputs(kServeHelp, stdout);
    return kExitOk;
  }
  GatewayConfig config;
  if (auto file = options->values.find("--config"); file != options->values.end()) {
    auto loaded = load_gateway_config(file->second);
    if (!loaded) return runtime_error(loaded.error());
    config = std::move(*loaded);
  }
  if (auto dir = options->values.find("--data-dir"); dir != options->values.end()) config.data_dir = dir->second;
  if (!config.log_file.empty()) {
    if (auto opened = log::open_file(config.log_file); !opened) return runtime_error(opened.error());
  }

  bool created = false;
  auto pki = ensure_dev_pki(config.data_dir, created);
  if (!pki) {
    log::error("start_failed", {{"code", pki.error().code}, {"message", pki.error().message}});
    return runtime_error(pki.error());
  }
  if (created) log::info("dev_pki_created", {{"dir", pki->dir.string()}});
  auto store = Store::open(config.data_dir);
  if (!store) {
    log::error("start_failed", {{"code", store.error().code}, {"message", store.error().message}});
    return runtime_error(store.error());
  }

  auto nciis_adapter = make_nciis_adapter(config);
  if (!nciis_adapter) {
    log::error("start_failed", {{"code", nciis_adapter.error().code}, {"message", nciis_adapter.error().message}});
    return runtime_error(nciis_adapter.error());
  }
  auto nciis_key = load_or_create_nciis_hmac_key(config.data_dir);
  if (!nciis_key) {
    log::error("start_failed", {{"code", nciis_key.error().code}, {"message", nciis_key.error().message}});
    return runtime_error(nciis_key.error());
  }
  const std::string export_hmac_key = *nciis_key;  // the inspection export hashes ID numbers the same way
  NciisService nciis(std::move(*nciis_adapter), *store, std::move(*nciis_key));
  log::info("nciis_ready", {{"backend", config.nciis_backend},
                            {"fixtures", config.nciis_fixtures.empty() ? "embedded" : config.nciis_fixtures.string()}});

  // The embedded CA (local-ca): DATA/ca on first start, states in index.sqlite.
  ca::CaProfile ca_profile;
  ca_profile.validity_days = config.ca_validity_days;
  ca_profile.renewal_window_days = config.ca_renewal_window_days;
  ca_profile.allow_second_live_certificate = config.ca_allow_second_live_certificate;
  ca_profile.soft_download_valid_hours = config.ca_soft_download_valid_hours;
  ca_profile.soft_download_max_attempts = config.ca_soft_download_max_attempts;
  auto local_ca = ca::LocalCa::open(ca::LocalCaOptions{config.data_dir, std::move(ca_profile), nullptr, {}});
  if (!local_ca) {
    log::error("start_failed", {{"code", local_ca.error().code}, {"message", local_ca.error().message}});
    return runtime_error(local_ca.error());
  }
  ca::CaRoutes ca_routes(
      **local_ca, [&local_ca] { return (*local_ca)->crl_pem(); }, config.max_body_bytes);
  log::info("ca_ready", {{"backend", "local-ca"}, {"dir", (*local_ca)->files().dir.string()}});

  // Evidence intake: every complete upload is verified, stored and receipted (sync/gateway/evidence).
  auto evidence_store = open_evidence_store(config);
  if (!evidence_store) {
    log::error("start_failed", {{"code", evidence_store.error().code}, {"message", evidence_store.error().message}});
    return runtime_error(evidence_store.error());
  }
  auto receipt_signer = ensure_receipt_signer(config.data_dir);
  if (!receipt_signer) {
    log::error("start_failed", {{"code", receipt_signer.error().code}, {"message", receipt_signer.error().message}});
    return runtime_error(receipt_signer.error());
  }
  KeyPtr recipient_key;
  if (!config.evidence_recipient_key_file.empty()) {
    auto loaded = load_private_key(config.evidence_recipient_key_file);
    if (!loaded) {
      log::error("start_failed", {{"code", loaded.error().code}, {"message", loaded.error().message}});
      return runtime_error(loaded.error());
    }
    recipient_key = std::move(*loaded);
  }
  SystemClock clock;
  auto intake = evidence::EvidenceIntake::open(
      config.data_dir, **evidence_store, receipt_signer->key.get(), receipt_signer->certificate.get(), clock,
      evidence::IntakeOptions{config.evidence_retention_years, recipient_key.get()});
  if (!intake) {
    log::error("start_failed", {{"code", intake.error().code}, {"message", intake.error().message}});
    return runtime_error(intake.error());
  }
  evidence::ReceiptRoutes receipt_routes(**intake);
  log::info("evidence_ready", {{"store", std::string((*evidence_store)->kind())},
                               {"retention_years", std::to_string(config.evidence_retention_years)},
                               {"recipient_check", recipient_key ? "on" : "off"}});

  // Resumable evidence uploads: DATA/uploads, states in index.sqlite; recovery runs on open (and
  // hands complete uploads not yet taken to the intake).
  auto upload_store =
      uploads::UploadStore::open(config.data_dir,
                                 uploads::UploadLimits{config.uploads_max_bytes, config.uploads_max_patch_bytes,
                                                       config.uploads_max_open_per_device},
                                 **intake);
  if (!upload_store) {
    log::error("start_failed", {{"code", upload_store.error().code}, {"message", upload_store.error().message}});
    return runtime_error(upload_store.error());
  }
  uploads::UploadRoutes upload_routes(**upload_store);

  ApiHandler handler([&store](std::string_view staff_id) { return store->find_staff(staff_id); }, KIOSK_GATEWAY_VERSION,
                     config.max_body_bytes, kPasswordIterations,
                     [&nciis](const NciisQuery& query, std::string_view device_id, std::string_view transaction_id) {
                       return nciis.check_and_record(query, device_id, transaction_id);
                     },
                     [&ca_routes, &upload_routes, &receipt_routes](const ApiRequest& request) {
                       if (auto answer = ca_routes.handle(request)) return answer;
                       if (auto answer = upload_routes.handle(request)) return answer;
                       return receipt_routes.handle(request);
                     });
  // Inspection export (REQ-44): console routes for the inspector role (sync/gateway/evidence/export_routes.hpp).
  evidence::ExportRoutes export_routes(
      **evidence_store, *store,
      [&handler](std::string_view authorization) { return handler.console_session(authorization); },
      [&store](std::string_view device_id, std::string_view package_id) {
        return store->uploaded_device_certificate(device_id, package_id);
      },
      evidence::ExportRoutesOptions{config.data_dir / "tmp" / "export", export_hmac_key, config.max_body_bytes});
  handler.add_routes([&export_routes](const ApiRequest& request) { return export_routes.handle(request); });
  ServerOptions server_options{config, *pki, config.data_dir / "run", {upload_routes.patch_body_limit()}};
  auto served = serve(server_options, handler);
  if (!served) {
    log::error("start_failed", {{"code", served.error().code}, {"message", served.error().message}});
    return runtime_error(served.error());
  }
  log::info("stopped", {});
  return kExitOk;
}

int run_enrol(const std::vector<std::string>& args) {
  std::string problem;
  auto options = parse_options(args, {"--data-dir", "--device-id", "--out"}, problem);
  if (!options) return usage_error(problem, "enrol-dev ");
  if (options->help) {
    std::fputs(kEnrolHelp, stdout);
    return kExitOk;
  }
  for (const char* required : {"--data-dir", "--device-id", "--out"}) {
    if (!options->values.contains(required)) return usage_error(std::string(required) + " is required", "enrol-dev ");
  }
  const std::filesystem::path data_dir = options->values["--data-dir"];
  bool created = false;
  auto pki = ensure_dev_pki(data_dir, created);
  if (!pki) return runtime_error(pki.error());
  if (created) std::fprintf(stderr, "created development PKI in %s\n", pki->dir.c_str());
  auto store = Store::open(data_dir);
  if (!store) return runtime_error(store.error());
  const std::filesystem::path out_dir = options->values["--out"];
  auto device = enrol_dev_device(*pki, options->values["--device-id"], out_dir);
  if (!device) return runtime_error(device.error());
  if (auto recorded = store->record_device(*device); !recorded) return runtime_error(recorded.error());
  std::printf("enrolled device %s (serial %s)\n  key:         %s\n  certificate: %s\n  gateway CA:  %s\n",
              device->device_id.c_str(), device->serial_hex.c_str(), (out_dir / "device.key").c_str(),
              (out_dir / "device.crt").c_str(), (out_dir / "ca.crt").c_str());
  return kExitOk;
}

int run_add_staff(const std::vector<std::string>& args) {
  std::string problem;
  auto options = parse_options(args, {"--data-dir", "--staff-id", "--name", "--role"}, problem);
  if (!options) return usage_error(problem, "add-staff ");
  if (options->help) {
    std::fputs(kAddStaffHelp, stdout);
    return kExitOk;
  }
  for (const char* required : {"--data-dir", "--staff-id", "--name", "--role"}) {
    if (!options->values.contains(required)) return usage_error(std::string(required) + " is required", "add-staff ");
  }
  const std::string& staff_id = options->values["--staff-id"];
  const std::string& role = options->values["--role"];
  if (!is_valid_staff_id(staff_id))
    return usage_error("--staff-id must be 1-32 letters, digits, '_' or '-'", "add-staff ");
  if (!is_valid_role(role)) return usage_error("--role must be witness, operator, reviewer or inspector", "add-staff ");
  auto password = read_password_from_stdin();
  if (!password) return runtime_error(password.error());
  auto store = Store::open(options->values["--data-dir"]);
  if (!store) return runtime_error(store.error());
  if (auto added = store->add_staff(staff_id, options->values["--name"], role, *password); !added) {
    return runtime_error(added.error());
  }
  std::printf("added staff %s (%s)\n", staff_id.c_str(), role.c_str());
  return kExitOk;
}

int run_evidence_purge(const std::vector<std::string>& args) {
  std::string problem;
  auto options = parse_options(args, {"--data-dir", "--now"}, problem);
  if (!options) return usage_error(problem, "evidence-purge ");
  if (options->help) {
    std::fputs(kPurgeHelp, stdout);
    return kExitOk;
  }
  if (!options->values.contains("--data-dir")) return usage_error("--data-dir is required", "evidence-purge ");
  const std::string now = options->values.contains("--now")
                              ? options->values["--now"]
                              : utc_iso8601(std::chrono::system_clock::now(), TimePrecision::milliseconds);
  if (!is_utc_millis_text(now)) {
    return usage_error("--now must be UTC YYYY-MM-DDTHH:MM:SS.mmmZ", "evidence-purge ");
  }
  auto store = evidence::EmbeddedEvidenceStore::open(options->values["--data-dir"]);
  if (!store) return runtime_error(store.error());
  std::size_t deleted = 0;
  std::size_t failed = 0;
  // In batches: each batch's rows are gone (or failed and counted) before the next is read.
  while (true) {
    auto due = (*store)->due_for_purge(now, 500);
    if (!due) return runtime_error(due.error());
    std::size_t progressed = 0;
    for (const auto& row : *due) {
      if (auto removed = (*store)->remove(row.device_id, row.package_id, now); removed) {
        ++deleted;
        ++progressed;
      } else {
        ++failed;
        log::error("evidence_purge_failed",
                   {{"device_id", row.device_id}, {"package_id", row.package_id}, {"code", removed.error().code}});
      }
    }
    if (due->size() < 500 || progressed == 0) break;
  }
  log::info("evidence_purge_done",
            {{"deleted", std::to_string(deleted)}, {"failed", std::to_string(failed)}, {"now", now}});
  std::printf("deleted %zu package(s), %zu failed\n", deleted, failed);
  return failed == 0 ? kExitOk : kExitFailure;
}

int run_legal_hold(const std::vector<std::string>& args) {
  std::vector<std::string> rest;
  std::optional<bool> hold;
  for (const auto& arg : args) {
    if (arg == "--on" || arg == "--off") {
      if (hold) return usage_error("give exactly one of --on and --off", "legal-hold ");
      hold = arg == "--on";
    } else {
      rest.push_back(arg);
    }
  }
  std::string problem;
  auto options = parse_options(rest, {"--data-dir", "--device", "--package"}, problem);
  if (!options) return usage_error(problem, "legal-hold ");
  if (options->help) {
    std::fputs(kLegalHoldHelp, stdout);
    return kExitOk;
  }
  for (const char* required : {"--data-dir", "--device", "--package"}) {
    if (!options->values.contains(required)) return usage_error(std::string(required) + " is required", "legal-hold ");
  }
  if (!hold) return usage_error("give --on or --off", "legal-hold ");
  auto store = evidence::EmbeddedEvidenceStore::open(options->values["--data-dir"]);
  if (!store) return runtime_error(store.error());
  if (auto set = (*store)->set_legal_hold(options->values["--device"], options->values["--package"], *hold); !set) {
    return runtime_error(set.error());
  }
  std::printf("legal hold %s for %s / %s\n", *hold ? "set" : "lifted", options->values["--device"].c_str(),
              options->values["--package"].c_str());
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  log::set_program("gateway");
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string command = "serve";
  if (!args.empty() && !args.front().starts_with("-")) {
    command = args.front();
    args.erase(args.begin());
  } else if (!args.empty() && (args.front() == "--help" || args.front() == "-h")) {
    std::fputs(kMainHelp, stdout);
    return kExitOk;
  } else if (!args.empty() && args.front() == "--version") {
    std::printf("gateway %s\n", KIOSK_GATEWAY_VERSION);
    return kExitOk;
  }
  if (command == "help") {
    const std::string topic = args.empty() ? "" : args.front();
    std::fputs(topic == "serve"            ? kServeHelp
               : topic == "enrol-dev"      ? kEnrolHelp
               : topic == "add-staff"      ? kAddStaffHelp
               : topic == "evidence-purge" ? kPurgeHelp
               : topic == "legal-hold"     ? kLegalHoldHelp
                                           : kMainHelp,
               stdout);
    return kExitOk;
  }
  if (command == "serve") return run_serve(args);
  if (command == "enrol-dev") return run_enrol(args);
  if (command == "add-staff") return run_add_staff(args);
  if (command == "evidence-purge") return run_evidence_purge(args);
  if (command == "legal-hold") return run_legal_hold(args);
  return usage_error("unknown command '" + command + "'", "");
}
