#include "kiosk/ctl/token_command.hpp"

#include <openssl/bio.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <fstream>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "hal/token/pkcs11_driver.hpp"
#include "kiosk/ctl/cert_command.hpp"

namespace kiosk::ctl {
namespace {

using namespace kiosk::hal::token;
using Json = nlohmann::ordered_json;

constexpr int kExitDone = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr const char* kTokenHelp = R"(kioskctl token - certificate tokens through their PKCS#11 module

Usage:
  kioskctl token list --module PATH [--allowlist FILE] [--json]
  kioskctl token enroll --module PATH --slot N --pin-file F --subject-json F
                        --gateway URL --ca-file F --cert F --key F
                        [--key-type rsa2048|ec-p256] [--request-id ID] [--timeout-ms N] [--json]

list     every slot with a token: label, manufacturer, model, serial, the user PIN's state
         (initialized, count_low, final_try, locked, to_be_changed), PIN lengths, and with
         --allowlist the certified-model verdict (REQ-04) with its certification number.
enroll   engineer and test path for a hard certificate: log in with the user PIN, generate the
         key pair on the token (never extractable), sign a PKCS#10 request on the token,
         POST /v1/device/ca/apply (medium hard) over the device's mutual-TLS link, import the
         certificate beside its key and read it back. Prints the serial and the time of each
         part: keygen_ms, request_ms, issuance_ms, import_ms, total_ms.

Options:
  --module PATH        the PKCS#11 module (OpenSC's, the vendor's, or SoftHSM2's libsofthsm2.so)
  --allowlist FILE     the [[token_model]] TOML list of certified models
  --slot N             the slot id, as list prints it
  --pin-file F         a file holding the user PIN (one line; never printed or logged)
  --subject-json F     the verified subject: {"investor_type","id_type","id_number","name"}
                       (the CA takes the certificate's subject from it, not from the request)
  --gateway URL, --ca-file F, --cert F, --key F
                       the gateway's device listener and this kiosk's device certificate
  --key-type T         rsa2048 or ec-p256 (default ec-p256)
  --request-id ID      the CA request id (1-64 of A-Z a-z 0-9 . _ : -); a retried id never
                       issues twice (default: a random one, printed)
  --timeout-ms N       the gateway request's time limit, 1..120000 (default 10000)
  --json               print one JSON object

Exit status: 0 done, 1 the module, the token or the gateway failed (the message gives the stable
code, e.g. TOKEN_MODULE_NOT_FOUND, TOKEN_PIN_INCORRECT, CA_DUPLICATE_LIVE), 2 wrong usage.
)";

int usage_error(std::FILE* err, const std::string& message) {
  std::fprintf(err, "kioskctl token: %s\nRun 'kioskctl token --help' for usage.\n", message.c_str());
  return kExitUsage;
}

int token_failure(std::FILE* err, const TokenError& failure) {
  std::fprintf(err, "kioskctl token: %s (%s): %s\n", failure.error.code.c_str(),
               std::string(to_string(failure.completion)).c_str(), failure.error.message.c_str());
  return kExitFailed;
}

int failure(std::FILE* err, const Error& error) {
  std::fprintf(err, "kioskctl token: %s\n", error.to_string().c_str());
  return kExitFailed;
}

Json pin_state_json(const PinState& pin) {
  return Json{{"initialized", pin.initialized},
              {"count_low", pin.count_low},
              {"final_try", pin.final_try},
              {"locked", pin.locked},
              {"to_be_changed", pin.to_be_changed}};
}

Json token_json(const TokenInfo& info, const AllowlistVerdict* verdict) {
  Json token{{"slot", info.slot},
             {"label", info.label},
             {"manufacturer", info.manufacturer},
             {"model", info.model},
             {"serial", info.serial},
             {"token_initialized", info.token_initialized},
             {"user_pin", pin_state_json(info.user_pin)},
             {"min_pin_length", info.min_pin_length},
             {"max_pin_length", info.max_pin_length}};
  if (verdict == nullptr) {
    token["allowlist"] = nullptr;
  } else {
    token["allowlist"] = Json{{"allowed", verdict->allowed},
                              {"certification_number", verdict->certification_number},
                              {"reason", verdict->reason}};
  }
  return token;
}

std::string pin_state_text(const PinState& pin) {
  std::string text = pin.initialized ? "set" : "not set";
  if (pin.locked) text += ", LOCKED";
  if (pin.final_try) text += ", final try";
  if (pin.count_low) text += ", wrong PIN entered since the last good one";
  if (pin.to_be_changed) text += ", must be changed";
  return text;
}

int run_list(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  std::string module_path;
  std::string allowlist_file;
  bool json = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--json") {
      json = true;
    } else if (arg == "--module" || arg == "--allowlist") {
      if (i + 1 >= args.size()) return usage_error(err, arg + " needs a value");
      (arg == "--module" ? module_path : allowlist_file) = args[++i];
    } else {
      return usage_error(err, "unknown option '" + arg + "' for list");
    }
  }
  if (module_path.empty()) return usage_error(err, "--module PATH is required");

  std::optional<TokenAllowlist> allowlist;
  if (!allowlist_file.empty()) {
    auto loaded = TokenAllowlist::from_file(allowlist_file);
    if (!loaded) return failure(err, loaded.error());
    allowlist = std::move(*loaded);
  }
  auto module = Pkcs11Module::load(module_path);
  if (!module) return token_failure(err, module.error());
  Pkcs11Driver driver(*module);
  auto slots = driver.slots_with_token();
  if (!slots) return token_failure(err, slots.error());

  Json tokens = Json::array();
  for (const SlotId slot : *slots) {
    auto info = driver.token_info(slot);
    if (!info) return token_failure(err, info.error());
    std::optional<AllowlistVerdict> verdict;
    if (allowlist) verdict = allowlist->check(*info);
    if (json) {
      tokens.push_back(token_json(*info, verdict ? &*verdict : nullptr));
      continue;
    }
    std::fprintf(out, "slot %llu: \"%s\" %s / %s, serial %s\n  user PIN: %s\n  allowlist: %s\n",
                 static_cast<unsigned long long>(slot), info->label.c_str(), info->manufacturer.c_str(),
                 info->model.c_str(), info->serial.c_str(), pin_state_text(info->user_pin).c_str(),
                 !verdict           ? "not checked (no --allowlist)"
                 : verdict->allowed ? ("allowed, certification " + verdict->certification_number).c_str()
                                    : ("REFUSED: " + verdict->reason).c_str());
  }
  if (json) {
    const Json report{{"module", module_path},
                      {"allowlist", allowlist_file.empty() ? Json(nullptr) : Json(allowlist_file)},
                      {"tokens", tokens}};
    std::fprintf(out, "%s\n", report.dump().c_str());
  } else if (slots->empty()) {
    std::fputs("no token present\n", out);
  }
  return kExitDone;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string random_request_id() {
  unsigned char bytes[12];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return {};
  std::string id = "kioskctl-";
  static constexpr char kHex[] = "0123456789abcdef";
  for (const unsigned char byte : bytes) {
    id += kHex[byte >> 4];
    id += kHex[byte & 0xf];
  }
  return id;
}

std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string text;
  for (const std::uint8_t byte : bytes) {
    text += kHex[byte >> 4];
    text += kHex[byte & 0xf];
  }
  return text;
}

Result<std::vector<std::uint8_t>> pem_certificate_to_der(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* certificate = bio == nullptr ? nullptr : PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (certificate == nullptr) return fail("GATEWAY_REPLY_INVALID", "certificate_pem is not a PEM certificate");
  const int size = i2d_X509(certificate, nullptr);
  std::vector<std::uint8_t> der(size > 0 ? static_cast<std::size_t>(size) : 0);
  unsigned char* cursor = der.data();
  if (size <= 0 || i2d_X509(certificate, &cursor) != size) der.clear();
  X509_free(certificate);
  if (der.empty()) return fail("GATEWAY_REPLY_INVALID", "certificate_pem could not be encoded as DER");
  return der;
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

struct EnrollOptions {
  std::string module_path;
  std::optional<SlotId> slot;
  std::string pin_file;
  std::string subject_file;
  DeviceLinkOptions link;
  KeyType key_type = KeyType::ec_p256;
  std::string request_id;
  bool json = false;
};

int run_enroll(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  EnrollOptions options;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--json") {
      options.json = true;
      continue;
    }
    if (i + 1 >= args.size())
      return usage_error(err, arg.starts_with("--") ? arg + " needs a value" : "unexpected '" + arg + "'");
    const std::string& value = args[++i];
    std::string problem;
    if (arg == "--module") {
      options.module_path = value;
    } else if (arg == "--slot") {
      SlotId slot = 0;
      const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), slot);
      if (ec != std::errc{} || end != value.data() + value.size()) return usage_error(err, "--slot must be a number");
      options.slot = slot;
    } else if (arg == "--pin-file") {
      options.pin_file = value;
    } else if (arg == "--subject-json") {
      options.subject_file = value;
    } else if (arg == "--key-type") {
      if (value == "rsa2048") {
        options.key_type = KeyType::rsa_2048;
      } else if (value == "ec-p256") {
        options.key_type = KeyType::ec_p256;
      } else {
        return usage_error(err, "--key-type must be rsa2048 or ec-p256");
      }
    } else if (arg == "--request-id") {
      options.request_id = value;
    } else if (!take_device_link_option(arg, value, options.link, problem)) {
      return usage_error(err, problem.empty() ? "unknown option '" + arg + "' for enroll" : problem);
    }
  }
  if (options.module_path.empty()) return usage_error(err, "--module PATH is required");
  if (!options.slot) return usage_error(err, "--slot N is required");
  if (options.pin_file.empty()) return usage_error(err, "--pin-file F is required");
  if (options.subject_file.empty()) return usage_error(err, "--subject-json F is required");
  if (const auto missing = missing_device_link_option(options.link); !missing.empty()) return usage_error(err, missing);
  if (options.request_id.empty()) options.request_id = random_request_id();

  // Everything that can be checked without the token is checked first, so a wrong file or URL
  // does not leave an orphan key pair on the investor's token.
  const auto subject_text = read_file(options.subject_file);
  if (!subject_text) return failure(err, Error{"SUBJECT_UNREADABLE", "cannot read the --subject-json file"});
  const auto subject = nlohmann::json::parse(*subject_text, nullptr, false);
  if (!subject.is_object()) return failure(err, Error{"SUBJECT_INVALID", "--subject-json is not a JSON object"});
  for (const char* field : {"investor_type", "id_type", "id_number", "name"}) {
    if (!subject.contains(field) || !subject[field].is_string()) {
      return failure(err, Error{"SUBJECT_INVALID", std::string("--subject-json needs a string \"") + field + "\""});
    }
  }
  auto pin = read_file(options.pin_file);
  if (!pin) return failure(err, Error{"PIN_FILE_UNREADABLE", "cannot read the --pin-file file"});
  while (!pin->empty() && (pin->back() == '\n' || pin->back() == '\r')) pin->pop_back();
  auto client = device_link_client(options.link);
  if (!client) {
    wipe(*pin);
    return failure(err, client.error());
  }

  auto module = Pkcs11Module::load(options.module_path);
  if (!module) {
    wipe(*pin);
    return token_failure(err, module.error());
  }
  Pkcs11Driver driver(*module);
  auto session = driver.open_session(*options.slot);
  if (!session) {
    wipe(*pin);
    return token_failure(err, session.error());
  }
  if (auto login = (*session)->login_user(*pin); !login) return token_failure(err, login.error());

  const auto total_start = std::chrono::steady_clock::now();
  auto start = total_start;
  auto key = (*session)->generate_key_pair(options.key_type, "kioskctl-enroll");
  if (!key) return token_failure(err, key.error());
  const double keygen_ms = milliseconds_since(start);

  SubjectName request_subject;
  request_subject.country = "CN";
  request_subject.common_name = subject["name"].get<std::string>();
  request_subject.serial_number = subject["id_number"].get<std::string>();
  start = std::chrono::steady_clock::now();
  auto request = (*session)->sign_request(*key, request_subject);
  if (!request) return token_failure(err, request.error());
  const double request_ms = milliseconds_since(start);

  const nlohmann::json apply{
      {"request_id", options.request_id}, {"subject", subject}, {"csr_pem", request->pem}, {"medium", "hard"}};
  start = std::chrono::steady_clock::now();
  auto response = client->post_json("/v1/device/ca/apply", apply.dump());
  const double issuance_ms = milliseconds_since(start);
  const auto stranded_key = [&](Error error) {
    error.message += "; the new key pair stays on the token (CKA_ID " + hex(key->id) + ") without a certificate";
    return failure(err, error);
  };
  if (!response) return stranded_key(response.error());
  if (response->status != 200) return stranded_key(gateway_refusal(*response));
  const auto answer = nlohmann::json::parse(response->body, nullptr, false);
  if (!answer.is_object() || !answer.contains("certificate_pem") || !answer["certificate_pem"].is_string() ||
      !answer.contains("certificate") || !answer["certificate"].is_object()) {
    return stranded_key(Error{"GATEWAY_REPLY_INVALID", "the apply answer lacks certificate_pem or certificate"});
  }
  auto der = pem_certificate_to_der(answer["certificate_pem"].get<std::string>());
  if (!der) return stranded_key(der.error());

  start = std::chrono::steady_clock::now();
  if (auto imported = (*session)->import_certificate(key->id, *der, "kioskctl-enroll"); !imported) {
    return token_failure(err, imported.error());
  }
  const double import_ms = milliseconds_since(start);
  const double total_ms = milliseconds_since(total_start);

  // Read back: an import the token did not keep must not be reported as done.
  auto certificates = (*session)->read_certificates();
  if (!certificates) return token_failure(err, certificates.error());
  const TokenCertificate* stored = nullptr;
  for (const auto& certificate : *certificates) {
    if (certificate.id == key->id && certificate.der == *der) stored = &certificate;
  }
  if (stored == nullptr) {
    return failure(err, Error{"TOKEN_CERT_NOT_STORED", "the token does not return the imported certificate"});
  }

  const auto& status = answer["certificate"];
  const Json report{{"serial", status.value("serial", stored->serial_hex)},
                    {"state", status.value("state", "")},
                    {"not_after", stored->not_after},
                    {"request_id", options.request_id},
                    {"slot", *options.slot},
                    {"key_type", options.key_type == KeyType::rsa_2048 ? "rsa2048" : "ec-p256"},
                    {"key_id", hex(key->id)},
                    {"keygen_ms", keygen_ms},
                    {"request_ms", request_ms},
                    {"issuance_ms", issuance_ms},
                    {"import_ms", import_ms},
                    {"total_ms", total_ms}};
  if (options.json) {
    std::fprintf(out, "%s\n", report.dump().c_str());
  } else {
    for (const auto& [name, value] : report.items()) {
      std::fprintf(out, "%s: %s\n", name.c_str(),
                   value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
    }
  }
  return kExitDone;
}

}  // namespace

std::string token_info_json(const TokenInfo& info, const AllowlistVerdict* verdict) {
  return token_json(info, verdict).dump();
}

int run_token_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  if (args.empty()) return usage_error(err, "missing subcommand (list or enroll)");
  const bool wants_help =
      std::find(args.begin(), args.end(), "--help") != args.end() || args.front() == "-h" || args.front() == "help";
  if (wants_help) {
    std::fputs(kTokenHelp, out);
    return kExitDone;
  }
  if (args.front() == "list") return run_list(args, out, err);
  if (args.front() == "enroll") return run_enroll(args, out, err);
  return usage_error(err, "unknown subcommand '" + args.front() + "'");
}

}  // namespace kiosk::ctl
