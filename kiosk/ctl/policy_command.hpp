// `kioskctl policy ...` and `kioskctl rulepack ...`: what the rule pack allows, and signing and
// verifying rule packs. For compliance staff and tests. Each function takes the arguments after
// its group word and returns the exit status.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace kiosk::ctl {

// policy check: 0 allowed, 3 refused, 2 bad arguments, 1 the rule pack cannot be loaded.
// policy matrix: 0 printed, 2 bad arguments, 1 the rule pack cannot be loaded.
int run_policy_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

// rulepack sign | verify: 0 done / signature valid, 1 failed / signature not valid, 2 bad arguments.
int run_rulepack_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

// The installed default pack: <prefix>/share/csdc-kiosk/default-rulepack.toml beside the program's
// bin/ folder, else the install prefix chosen at build time, else the build tree's copy.
std::filesystem::path default_rule_pack_path();

}  // namespace kiosk::ctl
