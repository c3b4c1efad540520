#include "kiosk/ctl/journal_command.hpp"

#include <charconv>
#include <optional>
#include <string_view>

#include "kiosk/core/journal/journal.hpp"
#include "kiosk/core/log.hpp"
#include "kiosk/core/time_text.hpp"

namespace kiosk::ctl {
namespace {

constexpr int kExitShown = 0;
constexpr int kExitNotFound = 1;
constexpr int kExitUsage = 2;

constexpr const char* kJournalHelp = R"(kioskctl journal - inspect the kiosk's transaction journal

Usage:
  kioskctl journal show TXID [--db PATH] [--json]

The journal is the kiosk's durable record of every certificate transaction (apply, renew,
freeze, unfreeze, reissue, revoke): who did each step and when, the step's result, and every
evidence file the step produced with its size and SHA-256. A step is in the journal only once
it and its evidence files were safely on disk. This command only reads; it never changes it.

show TXID     print one transaction (TXID is the number the kiosk shows and logs), its steps in
              order (start and end time in UTC, the staff member's id and role or "investor"
              when no staff member acted, the result code) and its evidence files (path under
              the evidence directory, size in bytes, SHA-256)

Options:
  --db PATH     the journal database (default /var/lib/kiosk/journal.sqlite)
  --json        print one JSON object instead of text:
                {"transaction":{"id","operation","channel","investor_type","medium","kiosk_id",
                 "rule_pack_version","terms_version_hash","state","outcome_reason","opened_at",
                 "closed_at"},
                 "steps":[{"sequence","step","actor_staff_id","actor_role","started_at",
                 "ended_at","result","evidence":[{"kind","path","size","sha256"}]}]}
  --help        this text

Transaction states: open (in progress, or interrupted and not yet recovered), completed,
refused (the rules did not allow it), aborted (cancelled, or interrupted by a restart; the
reason code says which). The journal holds no names or ID numbers.

Exit status: 0 shown, 1 no such transaction or the journal cannot be read, 2 wrong usage.

Example:
  kioskctl journal show 42 --db /var/lib/kiosk/journal.sqlite --json
)";

int usage_error(std::FILE* err, const std::string& message) {
  std::fprintf(err, "kioskctl journal: %s\nRun 'kioskctl journal --help' for usage.\n", message.c_str());
  return kExitUsage;
}

std::string json_string(std::string_view text) { return "\"" + log::json_escape(text) + "\""; }

std::string time_text(TimePoint time) { return utc_iso8601(time, TimePrecision::milliseconds); }

void print_json(std::FILE* out, const journal::TransactionRecord& record) {
  std::string json = "{\"transaction\":{";
  json += "\"id\":" + std::to_string(record.id);
  json += ",\"operation\":" + json_string(kiosk::to_string(record.header.operation));
  json += ",\"channel\":" + json_string(kiosk::to_string(record.header.channel));
  json += ",\"investor_type\":" + json_string(kiosk::to_string(record.header.investor_type));
  json += ",\"medium\":" + json_string(kiosk::to_string(record.header.medium));
  json += ",\"kiosk_id\":" + json_string(record.header.kiosk_id);
  json += ",\"rule_pack_version\":" + json_string(record.header.rule_pack_version);
  json += ",\"terms_version_hash\":" + json_string(record.header.terms_version_hash);
  json += ",\"state\":" + json_string(kiosk::to_string(record.state));
  json += ",\"outcome_reason\":" +
          (record.outcome_reason.empty() ? std::string("null") : json_string(record.outcome_reason));
  json += ",\"opened_at\":" + json_string(time_text(record.opened_at));
  json += ",\"closed_at\":" + (record.closed_at ? json_string(time_text(*record.closed_at)) : std::string("null"));
  json += "},\"steps\":[";
  for (std::size_t i = 0; i < record.steps.size(); ++i) {
    const auto& step = record.steps[i];
    if (i > 0) json += ",";
    json += "{\"sequence\":" + std::to_string(step.sequence);
    json += ",\"step\":" + json_string(kiosk::to_string(step.record.step));
    json += ",\"actor_staff_id\":" +
            (step.record.actor_staff_id.empty() ? std::string("null") : json_string(step.record.actor_staff_id));
    json += ",\"actor_role\":" +
            (step.record.actor_role ? json_string(kiosk::to_string(*step.record.actor_role)) : std::string("null"));
    json += ",\"started_at\":" + json_string(time_text(step.record.started_at));
    json += ",\"ended_at\":" + json_string(time_text(step.record.ended_at));
    json += ",\"result\":" + json_string(step.record.result);
    json += ",\"evidence\":[";
    for (std::size_t j = 0; j < step.evidence.size(); ++j) {
      const auto& item = step.evidence[j];
      if (j > 0) json += ",";
      json += "{\"kind\":" + json_string(item.kind) + ",\"path\":" + json_string(item.relative_path) +
              ",\"size\":" + std::to_string(item.size) + ",\"sha256\":" + json_string(item.sha256_hex) + "}";
    }
    json += "]}";
  }
  json += "]}\n";
  std::fputs(json.c_str(), out);
}

void print_text(std::FILE* out, const journal::TransactionRecord& record) {
  std::fprintf(out, "Transaction %lld: %s", static_cast<long long>(record.id),
               std::string(kiosk::to_string(record.state)).c_str());
  if (!record.outcome_reason.empty()) std::fprintf(out, " (reason %s)", record.outcome_reason.c_str());
  std::fprintf(out, "\n");
  const auto field = [out](const char* name, std::string_view value) {
    std::fprintf(out, "  %-18s %.*s\n", name, static_cast<int>(value.size()), value.data());
  };
  field("operation", kiosk::to_string(record.header.operation));
  field("channel", kiosk::to_string(record.header.channel));
  field("investor type", kiosk::to_string(record.header.investor_type));
  field("medium", kiosk::to_string(record.header.medium));
  field("kiosk", record.header.kiosk_id);
  field("rule pack", record.header.rule_pack_version);
  field("terms version hash", record.header.terms_version_hash);
  field("opened", time_text(record.opened_at));
  field("closed", record.closed_at ? time_text(*record.closed_at) : std::string("(still open)"));
  std::fprintf(out, "Steps: %zu\n", record.steps.size());
  for (const auto& step : record.steps) {
    const std::string actor = step.record.actor_role ? step.record.actor_staff_id + " (" +
                                                           std::string(kiosk::to_string(*step.record.actor_role)) + ")"
                                                     : std::string("investor (no staff)");
    std::fprintf(out, "  %d. %s  result %s\n", step.sequence, std::string(kiosk::to_string(step.record.step)).c_str(),
                 step.record.result.c_str());
    std::fprintf(out, "     %s .. %s  by %s\n", time_text(step.record.started_at).c_str(),
                 time_text(step.record.ended_at).c_str(), actor.c_str());
    for (const auto& item : step.evidence) {
      std::fprintf(out, "     evidence %s: %s  %llu bytes  sha256 %s\n", item.kind.c_str(), item.relative_path.c_str(),
                   static_cast<unsigned long long>(item.size), item.sha256_hex.c_str());
    }
  }
}

int run_show(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  std::string database = kDefaultJournalFile;
  bool json = false;
  std::optional<journal::TxId> tx;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kJournalHelp, out);
      return kExitShown;
    }
    if (arg == "--json") {
      json = true;
    } else if (arg == "--db") {
      if (i + 1 >= args.size()) return usage_error(err, "--db needs a file name");
      database = args[++i];
    } else if (arg.starts_with("-")) {
      return usage_error(err, "unknown option '" + arg + "'");
    } else if (tx) {
      return usage_error(err, "give one transaction id, not several");
    } else {
      journal::TxId value = 0;
      const auto [end, error] = std::from_chars(arg.data(), arg.data() + arg.size(), value);
      if (error != std::errc{} || end != arg.data() + arg.size() || value <= 0) {
        return usage_error(err, "the transaction id must be a positive number, not '" + arg + "'");
      }
      tx = value;
    }
  }
  if (!tx) return usage_error(err, "show needs a transaction id");

  journal::JournalOptions options;
  options.database = database;
  options.read_only = true;
  auto opened = journal::Journal::open(options);
  if (!opened) {
    std::fprintf(err, "kioskctl journal: %s\n", opened.error().to_string().c_str());
    return kExitNotFound;
  }
  auto record = opened->transaction(*tx);
  if (!record) {
    std::fprintf(err, "kioskctl journal: %s\n", record.error().to_string().c_str());
    return kExitNotFound;
  }
  if (json) {
    print_json(out, *record);
  } else {
    print_text(out, *record);
  }
  return kExitShown;
}

}  // namespace

int run_journal_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  if (args.empty()) return usage_error(err, "missing subcommand (show)");
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kJournalHelp, out);
    return kExitShown;
  }
  if (args[0] == "show") return run_show({args.begin() + 1, args.end()}, out, err);
  return usage_error(err, "unknown subcommand '" + args[0] + "'");
}

}  // namespace kiosk::ctl
