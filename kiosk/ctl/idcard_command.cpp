#include "kiosk/ctl/idcard_command.hpp"

#include <charconv>
#include <optional>
#include <string_view>

#include <nlohmann/json.hpp>

#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/time_text.hpp"

namespace kiosk::ctl {
namespace {

using namespace kiosk::hal::idcard;

constexpr int kExitDone = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr const char* kIdcardHelp = R"(kioskctl idcard - talk to the ID-card reader (MPS SAM serial protocol)

Usage:
  kioskctl idcard read --device PATH [--baud N] [--timeout-ms N] [--fingerprint]
                       [--additional-address] [--json]
  kioskctl idcard sam  --device PATH [--baud N] [--timeout-ms N] [--json]

read    find, select and read the card on the reader, decode it and check it (check digit,
        validity dates against today's local date). Prints the holder's data on this terminal
        only; nothing is logged.
sam     the SAM module's status and its management number (SAM id).

Options:
  --device PATH         the reader's serial device, e.g. /dev/ttyUSB0 (or a simulator's link)
  --baud N              9600, 19200, 38400, 57600 or 115200 (default 115200)
  --timeout-ms N        the timeout of each command, 1..60000 (default: 1000 for find, select
                        and status, 3000 for a read, 4000 with fingerprints)
  --fingerprint         read the fingerprint blocks too (kept opaque; only their size is shown)
  --additional-address  also ask for the card's additional address (not every reader has it)
  --json                print one JSON object. For read: doc_type (prc-id, hkmotw-residence,
                        foreign-pr-2017, foreign-pr-2023), name, sex, nation, nation_code,
                        birth_date, address, id_number, issuer, valid_from, valid_until
                        (YYYY-MM-DD or long-term), the type's own fields (english_name,
                        nationality, pass_number, issue_count, card_version, renewal_count,
                        previous_number), additional_address, photo_sha256, photo_bytes,
                        fingerprint_bytes, text_sha256 and document_check {result, message}.
                        For sam: sam_id, status.

Exit status: 0 done (a read card that fails its document check is still a successful read:
see document_check), 1 the reader or the card failed (the message gives the completion, the
code and what to do), 2 wrong usage.
)";

int usage_error(std::FILE* err, const std::string& message) {
  std::fprintf(err, "kioskctl idcard: %s\nRun 'kioskctl idcard --help' for usage.\n", message.c_str());
  return kExitUsage;
}

int reader_failure(std::FILE* err, const ReaderError& failure) {
  std::fprintf(err, "kioskctl idcard: %s (%s): %s\n", failure.error.code.c_str(),
               std::string(to_string(failure.completion)).c_str(), failure.error.message.c_str());
  return kExitFailed;
}

std::optional<unsigned> parse_number(std::string_view text) {
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

struct Options {
  std::string device;
  unsigned baud = 115200;
  std::optional<unsigned> timeout_ms;
  bool fingerprint = false;
  bool additional_address = false;
  bool json = false;
};

// Nullopt with the message already printed on a usage error.
std::optional<Options> parse_options(const std::vector<std::string>& args, bool read_options, std::FILE* err,
                                     int& exit_code) {
  Options options;
  const auto error = [&](const std::string& message) {
    exit_code = usage_error(err, message);
    return std::nullopt;
  };
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    const bool has_value = i + 1 < args.size();
    if (arg == "--device" || arg == "--baud" || arg == "--timeout-ms") {
      if (!has_value) return error(arg + " needs a value");
      const std::string& value = args[++i];
      if (arg == "--device") {
        options.device = value;
      } else if (arg == "--baud") {
        const auto baud = parse_number(value);
        if (!baud || !supported_baud(*baud)) return error("--baud must be 9600, 19200, 38400, 57600 or 115200");
        options.baud = *baud;
      } else {
        const auto ms = parse_number(value);
        if (!ms || *ms < 1 || *ms > 60000) return error("--timeout-ms must be a number from 1 to 60000");
        options.timeout_ms = *ms;
      }
    } else if (arg == "--json") {
      options.json = true;
    } else if (read_options && arg == "--fingerprint") {
      options.fingerprint = true;
    } else if (read_options && arg == "--additional-address") {
      options.additional_address = true;
    } else {
      return error("unknown option '" + arg + "'");
    }
  }
  if (options.device.empty()) return error("--device PATH is required");
  return options;
}

ReaderConfig reader_config(const Options& options) {
  ReaderConfig config;
  config.device_path = options.device;
  config.baud = options.baud;
  config.read_fingerprint = options.fingerprint;
  config.read_additional_address = options.additional_address;
  if (options.timeout_ms) {
    const std::chrono::milliseconds timeout{*options.timeout_ms};
    config.timeouts = ReaderTimeouts{timeout, timeout, timeout, timeout, timeout, timeout, timeout};
  }
  return config;
}

std::string validity_end_text(const std::optional<Date>& until) { return until ? date_text(*until) : "long-term"; }

// One "key: value" line per field, in the JSON's order of keys.
void print_text(std::FILE* out, const nlohmann::json& fields) {
  for (const auto& [key, value] : fields.items()) {
    if (value.is_object()) {
      std::fprintf(out, "%s: %s %s\n", key.c_str(), value["result"].get<std::string>().c_str(),
                   value["message"].get<std::string>().c_str());
    } else {
      std::fprintf(out, "%s: %s\n", key.c_str(),
                   value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
    }
  }
}

}  // namespace

std::string card_read_json(const CardRead& card) {
  const IdDocument& doc = card.document;
  nlohmann::json json;
  json["doc_type"] = std::string(to_string(doc.layout));
  json["name"] = doc.name;
  json["sex"] = std::string(to_string(doc.sex));
  if (doc.layout == CardLayout::prc_id) {
    const auto nation = nation_by_code(doc.nation_code);
    json["nation"] = nation ? std::string(nation->name_zh) : std::string();
    json["nation_code"] = doc.nation_code;
  }
  json["birth_date"] = date_text(doc.birth_date);
  if (doc.layout == CardLayout::prc_id || doc.layout == CardLayout::hkmotw_residence) json["address"] = doc.address;
  json["id_number"] = doc.id_number;
  json["issuer"] = doc.issuer;
  json["valid_from"] = date_text(doc.valid_from);
  json["valid_until"] = validity_end_text(doc.valid_until);
  switch (doc.layout) {
    case CardLayout::prc_id: break;
    case CardLayout::hkmotw_residence:
      json["pass_number"] = doc.pass_number;
      json["issue_count"] = doc.issue_count;
      break;
    case CardLayout::foreign_pr_2017:
      json["english_name"] = doc.english_name;
      json["nationality"] = doc.nationality;
      json["card_version"] = doc.card_version;
      break;
    case CardLayout::foreign_pr_2023:
      json["english_name"] = doc.english_name;
      json["nationality"] = doc.nationality;
      json["renewal_count"] = doc.renewal_count;
      json["previous_number"] = doc.previous_number;
      break;
  }
  if (card.additional_address) json["additional_address"] = *card.additional_address;
  json["photo_sha256"] = journal::sha256_hex(card.photo_wlt);
  json["photo_bytes"] = card.photo_wlt.size();
  json["fingerprint_bytes"] = card.fingerprint.size();
  json["text_sha256"] = journal::sha256_hex(card.text_block);
  return json.dump();
}

int run_idcard_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  if (args.empty() || args[0] == "--help" || args[0] == "help") {
    std::fputs(kIdcardHelp, args.empty() ? err : out);
    return args.empty() ? kExitUsage : kExitDone;
  }
  const std::string& action = args[0];
  if (action != "read" && action != "sam") return usage_error(err, "unknown action '" + action + "'");
  for (const auto& arg : args) {
    if (arg == "--help") {
      std::fputs(kIdcardHelp, out);
      return kExitDone;
    }
  }
  int exit_code = kExitUsage;
  const auto options = parse_options(args, action == "read", err, exit_code);
  if (!options) return exit_code;
  IdCardReader reader(reader_config(*options));

  if (action == "sam") {
    auto status = reader.sam_status();
    if (!status) return reader_failure(err, status.error());
    nlohmann::json json{
        {"sam_id", status->id.to_string()}, {"status", "ok"}, {"device_state", to_string(reader.device_state())}};
    if (options->json) {
      std::fprintf(out, "%s\n", json.dump().c_str());
    } else {
      std::fprintf(out, "SAM id: %s\nstatus: ok\n", status->id.to_string().c_str());
    }
    return kExitDone;
  }

  auto card = reader.read_card();
  if (!card) return reader_failure(err, card.error());
  auto json = nlohmann::json::parse(card_read_json(*card));
  const auto check = check_document(card->document, local_date(std::chrono::system_clock::now()));
  json["document_check"] = check ? nlohmann::json{{"result", "ok"}, {"message", ""}}
                                 : nlohmann::json{{"result", check.error().code}, {"message", check.error().message}};
  if (options->json) {
    std::fprintf(out, "%s\n", json.dump().c_str());
  } else {
    print_text(out, json);
  }
  return kExitDone;
}

}  // namespace kiosk::ctl
