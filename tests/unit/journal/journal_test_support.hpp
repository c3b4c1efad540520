// Shared by the journal tests: a fresh directory per test and a journal opened on it.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/journal/journal.hpp"

namespace kiosk::journal::testing {

class ScratchDir {
 public:
  ScratchDir() {
    std::random_device seed;
    path_ = std::filesystem::temp_directory_path() /
            ("kiosk-journal-test-" + std::to_string(seed()) + "-" + std::to_string(seed()));
    std::filesystem::create_directories(path_);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::vector<std::uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

inline std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline TransactionHeader sample_header() {
  return TransactionHeader{Operation::apply, Channel::witness, InvestorType::natural, Medium::hard,
                           "KIOSK-0001",     "2026.11-r1",     "sha256-terms-v3"};
}

inline StepRecord sample_step(StepId id, const ManualClock& clock) {
  return StepRecord{id, "S1001", StaffRole::witness, clock.now(), clock.now() + std::chrono::seconds{3}, "ok"};
}

struct JournalFixture : ::testing::Test {
  ScratchDir dir;
  ManualClock clock;

  JournalOptions options() const {
    JournalOptions result;
    result.database = dir.path() / "journal.sqlite";
    result.evidence_dir = dir.path() / "evidence";
    result.clock = &clock;
    return result;
  }

  Journal open_journal() const {
    auto journal = Journal::open(options());
    if (!journal) ADD_FAILURE() << journal.error().to_string();
    return std::move(journal).value();  // throws, failing the test, when the open failed
  }
};

}  // namespace kiosk::journal::testing
