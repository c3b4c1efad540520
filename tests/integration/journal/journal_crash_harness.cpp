// Crash harness (issue 3 item 10): starts journal_crash_worker, kills it with SIGKILL after a
// random delay, reopens the journal, runs recover_on_start() and checks the invariants:
//   - every step the worker acknowledged is in the journal with its evidence rows;
//   - no evidence file without a committed step (and no temp file) after recovery;
//   - no committed step pointing at a missing or altered file;
//   - the schema is intact (integrity_check, foreign keys, version) and no transaction stays open.
// Exit 0 when every round held, 1 on the first broken invariant, 2 on wrong usage.
//
// Usage: journal_crash_harness --worker PATH --work-dir DIR [--kills N] [--max-delay-ms MS]
//                               [--kills-per-journal N] [--seed S]
// The environment variable JOURNAL_CRASH_KILLS, when set, replaces --kills (soak runs).
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "kiosk/core/audit/audit_log.hpp"
#include "kiosk/core/clock.hpp"
#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/journal/journal.hpp"
#include "kiosk/core/log.hpp"

namespace {

namespace fs = std::filesystem;
using kiosk::journal::TxId;

struct Ack {
  TxId tx = 0;
  int sequence = 0;
  std::int64_t step_id = 0;
  std::size_t evidence = 0;
};

struct Settings {
  std::string worker;
  fs::path work_dir;
  int kills = 200;
  int max_delay_ms = 40;
  // Recovery hashes every committed file, so one ever-growing journal makes a long soak quadratic;
  // a fresh journal every this many kills keeps each round's cost bounded.
  int kills_per_journal = 100;
  std::uint64_t seed = 20261124;
};

struct Totals {
  std::size_t acknowledged = 0;
  std::size_t rounds_with_ack = 0;
  std::size_t aborted = 0;
  std::size_t removed_temp = 0;
  std::size_t removed_orphans = 0;
};

// Starts the worker with its stdout on a pipe; returns its pid and the pipe's read end.
std::pair<pid_t, int> start_worker(const Settings& settings, std::uint64_t seed) {
  int fds[2];
  if (::pipe(fds) != 0) return {-1, -1};
  const std::string database = (settings.work_dir / "journal.sqlite").string();
  const std::string evidence = (settings.work_dir / "evidence").string();
  const std::string seed_text = std::to_string(seed);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv{const_cast<char*>(settings.worker.c_str()), const_cast<char*>(database.c_str()),
                            const_cast<char*>(evidence.c_str()), const_cast<char*>(seed_text.c_str()), nullptr};
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

std::vector<Ack> read_acks(int fd) {
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  std::vector<Ack> acks;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (lines.eof()) break;  // a line cut by the kill has no newline: it was never fully said
    std::istringstream fields(line);
    std::string word;
    Ack ack;
    if (fields >> word >> ack.tx >> ack.sequence >> ack.step_id >> ack.evidence && word == "ack") acks.push_back(ack);
  }
  return acks;
}

struct EvidenceRow {
  std::string relative_path;
  std::uint64_t size;
  std::string sha256_hex;
};

// Read straight from the database, independently of the journal's own queries.
std::vector<EvidenceRow> all_evidence_rows(const fs::path& database) {
  std::vector<EvidenceRow> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(database.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT relative_path, size_bytes, sha256 FROM evidence", -1, &statement, nullptr) ==
        SQLITE_OK) {
      while (sqlite3_step(statement) == SQLITE_ROW) {
        rows.push_back(EvidenceRow{reinterpret_cast<const char*>(sqlite3_column_text(statement, 0)),
                                   static_cast<std::uint64_t>(sqlite3_column_int64(statement, 1)),
                                   reinterpret_cast<const char*>(sqlite3_column_text(statement, 2))});
      }
    }
    sqlite3_finalize(statement);
  }
  sqlite3_close(db);
  return rows;
}

int broken(int round, const std::string& what) {
  std::fprintf(stderr, "round %d: INVARIANT BROKEN: %s\n", round, what.c_str());
  return 1;
}

int check_round(int round, const Settings& settings, const std::vector<Ack>& acknowledged, Totals& totals) {
  kiosk::SystemClock clock;
  kiosk::journal::JournalOptions options;
  options.database = settings.work_dir / "journal.sqlite";
  options.evidence_dir = settings.work_dir / "evidence";
  options.clock = &clock;
  auto journal = kiosk::journal::Journal::open(options);
  if (!journal) return broken(round, "reopening: " + journal.error().to_string());
  auto report = journal->recover_on_start("CRASH_TEST_RESTART");
  if (!report) return broken(round, "recovery: " + report.error().to_string());
  totals.aborted += report->aborted.size();
  totals.removed_temp += report->removed_temp_files.size();
  totals.removed_orphans += report->removed_orphan_files.size();
  if (!report->damage.empty()) {
    return broken(round, "recovery found damaged evidence " + report->damage[0].relative_path + " (" +
                             std::string(kiosk::journal::to_string(report->damage[0].kind)) + ")");
  }
  if (auto intact = journal->check_integrity(); !intact) return broken(round, intact.error().to_string());
  if (auto open = journal->open_transactions(); !open || !open->empty()) {
    return broken(round, "a transaction is still open after recovery");
  }

  // No acknowledged step lost.
  std::map<TxId, std::vector<const Ack*>> by_tx;
  for (const Ack& ack : acknowledged) by_tx[ack.tx].push_back(&ack);
  for (const auto& [tx, acks] : by_tx) {
    auto record = journal->transaction(tx);
    if (!record) return broken(round, "acknowledged transaction " + std::to_string(tx) + " is gone");
    for (const Ack* ack : acks) {
      bool found = false;
      for (const auto& step : record->steps) {
        if (step.id == ack->step_id) {
          found = step.sequence == ack->sequence && step.evidence.size() == ack->evidence;
          break;
        }
      }
      if (!found) {
        return broken(round, "acknowledged step " + std::to_string(ack->step_id) + " of transaction " +
                                 std::to_string(tx) + " is missing or changed");
      }
    }
  }

  // Every committed row has its file, unaltered; every file has its row; no temp file is left.
  std::map<std::string, const EvidenceRow*> referenced;
  const auto rows = all_evidence_rows(options.database);
  for (const auto& row : rows) {
    referenced[row.relative_path] = &row;
    auto digest = kiosk::journal::digest_file(options.evidence_dir / row.relative_path);
    if (!digest) return broken(round, "committed evidence " + row.relative_path + " has no file");
    if (digest->size != row.size || digest->sha256_hex != row.sha256_hex) {
      return broken(round, "committed evidence " + row.relative_path + " differs from its recorded hash");
    }
  }
  for (const auto& entry : fs::recursive_directory_iterator(options.evidence_dir)) {
    if (!entry.is_regular_file()) continue;
    const std::string relative = fs::relative(entry.path(), options.evidence_dir).generic_string();
    if (!referenced.contains(relative)) return broken(round, "evidence file " + relative + " has no committed step");
  }

  // The audit log verifies, and every committed evidence file has its audit entry (same SQL
  // transaction as its step): no more, no fewer.
  const kiosk::audit::AuditLog* audit = journal->audit_log();
  if (audit == nullptr) return broken(round, "the journal has no audit log");
  auto verified = audit->verify();
  if (!verified) return broken(round, "audit verification: " + verified.error().to_string());
  if (verified->problem) return broken(round, "audit log broken: " + verified->problem->message);
  auto entries = audit->entries();
  if (!entries) return broken(round, "reading the audit log: " + entries.error().to_string());
  std::size_t evidence_entries = 0;
  for (const auto& entry : *entries) {
    if (entry.action != "evidence_recorded") continue;
    ++evidence_entries;
    if (!referenced.contains(entry.object)) {
      return broken(round, "audit entry " + std::to_string(entry.sequence) + " names evidence with no committed row");
    }
  }
  if (evidence_entries != rows.size()) {
    return broken(round, std::to_string(rows.size()) + " committed evidence files but " +
                             std::to_string(evidence_entries) + " evidence_recorded audit entries");
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Settings settings;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--worker" && has_value) {
      settings.worker = argv[++i];
    } else if (arg == "--work-dir" && has_value) {
      settings.work_dir = argv[++i];
    } else if (arg == "--kills" && has_value) {
      settings.kills = std::atoi(argv[++i]);
    } else if (arg == "--max-delay-ms" && has_value) {
      settings.max_delay_ms = std::atoi(argv[++i]);
    } else if (arg == "--kills-per-journal" && has_value) {
      settings.kills_per_journal = std::atoi(argv[++i]);
    } else if (arg == "--seed" && has_value) {
      settings.seed = std::stoull(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: journal_crash_harness --worker PATH --work-dir DIR [--kills N] [--max-delay-ms MS] "
                   "[--kills-per-journal N] [--seed S]\n");
      return 2;
    }
  }
  if (const char* soak = std::getenv("JOURNAL_CRASH_KILLS"); soak != nullptr) settings.kills = std::atoi(soak);
  if (settings.worker.empty() || settings.work_dir.empty() || settings.kills <= 0 || settings.max_delay_ms <= 0 ||
      settings.kills_per_journal <= 0) {
    std::fprintf(stderr, "journal_crash_harness: --worker, --work-dir and positive counts are required\n");
    return 2;
  }
  kiosk::log::set_min_level(kiosk::log::Level::warn);  // one recovery line per round would drown the report
  std::error_code ignored;
  fs::remove_all(settings.work_dir, ignored);
  fs::create_directories(settings.work_dir);

  std::mt19937_64 random(settings.seed);
  std::vector<Ack> acknowledged;
  Totals totals;
  const auto started = std::chrono::steady_clock::now();
  for (int round = 1; round <= settings.kills; ++round) {
    if (round > 1 && (round - 1) % settings.kills_per_journal == 0) {
      fs::remove_all(settings.work_dir, ignored);
      fs::create_directories(settings.work_dir);
      acknowledged.clear();
    }
    const auto [pid, fd] = start_worker(settings, random());
    if (pid < 0) return broken(round, "cannot start the worker");
    const auto delay = std::chrono::microseconds(random() % (static_cast<std::uint64_t>(settings.max_delay_ms) * 1000));
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const auto acks = read_acks(fd);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
      return broken(round,
                    "the worker ended by itself (status " + std::to_string(status) + ") instead of being killed");
    }
    acknowledged.insert(acknowledged.end(), acks.begin(), acks.end());
    totals.acknowledged += acks.size();
    if (!acks.empty()) ++totals.rounds_with_ack;
    if (int result = check_round(round, settings, acknowledged, totals); result != 0) return result;
    if (round % 100 == 0) {
      std::printf("%d of %d kills survived, %zu acknowledged steps so far\n", round, settings.kills,
                  totals.acknowledged);
      std::fflush(stdout);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "journal crash harness: %d SIGKILLs in %.1f s, all invariants held\n"
      "  acknowledged steps checked: %zu (rounds with at least one: %zu)\n"
      "  open transactions aborted by recovery: %zu\n"
      "  temp files removed: %zu, renamed-but-uncommitted files removed: %zu\n",
      settings.kills, seconds, totals.acknowledged, totals.rounds_with_ack, totals.aborted, totals.removed_temp,
      totals.removed_orphans);
  fs::remove_all(settings.work_dir, ignored);
  return 0;
}
