// `kioskctl audit ...`: checks the kiosk's hash-chained audit log (REQ-45) for compliance staff
// and field engineers. Exit codes: 0 the log verified, 1 the chain is broken (the first bad entry
// is named), 2 bad arguments or a database that cannot be read.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace kiosk::ctl {

inline constexpr const char* kDefaultAuditDb = "/var/lib/kiosk/journal.sqlite";

// `args` are the words after "audit", e.g. {"verify", "--db", "journal.sqlite"}.
int run_audit_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

}  // namespace kiosk::ctl
