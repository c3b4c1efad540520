// `kioskctl evidence verify DIR --device-cert F [--key FILE] [--decrypt-to DIR] [--json]`: checks one
// evidence package (sync/package/FORMAT.md) with the kiosk's device certificate alone, or with a
// head-office recipient key also decrypts it and checks every stream's tags and plaintext hashes.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace kiosk::ctl {

// `args` are the words after "evidence". Exit status: 0 the package is valid, 1 it is not (the
// package's stable code, e.g. PACKAGE_SIGNATURE_INVALID) or an input could not be read, 2 wrong usage.
int run_evidence_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

}  // namespace kiosk::ctl
