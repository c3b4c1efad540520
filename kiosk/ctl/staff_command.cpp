#include "kiosk/ctl/staff_command.hpp"

#include <chrono>
#include <cstdio>
#include <optional>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/registry/roster.hpp"
#include "kiosk/core/registry/staff_registry.hpp"

namespace kiosk::ctl {
namespace {

constexpr const char* kHelp =
    "Usage: kioskctl staff roster --format csv|json [--registry FILE] [--as-of YYYY-MM-DD]\n"
    "\n"
    "Prints the public roster of staff who may act today as witness, operator or reviewer, for\n"
    "publication on the broker's website and hotline so that investors can check a staff member's\n"
    "standing (REQ-13). Each line gives the name, staff number, qualification (SAC registration)\n"
    "number, status and the roles the person is eligible for. Staff who are suspended or revoked,\n"
    "lack a labour contract, training or a valid qualification, or are overdue for re-assessment\n"
    "are left out. ID numbers are never printed.\n"
    "\n"
    "  --format csv|json   output format (required)\n"
    "  --registry FILE     head office's staff registry (default /var/lib/kiosk/staff.toml)\n"
    "  --as-of YYYY-MM-DD  evaluate eligibility on this UTC date instead of today\n"
    "\n"
    "Exit status: 0 printed, 1 the registry cannot be read or is invalid (the message names the\n"
    "file, line and key), 2 bad arguments.\n";

int usage_error(std::FILE* err, const std::string& message) {
  std::fprintf(err, "kioskctl staff: %s\nRun 'kioskctl staff --help' for usage.\n", message.c_str());
  return 2;
}

std::optional<TimePoint> parse_date(const std::string& text) {
  int year = 0;
  unsigned month = 0;
  unsigned day = 0;
  char tail = 0;
  if (text.size() != 10 || std::sscanf(text.c_str(), "%4d-%2u-%2u%c", &year, &month, &day, &tail) != 3) {
    return std::nullopt;
  }
  const std::chrono::year_month_day date{std::chrono::year{year}, std::chrono::month{month}, std::chrono::day{day}};
  if (!date.ok()) return std::nullopt;
  return TimePoint{std::chrono::sys_days{date}};
}

}  // namespace

int run_staff_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  if (args.empty()) return usage_error(err, "missing subcommand (roster)");
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kHelp, out);
    return 0;
  }
  if (args[0] != "roster") return usage_error(err, "unknown subcommand '" + args[0] + "' (expected roster)");

  std::string format;
  std::string registry_file = kDefaultStaffRegistry;
  std::optional<TimePoint> as_of;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kHelp, out);
      return 0;
    }
    if (arg != "--format" && arg != "--registry" && arg != "--as-of") {
      return usage_error(err, "unknown option '" + arg + "'");
    }
    if (i + 1 >= args.size()) return usage_error(err, arg + " needs a value");
    const std::string& value = args[++i];
    if (arg == "--format") {
      if (value != "csv" && value != "json") return usage_error(err, "--format must be csv or json");
      format = value;
    } else if (arg == "--registry") {
      registry_file = value;
    } else {
      as_of = parse_date(value);
      if (!as_of) return usage_error(err, "--as-of must be a date like 2026-12-31");
    }
  }
  if (format.empty()) return usage_error(err, "--format csv|json is required");

  const auto registry = registry::StaffRegistry::from_file(registry_file);
  if (!registry) {
    std::fprintf(err, "kioskctl staff roster: %s\n", registry.error().to_string().c_str());
    return 1;
  }
  const TimePoint now = as_of ? *as_of : SystemClock().now();
  const auto roster = registry::public_roster(*registry, now);
  const std::string text = format == "csv" ? registry::roster_to_csv(roster) : registry::roster_to_json(roster);
  std::fwrite(text.data(), 1, text.size(), out);
  return 0;
}

}  // namespace kiosk::ctl
