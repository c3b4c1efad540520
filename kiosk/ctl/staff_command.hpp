// `kioskctl staff ...`: the public staff roster (REQ-13) from head office's staff registry file, for
// the broker's website and hotline. Exit codes: 0 printed, 1 the registry file cannot be read or
// is invalid, 2 bad arguments.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace kiosk::ctl {

inline constexpr const char* kDefaultStaffRegistry = "/var/lib/kiosk/staff.toml";

// `args` are the words after "staff", e.g. {"roster", "--format", "csv"}.
int run_staff_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

}  // namespace kiosk::ctl
