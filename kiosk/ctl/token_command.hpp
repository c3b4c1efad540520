// `kioskctl token list|enroll`: the field engineer's and the test path to a certificate token through
// the real PKCS#11 driver (issue 5 item 5). enroll generates the key on the token, has the request
// signed there, asks head office's CA for the certificate and imports it, and prints how long each
// part took. The PIN comes from a file, is wiped after login and is never printed.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "hal/token/token_allowlist.hpp"
#include "hal/token/token_driver.hpp"

namespace kiosk::ctl {

// `args` are the words after "token". Exit status: 0 done, 1 the module, the token or the gateway
// failed (the message gives the stable code), 2 wrong usage.
int run_token_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

// One token as `token list --json` prints it; `verdict` is null when no allowlist was given.
std::string token_info_json(const hal::token::TokenInfo& info, const hal::token::AllowlistVerdict* verdict);

}  // namespace kiosk::ctl
