// Runs scripted transactions against a journal until it is killed: open, 3 to 6 steps with 1 to 3
// evidence files of a few KiB each, close. After each commit_step() returns it prints
// "ack TX SEQUENCE STEP_ROW_ID EVIDENCE_COUNT" on stdout, so the harness knows what was acknowledged.
//
// Usage: journal_crash_worker DATABASE EVIDENCE_DIR SEED
#include <unistd.h>

#include <array>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/journal/journal.hpp"

namespace {

using kiosk::journal::EvidenceInput;

constexpr std::array kSteps{kiosk::StepId::consent,        kiosk::StepId::terms,        kiosk::StepId::idv,
                            kiosk::StepId::identity_check, kiosk::StepId::form_capture, kiosk::StepId::review};

// Unbuffered, so a line is in the pipe the moment the step is acknowledged.
void say(const std::string& line) {
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t written = ::write(STDOUT_FILENO, line.data() + done, line.size() - done);
    if (written <= 0) return;
    done += static_cast<std::size_t>(written);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: journal_crash_worker DATABASE EVIDENCE_DIR SEED\n");
    return 2;
  }
  kiosk::SystemClock clock;
  kiosk::journal::JournalOptions options;
  options.database = argv[1];
  options.evidence_dir = argv[2];
  options.clock = &clock;
  auto journal = kiosk::journal::Journal::open(options);
  if (!journal) {
    std::fprintf(stderr, "worker: %s\n", journal.error().to_string().c_str());
    return 1;
  }
  std::mt19937_64 random(std::stoull(argv[3]));
  const kiosk::journal::TransactionHeader header{kiosk::Operation::apply,
                                                 kiosk::Channel::witness,
                                                 kiosk::InvestorType::natural,
                                                 kiosk::Medium::hard,
                                                 "KIOSK-CRASH",
                                                 "2026.11-r1",
                                                 "terms-v3"};
  for (;;) {
    auto tx = journal->open_transaction(header);
    if (!tx) {
      std::fprintf(stderr, "worker: %s\n", tx.error().to_string().c_str());
      return 1;
    }
    const int step_count = 3 + static_cast<int>(random() % 4);
    for (int s = 0; s < step_count; ++s) {
      const std::size_t file_count = 1 + random() % 3;
      std::vector<std::vector<std::uint8_t>> contents(file_count);
      std::vector<EvidenceInput> evidence;
      for (std::size_t f = 0; f < file_count; ++f) {
        contents[f].resize(1024 + random() % (6 * 1024));
        for (auto& byte : contents[f]) byte = static_cast<std::uint8_t>(random());
        evidence.push_back(EvidenceInput::from_bytes("item" + std::to_string(f), contents[f]));
      }
      const auto now = clock.now();
      const kiosk::journal::StepRecord step{
          kSteps[static_cast<std::size_t>(s) % kSteps.size()], "S1001", kiosk::StaffRole::operator_, now, now, "ok"};
      auto stored = journal->commit_step(*tx, step, evidence);
      if (!stored) {
        std::fprintf(stderr, "worker: %s\n", stored.error().to_string().c_str());
        return 1;
      }
      say("ack " + std::to_string(*tx) + " " + std::to_string(stored->sequence) + " " + std::to_string(stored->id) +
          " " + std::to_string(stored->evidence.size()) + "\n");
    }
    if (auto closed = journal->close_transaction(*tx, kiosk::TxState::completed, "DONE"); !closed) {
      std::fprintf(stderr, "worker: %s\n", closed.error().to_string().c_str());
      return 1;
    }
  }
}
