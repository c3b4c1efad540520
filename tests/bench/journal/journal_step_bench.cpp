// Step-commit benchmark: latency p50/p99 and commits per second of a realistic step (one 16 KiB
// evidence file written atomically + the SQL commit), against anchors measured in the same run on
// the same disk: write(4 KiB) + fsync of one file, and a bare SQLite insert with WAL +
// synchronous=FULL. It prints figures and ratios; it never asserts a time.
//
// Usage: journal_step_bench --work-dir DIR [--commits N]
#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/journal/journal.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Figures {
  double p50_ms = 0;
  double p99_ms = 0;
  double per_second = 0;
};

// Runs `one` n times; a false return stops the run and marks it failed.
bool measure(int n, const std::function<bool()>& one, Figures& figures) {
  std::vector<double> latencies;
  latencies.reserve(static_cast<std::size_t>(n));
  const auto started = Clock::now();
  for (int i = 0; i < n; ++i) {
    const auto before = Clock::now();
    if (!one()) return false;
    latencies.push_back(std::chrono::duration<double, std::milli>(Clock::now() - before).count());
  }
  const double total_s = std::chrono::duration<double>(Clock::now() - started).count();
  std::sort(latencies.begin(), latencies.end());
  const auto at = [&](double q) {
    return latencies[std::min(latencies.size() - 1,
                              static_cast<std::size_t>(q * static_cast<double>(latencies.size())))];
  };
  figures = Figures{at(0.50), at(0.99), static_cast<double>(n) / total_s};
  return true;
}

void print(const char* name, const Figures& f) {
  std::printf("  %-46s p50 %7.3f ms  p99 %7.3f ms  %8.1f /s\n", name, f.p50_ms, f.p99_ms, f.per_second);
}

}  // namespace

int main(int argc, char** argv) {
  fs::path work_dir;
  int commits = 300;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--work-dir" && i + 1 < argc) {
      work_dir = argv[++i];
    } else if (arg == "--commits" && i + 1 < argc) {
      commits = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: journal_step_bench --work-dir DIR [--commits N]\n");
      return 2;
    }
  }
  if (work_dir.empty() || commits < 10) {
    std::fprintf(stderr, "journal_step_bench: --work-dir is required and --commits must be at least 10\n");
    return 2;
  }
  std::error_code ignored;
  fs::remove_all(work_dir, ignored);
  fs::create_directories(work_dir);

  // Anchor 1: the cost of one durable write on this disk.
  Figures fsync_anchor;
  {
    const int fd = ::open((work_dir / "anchor.bin").c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    std::array<char, 4096> block{};
    const bool ok =
        fd >= 0 && measure(
                       commits,
                       [&] {
                         return ::write(fd, block.data(), block.size()) == static_cast<ssize_t>(block.size()) &&
                                ::fsync(fd) == 0;
                       },
                       fsync_anchor);
    if (fd >= 0) ::close(fd);
    if (!ok) {
      std::fprintf(stderr, "journal_step_bench: the write+fsync anchor failed\n");
      return 1;
    }
  }

  // Anchor 2: one row per SQL transaction with WAL + synchronous=FULL, nothing else.
  Figures sqlite_anchor;
  {
    sqlite3* db = nullptr;
    const bool opened = sqlite3_open((work_dir / "anchor.sqlite").c_str(), &db) == SQLITE_OK &&
                        sqlite3_exec(db,
                                     "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; "
                                     "CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL);",
                                     nullptr, nullptr, nullptr) == SQLITE_OK;
    const bool ok =
        opened &&
        measure(
            commits,
            [&] {
              return sqlite3_exec(db,
                                  "INSERT INTO t (payload) VALUES ('a step row of ordinary size, about eighty bytes')",
                                  nullptr, nullptr, nullptr) == SQLITE_OK;
            },
            sqlite_anchor);
    sqlite3_close(db);
    if (!ok) {
      std::fprintf(stderr, "journal_step_bench: the SQLite anchor failed\n");
      return 1;
    }
  }

  // The journal: one 16 KiB evidence file per step, ten steps per transaction.
  Figures step_figures;
  {
    kiosk::SystemClock clock;
    kiosk::journal::JournalOptions options;
    options.database = work_dir / "journal.sqlite";
    options.evidence_dir = work_dir / "evidence";
    options.clock = &clock;
    auto journal = kiosk::journal::Journal::open(options);
    if (!journal) {
      std::fprintf(stderr, "journal_step_bench: %s\n", journal.error().to_string().c_str());
      return 1;
    }
    std::vector<std::uint8_t> evidence_bytes(16 * 1024);
    std::mt19937 random(7);
    for (auto& byte : evidence_bytes) byte = static_cast<std::uint8_t>(random());
    const kiosk::journal::TransactionHeader header{kiosk::Operation::apply,
                                                   kiosk::Channel::counter,
                                                   kiosk::InvestorType::natural,
                                                   kiosk::Medium::hard,
                                                   "KIOSK-BENCH",
                                                   "2026.11-r1",
                                                   "terms-v3"};
    kiosk::journal::TxId tx = 0;
    int steps_in_tx = 0;
    std::string error;
    const bool ok = measure(
        commits,
        [&] {
          if (steps_in_tx == 0) {
            auto opened = journal->open_transaction(header);
            if (!opened) {
              error = opened.error().to_string();
              return false;
            }
            tx = *opened;
          }
          const auto now = clock.now();
          const kiosk::journal::StepRecord step{
              kiosk::StepId::form_capture, "S1001", kiosk::StaffRole::operator_, now, now, "ok"};
          const std::array evidence{kiosk::journal::EvidenceInput::from_bytes("form_image", evidence_bytes)};
          auto stored = journal->commit_step(tx, step, evidence);
          if (!stored) {
            error = stored.error().to_string();
            return false;
          }
          if (++steps_in_tx == 10) {
            steps_in_tx = 0;
            if (auto closed = journal->close_transaction(tx, kiosk::TxState::completed, "DONE"); !closed) {
              error = closed.error().to_string();
              return false;
            }
          }
          return true;
        },
        step_figures);
    if (!ok) {
      std::fprintf(stderr, "journal_step_bench: %s\n", error.c_str());
      return 1;
    }
  }

  std::printf("journal step-commit benchmark, %d commits each, work dir on the disk under test\n", commits);
  print("anchor: write(4 KiB) + fsync, one file", fsync_anchor);
  print("anchor: SQLite insert, WAL + synchronous=FULL", sqlite_anchor);
  print("journal commit_step, one 16 KiB evidence file", step_figures);
  std::printf("  ratio step/fsync-anchor:  p50 %.2fx  p99 %.2fx\n", step_figures.p50_ms / fsync_anchor.p50_ms,
              step_figures.p99_ms / fsync_anchor.p99_ms);
  std::printf("  ratio step/sqlite-anchor: p50 %.2fx  p99 %.2fx\n", step_figures.p50_ms / sqlite_anchor.p50_ms,
              step_figures.p99_ms / sqlite_anchor.p99_ms);
  fs::remove_all(work_dir, ignored);
  return 0;
}
