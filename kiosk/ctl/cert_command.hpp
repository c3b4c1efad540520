// `kioskctl cert status SERIAL ...`: the head-office CA's record of one certificate, asked over the
// kiosk's own mutual-TLS link (GET /v1/device/ca/status/<serial>). Also the device-link helpers the
// other certificate commands (token enroll) share.
#pragma once

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "kiosk/core/error.hpp"
#include "sync/client/https_client.hpp"

namespace kiosk::ctl {

// `args` are the words after "cert". Exit status: 0 done, 1 the gateway refused or could not be
// reached (the message gives the stable code), 2 wrong usage.
int run_cert_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

// The options that reach the gateway's device listener with the device certificate.
struct DeviceLinkOptions {
  std::string gateway_url;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::chrono::milliseconds timeout{10000};
};

// True when `option` is one of --gateway, --ca-file, --cert, --key, --timeout-ms; its value is
// stored, or `usage_problem` says what is wrong with it.
bool take_device_link_option(const std::string& option, const std::string& value, DeviceLinkOptions& link,
                             std::string& usage_problem);
// Empty when every required device-link option is there, else the usage message.
std::string missing_device_link_option(const DeviceLinkOptions& link);

Result<sync::HttpsClient> device_link_client(const DeviceLinkOptions& link);

// A non-200 answer of the gateway as an error: its {"code","message"} when the body has them,
// otherwise GATEWAY_HTTP_<status>.
Error gateway_refusal(const sync::HttpResponse& response);

}  // namespace kiosk::ctl
