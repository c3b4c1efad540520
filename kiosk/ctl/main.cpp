// kioskctl: the field engineer's and compliance officer's tool on a kiosk. Each command group
// lives in its own library (diagnose, policy, rulepack, ...); this file only dispatches.
// Exit status: 0 success / no failed check, 1 failed, 2 wrong usage (policy check: 3 refused).
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/ctl/audit_command.hpp"
#include "kiosk/ctl/cert_command.hpp"
#include "kiosk/ctl/diagnose.hpp"
#include "kiosk/ctl/evidence_command.hpp"
#include "kiosk/ctl/idcard_command.hpp"
#include "kiosk/ctl/journal_command.hpp"
#include "kiosk/ctl/policy_command.hpp"
#include "kiosk/ctl/softcert_command.hpp"
#include "kiosk/ctl/staff_command.hpp"
#include "kiosk/ctl/token_command.hpp"

namespace {

constexpr int kExitUsage = 2;

constexpr const char* kMainHelp = R"(kioskctl - field engineer's tool for the CSDC certificate-service kiosk

Usage:
  kioskctl diagnose [--config FILE] [--json]
  kioskctl policy check|matrix ...
  kioskctl rulepack sign|verify FILE ...
  kioskctl journal show TXID [--db PATH] [--json]
  kioskctl audit verify [--db PATH]
  kioskctl staff roster --format csv|json
  kioskctl idcard read|sam --device PATH [--baud N] [--timeout-ms N] [--json]
  kioskctl token list --module PATH [--allowlist FILE] [--json]
  kioskctl token enroll --module PATH --slot N --pin-file F --subject-json F --gateway URL ...
  kioskctl cert status SERIAL --gateway URL --ca-file F --cert F --key F [--json]
  kioskctl softcert download --gateway URL --ref R --code C --out DIR [--ca-file F] ...
  kioskctl evidence verify DIR --device-cert F [--key FILE] [--decrypt-to OUT] [--json]
  kioskctl evidence export --gateway URL --ca FILE --staff-id ID (--transaction ID | --investor-id ID
                           | --from DATE --to DATE) --out DIR [--json]
  kioskctl version
  kioskctl help [COMMAND] | kioskctl COMMAND --help

Commands:
  diagnose   check configuration, certificates, files, disk, devices and the gateway connection,
             and print what to do about each problem
  policy     what the rule pack allows: one case (check) or the whole matrix (matrix)
  rulepack   sign a rule pack with the head-office key, or verify its signature
  journal    show one transaction from the kiosk's journal: steps, actors, times, evidence hashes
  audit      verify the tamper-evident audit log and name the first altered entry
  staff      the public roster of eligible witnesses, operators and reviewers (REQ-13)
  idcard     read the card on the ID-card reader, or show the reader's SAM id and status
  token      list certificate tokens (info, PIN state, allowlist verdict), or enroll one:
             key on the token, request, certificate from head office's CA, import
  cert       a certificate's state at head office's CA
  softcert   download a soft certificate with its reference number and code, as the investor's
             own software would (key made locally, PKCS#12 written)
  evidence   check an evidence package's signature and hashes; with a recipient key, decrypt it too;
             export packages from head office for inspection (inspector role only, logged there)
  version    print the program version, build type, compiler and library versions

The default configuration file is /etc/csdc-kiosk/kiosk.toml.
Exit status: 0 all good (warnings allowed), 1 a check failed, 2 wrong usage.
)";

constexpr const char* kDiagnoseHelp = R"(kioskctl diagnose - check that this kiosk can work

Usage: kioskctl diagnose [--config FILE] [--json]

Options:
  --config FILE   the kiosk's kiosk.toml (default /etc/csdc-kiosk/kiosk.toml)
  --json          print one JSON object instead of text:
                  {"kioskctl_version","config","checks":[{"name","status","detail","fix"}],
                   "summary":{"pass","warn","fail"}}

Checks, each "pass", "warn" or "fail" with what was found and what to do:
  config               the configuration file parses and every value is valid
  gateway              GET /healthz on [gateway] url over mutual TLS with the device certificate
  device_certificate   present, parses, not expired; warns 30 days before it expires
  gateway_ca           the gateway CA file is present
  font                 the CJK font file is present
  state_dir            the state directory exists and is writable
  disk_space           free space at the state directory; warns under 1 GiB
  devices.*            id_reader, token_module, camera, printer: "sim" or a real device path

Exit status: 0 no check failed, 1 at least one check failed, 2 wrong usage.

Example:
  kioskctl diagnose --config /etc/csdc-kiosk/kiosk.toml --json
)";

constexpr const char* kVersionHelp = R"(kioskctl version - print version information

Usage: kioskctl version

Prints the kioskctl version, build type, compiler, and the OpenSSL, libcurl and SQLite versions
it runs with. Include this output in every support ticket.
)";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "kioskctl: %s\nRun 'kioskctl --help' for usage.\n", message.c_str());
  return kExitUsage;
}

int run_diagnose(const std::vector<std::string>& args) {
  std::string config_file = kiosk::ctl::kDefaultConfigFile;
  bool json = false;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--help" || args[i] == "-h") {
      std::fputs(kDiagnoseHelp, stdout);
      return 0;
    }
    if (args[i] == "--json") {
      json = true;
    } else if (args[i] == "--config") {
      if (i + 1 >= args.size()) return usage_error("--config needs a file name");
      config_file = args[++i];
    } else {
      return usage_error("unknown option '" + args[i] + "' for diagnose");
    }
  }
  const auto report = kiosk::ctl::diagnose(config_file);
  const std::string text = json ? kiosk::ctl::report_json(report) : kiosk::ctl::report_text(report);
  std::fputs(text.c_str(), stdout);
  return report.has_failure() ? 1 : 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) {
    std::fputs(kMainHelp, stderr);
    return kExitUsage;
  }
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "--help" || command == "-h") {
    std::fputs(kMainHelp, stdout);
    return 0;
  }
  if (command == "help") {
    const std::string topic = args.empty() ? "" : args.front();
    const std::vector<std::string> help{"--help"};
    if (topic == "policy") return kiosk::ctl::run_policy_command(help, stdout, stderr);
    if (topic == "rulepack") return kiosk::ctl::run_rulepack_command(help, stdout, stderr);
    if (topic == "journal") return kiosk::ctl::run_journal_command(help, stdout, stderr);
    if (topic == "audit") return kiosk::ctl::run_audit_command(help, stdout, stderr);
    if (topic == "staff") return kiosk::ctl::run_staff_command(help, stdout, stderr);
    if (topic == "idcard") return kiosk::ctl::run_idcard_command(help, stdout, stderr);
    if (topic == "token") return kiosk::ctl::run_token_command(help, stdout, stderr);
    if (topic == "cert") return kiosk::ctl::run_cert_command(help, stdout, stderr);
    if (topic == "softcert") return kiosk::ctl::run_softcert_command(help, stdout, stderr);
    if (topic == "evidence") return kiosk::ctl::run_evidence_command(help, stdout, stderr);
    std::fputs(topic == "diagnose" ? kDiagnoseHelp : topic == "version" ? kVersionHelp : kMainHelp, stdout);
    return 0;
  }
  if (command == "version" || command == "--version") {
    if (!args.empty() && (args.front() == "--help" || args.front() == "-h")) {
      std::fputs(kVersionHelp, stdout);
      return 0;
    }
    if (!args.empty()) return usage_error("version takes no options");
    std::fputs(kiosk::ctl::version_text().c_str(), stdout);
    return 0;
  }
  if (command == "diagnose") return run_diagnose(args);
  if (command == "policy") return kiosk::ctl::run_policy_command(args, stdout, stderr);
  if (command == "rulepack") return kiosk::ctl::run_rulepack_command(args, stdout, stderr);
  if (command == "journal") return kiosk::ctl::run_journal_command(args, stdout, stderr);
  if (command == "audit") return kiosk::ctl::run_audit_command(args, stdout, stderr);
  if (command == "staff") return kiosk::ctl::run_staff_command(args, stdout, stderr);
  if (command == "idcard") return kiosk::ctl::run_idcard_command(args, stdout, stderr);
  if (command == "token") return kiosk::ctl::run_token_command(args, stdout, stderr);
  if (command == "cert") return kiosk::ctl::run_cert_command(args, stdout, stderr);
  if (command == "softcert") return kiosk::ctl::run_softcert_command(args, stdout, stderr);
  if (command == "evidence") return kiosk::ctl::run_evidence_command(args, stdout, stderr);
  return usage_error("unknown command '" + command + "'");
}
