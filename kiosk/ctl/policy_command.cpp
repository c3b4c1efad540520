#include "kiosk/ctl/policy_command.hpp"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <optional>
#include <string_view>
#include <system_error>

#include "kiosk/core/domain.hpp"
#include "kiosk/core/operation.hpp"
#include "kiosk/core/policy/pack_signature.hpp"
#include "kiosk/core/policy/policy.hpp"
#include "kiosk/core/policy/rule_pack.hpp"

namespace kiosk::ctl {

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;
constexpr int kExitRefused = 3;

constexpr const char* kPolicyHelp = R"(kioskctl policy - what the rule pack allows

Usage:
  kioskctl policy check --operation OP --channel CH --investor TYPE --medium MEDIUM
                        [--doc-type T] [--rule-pack FILE] [--json]
  kioskctl policy matrix [--rule-pack FILE]

The rule pack is head office's signed list of the channels and operations filed with CSDC, the
allowed combinations (requirements.md matrix M1) and the evidence steps each needs (M2, M3).

check    says whether one combination is allowed and, if so, the evidence steps the kiosk must
         record, in order, and how each identity document the channel accepts is verified (its
         procedure: methods, sides imaged, reviewer confirmation; only the --doc-type one when
         given; REQ-05, REQ-08); if not, the stable refusal code:
           CHANNEL_NOT_FILED           the channel was not filed with CSDC (REQ-01)
           OPERATION_NOT_FILED         the operation was not filed for that channel (REQ-01, REQ-30)
           CHANNEL_MEDIUM_NOT_ALLOWED  the remote channel issues soft certificates only (REQ-23, REQ-50)
           INVESTOR_TYPE_NOT_ALLOWED   the remote channel serves natural persons only (REQ-23)
           OPERATION_NOT_ALLOWED       the pack's matrix says N for this cell
           DOCUMENT_TYPE_NOT_ALLOWED   the identity document is not accepted in that channel (REQ-08)
matrix   prints the whole allowed matrix as a Markdown table shaped like requirements.md M1
         (Y allowed, N refused).

Values:
  --operation  apply renew freeze unfreeze reissue revoke
  --channel    counter witness other         (临柜 / 见证 / 其他方式)
  --investor   natural institution           (natural person / institution's agent)
  --medium     hard soft                     (USB token / soft certificate)
  --doc-type   prc-id hkmo-permit tw-permit foreign-pr hkmotw-residence
  --rule-pack  the pack to read (default: the installed share/csdc-kiosk/default-rulepack.toml).
               Its signature is not checked here; use 'kioskctl rulepack verify' for that.
  --json       print {"allowed":true|false,"code":null|"CODE","mandatory_steps":[...],
                      "documents":{"prc-id":{"methods":[...],"images":[...],"reviewer_confirmation":false},...}}
               (documents is {} when refused)

Verification methods: chip-read (the MPS SAM card reader), nciis (the MPS online identity check),
document-image (checked from images of the document's sides).

Exit status: 0 allowed (check) or printed (matrix), 3 refused, 2 wrong usage,
             1 the rule pack could not be read (the message says where and why).

Example:
  kioskctl policy check --operation apply --channel other --investor natural --medium hard --json
)";

constexpr const char* kRulepackHelp = R"(kioskctl rulepack - sign and verify rule packs

Usage:
  kioskctl rulepack sign FILE --key PRIVATE.pem
  kioskctl rulepack verify FILE --public-key PUBLIC.pem

A production kiosk loads a rule pack only with a valid head-office signature beside it, in
FILE.sig: ECDSA P-256 with SHA-256 over the exact bytes of FILE, as base64 text.

sign     checks that FILE is a valid rule pack, signs it with the head-office private key
         (PEM, P-256, unencrypted) and writes FILE.sig. Any later change to FILE, even one
         byte, makes the signature invalid.
verify   checks FILE.sig against FILE and the head-office public key (PEM), then checks that
         FILE is a valid rule pack, and prints its version and filing reference.

Make a key pair (on the head-office signing machine only; never copy the private key to a kiosk):
  openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt -out private.pem
  openssl pkey -in private.pem -pubout -out public.pem

Exit status: 0 signed / signature valid, 1 failed / signature not valid (the message says why),
             2 wrong usage.
)";

int usage(std::FILE* err, const std::string& group, const std::string& message) {
  std::fprintf(err, "kioskctl %s: %s\nRun 'kioskctl %s --help' for usage.\n", group.c_str(), message.c_str(),
               group.c_str());
  return kExitUsage;
}

int failure(std::FILE* err, const Error& error) {
  std::fprintf(err, "%s\n", error.to_string().c_str());
  return kExitFailed;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// Options of the form "--name VALUE" (or a bare flag) after the subcommand.
struct Options {
  std::vector<std::pair<std::string, std::string>> values;
  std::vector<std::string> positional;
  bool json = false;
  bool help = false;

  [[nodiscard]] std::optional<std::string> get(std::string_view name) const {
    for (const auto& [key, value] : values) {
      if (key == name) return value;
    }
    return std::nullopt;
  }
};

Result<Options> parse_options(const std::vector<std::string>& args, std::size_t first,
                              std::initializer_list<std::string_view> with_value, bool allow_json) {
  Options options;
  for (std::size_t i = first; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
    } else if (arg == "--json" && allow_json) {
      options.json = true;
    } else if (std::find(with_value.begin(), with_value.end(), arg) != with_value.end()) {
      if (i + 1 >= args.size()) return fail("USAGE", arg + " needs a value");
      if (options.get(arg)) return fail("USAGE", arg + " is given twice");
      options.values.emplace_back(arg, args[++i]);
    } else if (arg.starts_with("-")) {
      return fail("USAGE", "unknown option '" + arg + "'");
    } else {
      options.positional.push_back(arg);
    }
  }
  return options;
}

template <class T, class Parse>
Result<T> required_value(const Options& options, std::string_view name, Parse parse, std::string_view choices) {
  const auto text = options.get(name);
  if (!text) return fail("USAGE", std::string(name) + " is required (one of: " + std::string(choices) + ")");
  const std::optional<T> value = parse(*text);
  if (!value) {
    return fail("USAGE", std::string(name) + " '" + *text + "' is not valid; use one of: " + std::string(choices));
  }
  return *value;
}

template <NamedEnum E>
std::string joined(const std::vector<E>& values, std::string_view separator, bool quoted) {
  std::string out;
  for (const E value : values) {
    if (!out.empty()) out += separator;
    out += quoted ? json_string(to_string(value)) : std::string(to_string(value));
  }
  return out;
}

// The decision's documents, or only `only` when the caller named one.
std::vector<std::pair<DocumentType, const policy::DocumentProcedure*>> documents_to_show(
    const policy::PolicyDecision& decision, std::optional<DocumentType> only) {
  std::vector<std::pair<DocumentType, const policy::DocumentProcedure*>> shown;
  for (const auto& [document, procedure] : decision.accepted_documents) {
    if (!only || *only == document) shown.emplace_back(document, &procedure);
  }
  return shown;
}

std::string documents_json(const policy::PolicyDecision& decision, std::optional<DocumentType> only) {
  std::string out;
  for (const auto& [document, procedure] : documents_to_show(decision, only)) {
    out += (out.empty() ? "" : ",") + json_string(to_string(document)) + ":{\"methods\":[" +
           joined(procedure->methods, ",", true) + "],\"images\":[" + joined(procedure->images, ",", true) +
           "],\"reviewer_confirmation\":" + (procedure->reviewer_confirmation ? "true" : "false") + "}";
  }
  return "{" + out + "}";
}

void print_documents(std::FILE* out, const policy::PolicyDecision& decision, std::optional<DocumentType> only) {
  std::fputs(only ? "identity document procedure:\n" : "identity documents accepted, and how each is verified:\n", out);
  for (const auto& [document, procedure] : documents_to_show(decision, only)) {
    const std::string images = procedure->images.empty() ? "none" : joined(procedure->images, ", ", false);
    std::fprintf(out, "  %s: %s; images: %s; reviewer confirms: %s\n", std::string(to_string(document)).c_str(),
                 joined(procedure->methods, " or ", false).c_str(), images.c_str(),
                 procedure->reviewer_confirmation ? "yes" : "no");
  }
}

Result<policy::RulePack> load_for_inspection(const Options& options) {
  const std::filesystem::path path = options.get("--rule-pack").value_or(default_rule_pack_path().string());
  auto loaded = policy::load_rule_pack(path, policy::LoadMode::development, {});
  if (!loaded) return std::unexpected(loaded.error());
  return std::move(loaded->pack);
}

int policy_check(const Options& options, std::FILE* out, std::FILE* err) {
  if (!options.positional.empty()) return usage(err, "policy", "unexpected argument '" + options.positional[0] + "'");
  auto operation = required_value<Operation>(
      options, "--operation", [](std::string_view t) { return operation_from_string(t); },
      "apply renew freeze unfreeze reissue revoke");
  if (!operation) return usage(err, "policy", operation.error().message);
  auto channel = required_value<Channel>(
      options, "--channel", [](std::string_view t) { return parse_enum<Channel>(t); }, "counter witness other");
  if (!channel) return usage(err, "policy", channel.error().message);
  auto investor = required_value<InvestorType>(
      options, "--investor", [](std::string_view t) { return parse_enum<InvestorType>(t); }, "natural institution");
  if (!investor) return usage(err, "policy", investor.error().message);
  auto medium = required_value<Medium>(
      options, "--medium", [](std::string_view t) { return parse_enum<Medium>(t); }, "hard soft");
  if (!medium) return usage(err, "policy", medium.error().message);
  std::optional<DocumentType> document;
  if (options.get("--doc-type")) {
    auto parsed = required_value<DocumentType>(
        options, "--doc-type", [](std::string_view t) { return parse_enum<DocumentType>(t); },
        "prc-id hkmo-permit tw-permit foreign-pr hkmotw-residence");
    if (!parsed) return usage(err, "policy", parsed.error().message);
    document = *parsed;
  }
  auto pack = load_for_inspection(options);
  if (!pack) return failure(err, pack.error());

  const policy::PolicyDecision decision =
      policy::evaluate(*pack, policy::PolicyQuery{*operation, *channel, *investor, *medium, document});
  if (options.json) {
    std::string steps;
    for (const StepId step : decision.mandatory_steps) {
      steps += (steps.empty() ? "" : ",") + json_string(to_string(step));
    }
    std::fprintf(out, "{\"allowed\":%s,\"code\":%s,\"mandatory_steps\":[%s],\"documents\":%s}\n",
                 decision.allowed ? "true" : "false", decision.allowed ? "null" : json_string(decision.code).c_str(),
                 steps.c_str(), documents_json(decision, document).c_str());
  } else if (decision.allowed) {
    std::fprintf(out, "allowed (%s)\nmandatory steps, in order:\n", decision.reason.c_str());
    for (const StepId step : decision.mandatory_steps) {
      std::fprintf(out, "  %s\n", std::string(to_string(step)).c_str());
    }
    print_documents(out, decision, document);
  } else {
    std::fprintf(out, "refused: %s\n  %s\n", decision.code.c_str(), decision.reason.c_str());
  }
  return decision.allowed ? kExitOk : kExitRefused;
}

int policy_matrix(const Options& options, std::FILE* out, std::FILE* err) {
  if (!options.positional.empty()) return usage(err, "policy", "unexpected argument '" + options.positional[0] + "'");
  auto pack = load_for_inspection(options);
  if (!pack) return failure(err, pack.error());
  std::fputs(policy::render_matrix_markdown(*pack).c_str(), out);
  return kExitOk;
}

// Writes beside the target and renames, so a reader never sees half a signature.
Result<void> write_file_atomically(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path temporary = path;
  temporary += ".tmp";
  {
    std::ofstream file(temporary, std::ios::binary | std::ios::trunc);
    if (!file) return fail("RULEPACK_WRITE_FAILED", "cannot write " + temporary.string() + ": check permissions");
    file << text;
    file.flush();
    if (!file) return fail("RULEPACK_WRITE_FAILED", "writing " + temporary.string() + " failed: is the disk full?");
  }
  std::error_code ec;
  std::filesystem::rename(temporary, path, ec);
  if (ec) return fail("RULEPACK_WRITE_FAILED", "cannot rename to " + path.string() + ": " + ec.message());
  return {};
}

int rulepack_sign(const Options& options, std::FILE* out, std::FILE* err) {
  if (options.positional.size() != 1) return usage(err, "rulepack", "sign needs exactly one FILE");
  const auto key_path = options.get("--key");
  if (!key_path) return usage(err, "rulepack", "sign needs --key PRIVATE.pem");
  const std::filesystem::path pack_path = options.positional[0];
  auto text = policy::read_bounded_file(pack_path, policy::kMaxRulePackBytes);
  if (!text) return failure(err, text.error());
  // Signing an invalid pack would only move the error to every kiosk.
  if (auto pack = policy::parse_rule_pack(*text, pack_path.string()); !pack) return failure(err, pack.error());
  auto key = policy::read_bounded_file(*key_path, policy::kMaxKeyFileBytes);
  if (!key) return failure(err, key.error());
  auto signature = policy::sign_detached(*text, *key);
  if (!signature) return failure(err, signature.error());
  const std::filesystem::path sig_path = policy::signature_path_for(pack_path);
  if (auto written = write_file_atomically(sig_path, *signature + "\n"); !written) return failure(err, written.error());
  std::fprintf(out, "signed %s: wrote %s\n", pack_path.string().c_str(), sig_path.string().c_str());
  return kExitOk;
}

int rulepack_verify(const Options& options, std::FILE* out, std::FILE* err) {
  if (options.positional.size() != 1) return usage(err, "rulepack", "verify needs exactly one FILE");
  const auto key_path = options.get("--public-key");
  if (!key_path) return usage(err, "rulepack", "verify needs --public-key PUBLIC.pem");
  const std::filesystem::path pack_path = options.positional[0];
  auto key = policy::read_bounded_file(*key_path, policy::kMaxKeyFileBytes);
  if (!key) return failure(err, key.error());
  if (!std::filesystem::exists(policy::signature_path_for(pack_path))) {
    return failure(err, Error{"RULEPACK_UNSIGNED", pack_path.string() + " has no signature file " +
                                                       policy::signature_path_for(pack_path).string()});
  }
  // The simulator mode checks the signature but, unlike production, also reports a pack that is
  // not yet tied to a filing, so the message can say so.
  auto loaded = policy::load_rule_pack(pack_path, policy::LoadMode::simulator, *key);
  if (!loaded) return failure(err, loaded.error());
  const policy::RulePack& pack = loaded->pack;
  std::fprintf(
      out, "signature valid: %s\n  pack version: %s\n  filing reference: %s\n", pack_path.string().c_str(),
      pack.pack_version.c_str(),
      pack.filing_reference.empty()
          ? "none (a production kiosk refuses this pack: RULEPACK_NO_FILING_REFERENCE)"
          : (pack.filing_reference + " of " + (pack.filing_date.empty() ? "no date" : pack.filing_date)).c_str());
  return kExitOk;
}

}  // namespace

std::filesystem::path default_rule_pack_path() {
  const std::filesystem::path relative = std::filesystem::path("share") / "csdc-kiosk" / "default-rulepack.toml";
  std::error_code ec;
  const std::filesystem::path program = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path beside = program.parent_path().parent_path() / relative;
    if (std::filesystem::exists(beside, ec)) return beside;
  }
  for (const char* candidate : {KIOSK_CTL_INSTALLED_RULE_PACK, KIOSK_CTL_BUILD_TREE_RULE_PACK}) {
    if (std::filesystem::exists(candidate, ec)) return candidate;
  }
  return KIOSK_CTL_INSTALLED_RULE_PACK;
}

int run_policy_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  if (args.empty()) {
    std::fputs(kPolicyHelp, err);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kPolicyHelp, out);
    return kExitOk;
  }
  const bool check = args[0] == "check";
  if (!check && args[0] != "matrix") return usage(err, "policy", "unknown subcommand '" + args[0] + "'");
  auto options =
      check ? parse_options(args, 1,
                            {"--operation", "--channel", "--investor", "--medium", "--doc-type", "--rule-pack"}, true)
            : parse_options(args, 1, {"--rule-pack"}, false);
  if (!options) return usage(err, "policy", options.error().message);
  if (options->help) {
    std::fputs(kPolicyHelp, out);
    return kExitOk;
  }
  return check ? policy_check(*options, out, err) : policy_matrix(*options, out, err);
}

int run_rulepack_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  if (args.empty()) {
    std::fputs(kRulepackHelp, err);
    return kExitUsage;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::fputs(kRulepackHelp, out);
    return kExitOk;
  }
  const bool sign = args[0] == "sign";
  if (!sign && args[0] != "verify") return usage(err, "rulepack", "unknown subcommand '" + args[0] + "'");
  auto options = parse_options(args, 1, {sign ? "--key" : "--public-key"}, false);
  if (!options) return usage(err, "rulepack", options.error().message);
  if (options->help) {
    std::fputs(kRulepackHelp, out);
    return kExitOk;
  }
  return sign ? rulepack_sign(*options, out, err) : rulepack_verify(*options, out, err);
}

}  // namespace kiosk::ctl
