// `kioskctl softcert download ...`: plays the investor's own software for a soft certificate
// (REQ-31, REQ-50): makes the key here, sends a PKCS#10 request with the reference number and the
// authorisation code to the gateway's console listener (server TLS, no client certificate), checks
// the answer and writes the certificate, its chain and a PKCS#12 file.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace kiosk::ctl {

// `args` are the words after "softcert". Exit status: 0 downloaded and written, 1 the gateway
// refused (the stable code, e.g. SOFTCERT_CODE_INVALID) or the answer failed a check, 2 wrong usage.
int run_softcert_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

}  // namespace kiosk::ctl
