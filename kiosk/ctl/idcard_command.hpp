// `kioskctl idcard ...`: read a card or query the SAM through the real driver, for field engineers
// checking a reader (issue 4 item 8). It prints the card's personal data on the engineer's own
// terminal, never into a log.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "hal/idcard/reader.hpp"

namespace kiosk::ctl {

// `args` are the words after "idcard". Exit status: 0 done, 1 the reader or the card failed (the
// message names the completion and the code), 2 wrong usage.
int run_idcard_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

// The JSON object `idcard read --json` prints (exposed for tests).
std::string card_read_json(const hal::idcard::CardRead& card);

}  // namespace kiosk::ctl
