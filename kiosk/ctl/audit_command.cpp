#include "kiosk/ctl/audit_command.hpp"

#include <cstdlib>
#include <optional>

#include "kiosk/core/audit/audit_log.hpp"

namespace kiosk::ctl {
namespace {

constexpr const char* kHelp =
    "Usage: kioskctl audit verify [--db PATH] [--checkpoint COUNT:HASH]\n"
    "\n"
    "Checks the kiosk's audit log, the tamper-evident record of every staff action, configuration\n"
    "and rule-pack change, clock change and evidence event (REQ-45). Each entry carries the SHA-256\n"
    "of the entry before it, so an entry that was edited, deleted or moved breaks the chain.\n"
    "\n"
    "  --db PATH              the kiosk's journal database (default /var/lib/kiosk/journal.sqlite);\n"
    "                         it is opened read-only and never changed\n"
    "  --checkpoint COUNT:HASH  a head recorded earlier (for example in an evidence manifest);\n"
    "                         also detects entries removed from the end or rewritten since then\n"
    "\n"
    "Prints the number of entries verified and the head hash (keep it as the next checkpoint),\n"
    "or the first bad entry with its code:\n"
    "  AUDIT_ENTRY_ALTERED       the entry's content no longer matches its hash\n"
    "  AUDIT_ENTRY_MISSING       the entry was deleted\n"
    "  AUDIT_ENTRY_OUT_OF_ORDER  entries were moved\n"
    "  AUDIT_TAIL_TRUNCATED      entries after it were removed (needs --checkpoint)\n"
    "  AUDIT_CHECKPOINT_MISMATCH history up to the checkpoint was rewritten (needs --checkpoint)\n"
    "\n"
    "Exit status: 0 verified, 1 the log was tampered with (report it to compliance and keep the\n"
    "file as it is), 2 bad arguments or the database cannot be read.\n";

std::optional<audit::Checkpoint> parse_checkpoint(const std::string& text) {
  const auto colon = text.find(':');
  if (colon == std::string::npos || colon == 0) return std::nullopt;
  const std::string count_text = text.substr(0, colon);
  const std::string hash = text.substr(colon + 1);
  if (count_text.find_first_not_of("0123456789") != std::string::npos || count_text.size() > 18) return std::nullopt;
  if (hash.size() != 64 || hash.find_first_not_of("0123456789abcdef") != std::string::npos) return std::nullopt;
  return audit::Checkpoint{std::strtoll(count_text.c_str(), nullptr, 10), hash};
}

int usage_error(std::FILE* err, const std::string& message) {
  std::fprintf(err, "kioskctl audit: %s\nRun 'kioskctl audit --help' for usage.\n", message.c_str());
  return 2;
}

}  // namespace

int run_audit_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  if (args.empty()) return usage_error(err, "missing subcommand (verify)");
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kHelp, out);
    return 0;
  }
  if (args[0] != "verify") return usage_error(err, "unknown subcommand '" + args[0] + "' (expected verify)");

  std::string db = kDefaultAuditDb;
  std::optional<audit::Checkpoint> checkpoint;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kHelp, out);
      return 0;
    }
    if (arg != "--db" && arg != "--checkpoint") return usage_error(err, "unknown option '" + arg + "'");
    if (i + 1 >= args.size()) return usage_error(err, arg + " needs a value");
    const std::string& value = args[++i];
    if (arg == "--db") {
      db = value;
    } else {
      checkpoint = parse_checkpoint(value);
      if (!checkpoint) return usage_error(err, "--checkpoint must be COUNT:HASH (HASH: 64 lowercase hex digits)");
    }
  }

  const auto report = audit::AuditLog::verify_file(db, checkpoint);
  if (!report) {
    std::fprintf(err, "kioskctl audit verify: %s\n", report.error().to_string().c_str());
    return 2;
  }
  if (report->problem) {
    const auto& problem = *report->problem;
    std::fprintf(out, "audit log BROKEN at entry %lld: %s\n%s\n", static_cast<long long>(problem.sequence),
                 problem.code.c_str(), problem.message.c_str());
    std::fprintf(out, "entries verified before it: %lld\nlast good hash: %s\n",
                 static_cast<long long>(report->verified.count), report->verified.head_hash.c_str());
    return 1;
  }
  std::fprintf(out, "audit log verified: %lld entries\nhead hash: %s\n", static_cast<long long>(report->verified.count),
               report->verified.head_hash.c_str());
  if (checkpoint) {
    std::fprintf(out, "checkpoint %lld:%s is contained unchanged\n", static_cast<long long>(checkpoint->count),
                 checkpoint->head_hash.c_str());
  }
  return 0;
}

}  // namespace kiosk::ctl
