// `kioskctl evidence export`: the inspector's export of stored evidence packages from head office
// (REQ-44). Signs in on the gateway's console listener, searches, downloads each archive, extracts it
// strictly, fetches the uploading device's certificate, verifies each package as `kioskctl evidence
// verify` does, and writes DIR/export.json and DIR/README.txt for offline checking.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace kiosk::ctl {

// `args` are the words after "evidence" (args[0] is "export"); `in` gives the password when no
// --password-file is named. Exit status: 0 every package found was exported and is valid, 1 the
// export failed or a package is invalid (export.json says which), 2 wrong usage.
int run_evidence_export(const std::vector<std::string>& args, std::FILE* in, std::FILE* out, std::FILE* err);

// The help text (also shown by `kioskctl evidence --help`).
extern const char* const kEvidenceExportHelp;

}  // namespace kiosk::ctl
