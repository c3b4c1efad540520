#include "kiosk/ctl/cert_command.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include <nlohmann/json.hpp>

namespace kiosk::ctl {
namespace {

constexpr int kExitDone = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

constexpr const char* kCertHelp = R"(kioskctl cert - ask head office's CA about a certificate

Usage:
  kioskctl cert status SERIAL --gateway URL --ca-file F --cert F --key F [--timeout-ms N] [--json]

status   GET /v1/device/ca/status/SERIAL on the gateway's device listener, over mutual TLS with
         this kiosk's device certificate.

Options:
  SERIAL          the certificate's serial number in hexadecimal (as token enroll prints it)
  --gateway URL   the gateway's device listener, e.g. https://gateway.example:8443
  --ca-file F     the CA that signed the gateway's server certificate
  --cert F        this kiosk's device certificate (PEM)
  --key F         its private key (PEM)
  --timeout-ms N  the whole request's time limit, 1..120000 (default 10000)
  --json          print the gateway's answer as one JSON object: serial, state (active,
                  pending_download, frozen, revoked, expired), medium, not_before, not_after,
                  superseded_by, freeze_reason, revocation_reason

Exit status: 0 done, 1 the gateway refused (e.g. CA_UNKNOWN_SERIAL) or could not be reached
(GATEWAY_UNREACHABLE, TLS_HANDSHAKE_FAILED, ...), 2 wrong usage.
)";

int usage_error(std::FILE* err, const std::string& message) {
  std::fprintf(err, "kioskctl cert: %s\nRun 'kioskctl cert --help' for usage.\n", message.c_str());
  return kExitUsage;
}

int failure(std::FILE* err, const Error& error) {
  std::fprintf(err, "kioskctl cert: %s\n", error.to_string().c_str());
  return kExitFailed;
}

// Serials are the CA's hexadecimal numbers; anything else could change the request's path.
bool is_serial(const std::string& text) {
  return !text.empty() && text.size() <= 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

int run_status(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  DeviceLinkOptions link;
  std::string serial;
  bool json = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--json") {
      json = true;
      continue;
    }
    if (arg.starts_with("--")) {
      if (i + 1 >= args.size()) return usage_error(err, arg + " needs a value");
      std::string problem;
      if (!take_device_link_option(arg, args[i + 1], link, problem)) {
        return usage_error(err, problem.empty() ? "unknown option '" + arg + "'" : problem);
      }
      ++i;
      continue;
    }
    if (!serial.empty()) return usage_error(err, "only one SERIAL, got '" + arg + "' too");
    serial = arg;
  }
  if (serial.empty()) return usage_error(err, "SERIAL is required");
  if (!is_serial(serial)) return usage_error(err, "SERIAL must be 1-64 hexadecimal digits");
  if (const auto missing = missing_device_link_option(link); !missing.empty()) return usage_error(err, missing);

  auto client = device_link_client(link);
  if (!client) return failure(err, client.error());
  auto response = client->get("/v1/device/ca/status/" + serial);
  if (!response) return failure(err, response.error());
  if (response->status != 200) return failure(err, gateway_refusal(*response));
  const auto answer = nlohmann::json::parse(response->body, nullptr, false);
  if (!answer.is_object() || !answer.contains("state")) {
    return failure(err, Error{"GATEWAY_REPLY_INVALID", "the status answer is not a JSON object with a state"});
  }
  if (json) {
    std::fprintf(out, "%s\n", answer.dump().c_str());
    return kExitDone;
  }
  for (const auto& [key, value] : answer.items()) {
    std::fprintf(out, "%s: %s\n", key.c_str(),
                 value.is_string() ? value.get<std::string>().c_str() : value.dump().c_str());
  }
  return kExitDone;
}

}  // namespace

bool take_device_link_option(const std::string& option, const std::string& value, DeviceLinkOptions& link,
                             std::string& usage_problem) {
  if (option == "--gateway") {
    link.gateway_url = value;
  } else if (option == "--ca-file") {
    link.ca_file = value;
  } else if (option == "--cert") {
    link.cert_file = value;
  } else if (option == "--key") {
    link.key_file = value;
  } else if (option == "--timeout-ms") {
    unsigned ms = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec != std::errc{} || end != value.data() + value.size() || ms < 1 || ms > 120000) {
      usage_problem = "--timeout-ms must be a number from 1 to 120000";
      return false;
    }
    link.timeout = std::chrono::milliseconds(ms);
  } else {
    return false;
  }
  return true;
}

std::string missing_device_link_option(const DeviceLinkOptions& link) {
  if (link.gateway_url.empty()) return "--gateway URL is required";
  if (link.ca_file.empty()) return "--ca-file F is required";
  if (link.cert_file.empty() || link.key_file.empty())
    return "--cert F and --key F (the device certificate) are required";
  return {};
}

Result<sync::HttpsClient> device_link_client(const DeviceLinkOptions& link) {
  return sync::HttpsClient::create(link.gateway_url, {link.ca_file, link.cert_file, link.key_file}, link.timeout);
}

Error gateway_refusal(const sync::HttpResponse& response) {
  const auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_object() && body.contains("code") && body["code"].is_string()) {
    const std::string message = body.contains("message") && body["message"].is_string()
                                    ? body["message"].get<std::string>()
                                    : "the gateway refused the request";
    return Error{body["code"].get<std::string>(), message + " (HTTP " + std::to_string(response.status) + ")"};
  }
  return Error{"GATEWAY_HTTP_" + std::to_string(response.status),
               "the gateway answered HTTP " + std::to_string(response.status) + " without an error code"};
}

int run_cert_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err) {
  if (args.empty()) return usage_error(err, "missing subcommand (status)");
  if (args.front() == "--help" || args.front() == "-h" || args.front() == "help") {
    std::fputs(kCertHelp, out);
    return kExitDone;
  }
  if (args.front() == "status") {
    if (std::find(args.begin(), args.end(), "--help") != args.end()) {
      std::fputs(kCertHelp, out);
      return kExitDone;
    }
    return run_status(args, out, err);
  }
  return usage_error(err, "unknown subcommand '" + args.front() + "'");
}

}  // namespace kiosk::ctl
