// `kioskctl journal ...`: read-only inspection of the kiosk's journal for compliance staff and
// engineers (issue 3 item 9). Never writes to the journal.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace kiosk::ctl {

inline constexpr const char* kDefaultJournalFile = "/var/lib/kiosk/journal.sqlite";

// `args` are the words after "journal". Exit status: 0 shown, 1 unknown transaction or unreadable
// journal, 2 wrong usage.
int run_journal_command(const std::vector<std::string>& args, std::FILE* out, std::FILE* err);

}  // namespace kiosk::ctl
