// kioskctl: the field engineer's tool on a kiosk (diagnose, version). Exit status: 0 success /
// no failed check, 1 a check failed, 2 wrong usage.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/ctl/diagnose.hpp"

namespace {

constexpr int kExitUsage = 2;

constexpr const char* kMainHelp = R"(kioskctl - field engineer's tool for the CSDC certificate-service kiosk

Usage:
  kioskctl diagnose [--config FILE] [--json]
  kioskctl version
  kioskctl help [COMMAND] | kioskctl COMMAND --help

Commands:
  diagnose   check configuration, certificates, files, disk, devices and the gateway connection,
             and print what to do about each problem
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
  return usage_error("unknown command '" + command + "'");
}
