// Crash harness for the outbox (issue 6 item 2): starts outbox_crash_worker, kills it with SIGKILL
// after a random delay, reopens the outbox, runs recover() and checks the invariants:
//   - every acknowledged transition is still there (the state acknowledged, or one step on when
//     the kill came between COMMIT and the acknowledgement; uploading reads as sealed after
//     recover()), with no acknowledged progress, failure count or legal hold lost;
//   - one row per transaction, none that was never queued;
//   - files kept for every package up to receipted, gone for every purged one, never missing;
//   - nothing purgeable or purged without a receipt, nothing purged while on legal hold, and
//     every purged package reported to the audit sink before its files went;
//   - the database passes its integrity check and no package stays uploading.
// Exit 0 when every round held, 1 on the first broken invariant, 2 on wrong usage.
//
// Usage: outbox_crash_harness --worker PATH --work-dir DIR [--kills N] [--max-delay-ms MS]
//                              [--kills-per-outbox N] [--seed S]
// The environment variable OUTBOX_CRASH_KILLS, when set, replaces --kills (soak runs).
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kiosk/core/log.hpp"
#include "sync/outbox/outbox.hpp"
#include "tests/unit/outbox/outbox_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using kiosk::outbox::PackageState;

struct Seen {
  PackageState state = PackageState::sealed;
  std::uint64_t server_offset = 0;
  int attempts = 0;
  bool legal_hold = false;
};

struct Settings {
  std::string worker;
  fs::path work_dir;
  int kills = 200;
  int max_delay_ms = 40;
  int kills_per_outbox = 100;  // a fresh outbox every this many kills keeps each check short
  std::uint64_t seed = 20261125;
};

struct Totals {
  std::size_t acknowledged = 0;
  std::size_t rounds_with_ack = 0;
  std::size_t returned_to_sealed = 0;
  std::size_t purged = 0;
};

struct WorkerOutput {
  std::vector<std::pair<std::string, Seen>> acks;  // in order
  std::set<std::string> audited;
};

std::pair<pid_t, int> start_worker(const Settings& settings, std::uint64_t seed) {
  int fds[2];
  if (::pipe(fds) != 0) return {-1, -1};
  const std::string state_dir = settings.work_dir.string();
  const std::string seed_text = std::to_string(seed);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    std::vector<char*> argv{const_cast<char*>(settings.worker.c_str()), const_cast<char*>(state_dir.c_str()),
                            const_cast<char*>(seed_text.c_str()), nullptr};
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  return {pid, fds[0]};
}

WorkerOutput read_output(int fd) {
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t got = ::read(fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    text.append(buffer, static_cast<std::size_t>(got));
  }
  ::close(fd);
  WorkerOutput output;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (lines.eof()) break;  // a line cut by the kill has no newline: it was never fully said
    std::istringstream fields(line);
    std::string word;
    std::string tx;
    fields >> word >> tx;
    if (word == "audit") {
      output.audited.insert(tx);
      continue;
    }
    std::string state;
    Seen seen;
    int hold = 0;
    if (word == "ack" && fields >> state >> seen.server_offset >> seen.attempts >> hold) {
      const auto parsed = kiosk::outbox::parse_package_state(state);
      if (!parsed) continue;
      seen.state = *parsed;
      seen.legal_hold = hold != 0;
      output.acks.emplace_back(tx, seen);
    }
  }
  return output;
}

int broken(int round, const std::string& what) {
  std::fprintf(stderr, "round %d: INVARIANT BROKEN: %s\n", round, what.c_str());
  return 1;
}

// Checks the recovered outbox against what was acknowledged, then makes what is on disk the new
// baseline: the next worker continues from there.
int check_round(int round, const Settings& settings, std::map<std::string, Seen>& known, std::set<std::string>& queued,
                const std::set<std::string>& audited, Totals& totals) {
  kiosk::outbox::OutboxOptions options;
  options.state_dir = settings.work_dir;
  auto outbox = kiosk::outbox::Outbox::open(options);
  if (!outbox) return broken(round, "reopening: " + outbox.error().to_string());
  auto report = outbox->recover();
  if (!report) return broken(round, "recovery: " + report.error().to_string());
  totals.returned_to_sealed += report->returned_to_sealed.size();
  if (!report->missing_files.empty()) return broken(round, "files missing for " + report->missing_files[0]);
  if (auto intact = outbox->check_integrity(); !intact) return broken(round, intact.error().to_string());
  auto entries = outbox->entries();
  if (!entries) return broken(round, entries.error().to_string());

  std::set<std::string> present;
  for (const auto& entry : *entries) {
    const std::string& tx = entry.package.transaction_id;
    const std::string state(kiosk::outbox::to_string(entry.state));
    if (!present.insert(tx).second) return broken(round, tx + " has two rows");
    if (!queued.contains(tx)) {
      // An enqueue that committed as the kill came: it may be there, sealed and untouched.
      if (entry.state != PackageState::sealed || entry.attempts != 0) {
        return broken(round, tx + " was never acknowledged but is " + state);
      }
    }
    if (entry.state == PackageState::uploading) return broken(round, tx + " is still uploading after recover()");
    const bool has_files = fs::exists(outbox->package_path(entry));
    if (entry.state <= PackageState::receipted && !has_files) return broken(round, tx + " lost its files");
    if (entry.state == PackageState::purged && has_files) return broken(round, tx + " is purged but has files");
    if (entry.state >= PackageState::purgeable && entry.legal_hold) return broken(round, tx + " purged while held");
    if (entry.state == PackageState::purged && !audited.contains(tx)) {
      return broken(round, tx + " was purged without reaching the audit sink");
    }
    if (const auto it = known.find(tx); it != known.end()) {
      const Seen& told = it->second;
      if (!kiosk::outbox::testing::allowed_after_crash(told.state).contains(entry.state)) {
        return broken(
            round, tx + " was acknowledged " + std::string(kiosk::outbox::to_string(told.state)) + " but is " + state);
      }
      if (entry.server_offset < told.server_offset) return broken(round, tx + " lost acknowledged progress");
      if (entry.attempts < told.attempts) return broken(round, tx + " lost an acknowledged failure");
      if (told.legal_hold && !entry.legal_hold) return broken(round, tx + " lost its legal hold");
    }
    if (entry.state == PackageState::purged && known[tx].state != PackageState::purged) ++totals.purged;
    known[tx] = Seen{entry.state, entry.server_offset, entry.attempts, entry.legal_hold};
    queued.insert(tx);
  }
  for (const auto& [tx, told] : known) {
    if (!present.contains(tx)) return broken(round, "acknowledged " + tx + " is gone");
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
    } else if (arg == "--kills-per-outbox" && has_value) {
      settings.kills_per_outbox = std::atoi(argv[++i]);
    } else if (arg == "--seed" && has_value) {
      settings.seed = std::stoull(argv[++i]);
    } else {
      std::fprintf(stderr,
                   "usage: outbox_crash_harness --worker PATH --work-dir DIR [--kills N] [--max-delay-ms MS] "
                   "[--kills-per-outbox N] [--seed S]\n");
      return 2;
    }
  }
  if (const char* soak = std::getenv("OUTBOX_CRASH_KILLS"); soak != nullptr) settings.kills = std::atoi(soak);
  if (settings.worker.empty() || settings.work_dir.empty() || settings.kills <= 0 || settings.max_delay_ms <= 0 ||
      settings.kills_per_outbox <= 0) {
    std::fprintf(stderr, "outbox_crash_harness: --worker, --work-dir and positive counts are required\n");
    return 2;
  }
  kiosk::log::set_min_level(kiosk::log::Level::error);
  std::error_code ignored;
  fs::remove_all(settings.work_dir, ignored);
  fs::create_directories(settings.work_dir);

  std::mt19937_64 random(settings.seed);
  std::map<std::string, Seen> known;
  std::set<std::string> queued;
  std::set<std::string> audited;
  Totals totals;
  const auto started = std::chrono::steady_clock::now();
  for (int round = 1; round <= settings.kills; ++round) {
    if (round > 1 && (round - 1) % settings.kills_per_outbox == 0) {
      fs::remove_all(settings.work_dir, ignored);
      fs::create_directories(settings.work_dir);
      known.clear();
      queued.clear();
      audited.clear();
    }
    const auto [pid, fd] = start_worker(settings, random());
    if (pid < 0) return broken(round, "cannot start the worker");
    const auto delay = std::chrono::microseconds(random() % (static_cast<std::uint64_t>(settings.max_delay_ms) * 1000));
    std::this_thread::sleep_for(delay);
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    const WorkerOutput output = read_output(fd);
    if (!(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
      return broken(round,
                    "the worker ended by itself (status " + std::to_string(status) + ") instead of being killed");
    }
    // Acknowledgements in order: the last one of each transaction is what the worker was told.
    for (const auto& [tx, seen] : output.acks) {
      known[tx] = seen;
      queued.insert(tx);
    }
    audited.insert(output.audited.begin(), output.audited.end());
    totals.acknowledged += output.acks.size();
    if (!output.acks.empty()) ++totals.rounds_with_ack;
    if (int result = check_round(round, settings, known, queued, audited, totals); result != 0) return result;
    if (round % 100 == 0) {
      std::printf("%d of %d kills survived, %zu acknowledged transitions so far\n", round, settings.kills,
                  totals.acknowledged);
      std::fflush(stdout);
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "outbox crash harness: %d SIGKILLs in %.1f s, all invariants held\n"
      "  acknowledged transitions checked: %zu (rounds with at least one: %zu)\n"
      "  interrupted uploads returned to sealed: %zu, packages purged: %zu\n",
      settings.kills, seconds, totals.acknowledged, totals.rounds_with_ack, totals.returned_to_sealed, totals.purged);
  fs::remove_all(settings.work_dir, ignored);
  return 0;
}
