// Drives outbox packages through their states until it is killed: resumes whatever is due
// (including packages an earlier, killed worker left), otherwise seals a new package; uploads it
// with progress, sometimes fails once, marks it uploaded and receipted, sometimes puts it on legal
// hold, and purges what is receipted. After each call returns it prints
//   "ack TX STATE OFFSET ATTEMPTS HOLD"
// and the audit sink prints "audit TX" before a package's files go, so the harness knows what was
// acknowledged and what was audited.
//
// Usage: outbox_crash_worker STATE_DIR SEED
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/log.hpp"
#include "sync/outbox/outbox.hpp"

namespace {

using namespace std::chrono_literals;
using kiosk::outbox::OutboxEntry;

// Unbuffered, so a line is in the pipe the moment the call has returned.
void say(const std::string& line) {
  std::size_t done = 0;
  while (done < line.size()) {
    const ssize_t written = ::write(STDOUT_FILENO, line.data() + done, line.size() - done);
    if (written <= 0) return;
    done += static_cast<std::size_t>(written);
  }
}

void ack(const OutboxEntry& entry) {
  say("ack " + entry.package.transaction_id + " " + std::string(kiosk::outbox::to_string(entry.state)) + " " +
      std::to_string(entry.server_offset) + " " + std::to_string(entry.attempts) + " " +
      (entry.legal_hold ? "1" : "0") + "\n");
}

[[noreturn]] void die(const kiosk::Error& error) {
  std::fprintf(stderr, "worker: %s\n", error.to_string().c_str());
  std::exit(1);
}

template <class T>
T must(kiosk::Result<T> result) {
  if (!result) die(result.error());
  return std::move(*result);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: outbox_crash_worker STATE_DIR SEED\n");
    return 2;
  }
  kiosk::log::set_min_level(kiosk::log::Level::error);
  const std::string seed_text = argv[2];
  std::mt19937_64 random(std::stoull(seed_text));
  kiosk::SystemClock clock;
  kiosk::outbox::OutboxOptions options;
  options.state_dir = argv[1];
  options.backoff = kiosk::outbox::BackoffPolicy{1ms, 4ms};
  auto outbox = must(kiosk::outbox::Outbox::open(options));
  must(outbox.recover());
  const kiosk::outbox::AuditSink audit = [](const kiosk::outbox::PurgedPackage& purged) -> kiosk::Result<void> {
    say("audit " + purged.transaction_id + "\n");
    return {};
  };
  const std::vector<std::uint8_t> receipt{'r', 'c', 'p', 't'};
  for (int made = 0;; ++made) {
    auto due = must(outbox.next_due(clock.now()));
    OutboxEntry entry;
    if (due) {
      entry = std::move(*due);
    } else {
      const std::string name = "w" + seed_text.substr(0, 12) + "-" + std::to_string(made);
      kiosk::outbox::PackageRef package{name, "P" + name, "T" + name, 1000 + random() % 100'000, std::string(64, 'e')};
      std::filesystem::create_directories(outbox.directory() / name);
      std::ofstream(outbox.directory() / name / "manifest.json") << "{\"package\":\"" << name << "\"}";
      entry = must(outbox.enqueue(package, clock.now())).entry;
      ack(entry);
    }
    ack(entry = must(outbox.start_upload(entry.id)));
    ack(entry = must(outbox.record_progress(entry.id, entry.package.size_bytes / 2)));
    if (random() % 4 == 0) {
      ack(must(outbox.record_failure(entry.id, "NET_RESET", clock.now())));
      continue;  // retried when due, maybe by the next worker
    }
    ack(entry = must(outbox.mark_uploaded(entry.id, clock.now())));
    ack(entry = must(outbox.mark_receipted(entry.id, receipt, clock.now())));
    if (random() % 5 == 0) ack(must(outbox.set_legal_hold(entry.package.transaction_id, true)));
    for (const auto& purged : must(outbox.purge_due(clock.now(), 0s, audit))) {
      auto row = must(outbox.find_by_transaction(purged.transaction_id));
      if (row) ack(*row);
    }
  }
}
