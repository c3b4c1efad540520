// Power cuts below SQLite (issue 6 item 2): the outbox runs on CrashVfs through a scripted sequence
// (enqueue, progress, failure, uploaded, receipted, legal hold, purge), the power is cut after each
// acknowledged operation and in the middle of every write/sync/truncate, then the outbox is
// reopened on what was durable and recovered. No acknowledged transition may be lost, no package
// may be in two states, nothing may be purged that was not receipted (or that was held). The same
// script with synchronous=OFF loses acknowledged transitions, which shows that the test can fail.
#include <gtest/gtest.h>

#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kiosk/core/log.hpp"
#include "sync/outbox/outbox.hpp"
#include "tests/support/crash_vfs.hpp"
#include "tests/unit/outbox/outbox_test_support.hpp"

namespace kiosk::outbox {
namespace {

using namespace std::chrono_literals;
using kiosk::testing::CrashVfs;
using testing::allowed_after_crash;
using testing::make_package;
using testing::TempStateDir;

const std::vector<std::uint8_t> kReceipt{'s', 'i', 'g', 'n', 'e', 'd'};
constexpr auto kRetention = std::chrono::seconds{3600};

struct Cut {
  std::optional<std::uint64_t> after_operations;  // in the middle of whatever runs then
  std::optional<int> after_acknowledged;          // right after the n-th scripted call returned
  double keep_probability = 0.0;                  // > 0: some unsynced writes survive, in any order
  std::uint64_t seed = 1;
};

// What the script was told, per transaction id.
struct Acknowledged {
  PackageState state = PackageState::sealed;
  std::uint64_t server_offset = 0;
  int attempts = 0;
  bool legal_hold = false;
};

struct Outcome {
  std::set<std::string> attempted;  // transactions an enqueue was at least started for
  std::map<std::string, Acknowledged> acknowledged;
  int calls_acknowledged = 0;
  std::uint64_t discarded = 0;
  std::uint64_t operations = 0;
  std::string reopen_error;
  std::vector<std::string> broken;  // invariant violations found after the reopen
  std::size_t lost = 0;             // acknowledged transitions not found
};

// One scripted call: which transaction it acts on and what it does. Returns the new acknowledged
// view of that transaction.
struct Call {
  int package;
  std::function<Result<Acknowledged>(Outbox&, std::map<int, EntryId>&, ManualClock&, Acknowledged)> run;
};

std::string tx_of(int package) { return "KIOSK-0001-" + std::to_string(package); }

Result<Acknowledged> state_of(const Result<OutboxEntry>& entry, Acknowledged seen) {
  if (!entry) return std::unexpected(entry.error());
  seen.state = entry->state;
  seen.server_offset = entry->server_offset;
  seen.attempts = entry->attempts;
  seen.legal_hold = entry->legal_hold;
  return seen;
}

std::vector<Call> script(const std::filesystem::path& outbox_dir) {
  const auto enqueue = [outbox_dir](int n) {
    return Call{n, [outbox_dir, n](Outbox& o, std::map<int, EntryId>& ids, ManualClock& clock, Acknowledged seen) {
                  auto queued = o.enqueue(make_package(outbox_dir, n), clock.now());
                  if (!queued) return Result<Acknowledged>(std::unexpected(queued.error()));
                  ids[n] = queued->entry.id;
                  return state_of(queued->entry, seen);
                }};
  };
  const auto on = [](int n, std::function<Result<OutboxEntry>(Outbox&, EntryId, ManualClock&)> act) {
    return Call{n, [n, act](Outbox& o, std::map<int, EntryId>& ids, ManualClock& clock, Acknowledged seen) {
                  return state_of(act(o, ids.at(n), clock), seen);
                }};
  };
  const auto start = [](Outbox& o, EntryId id, ManualClock&) { return o.start_upload(id); };
  const auto uploaded = [](Outbox& o, EntryId id, ManualClock& c) { return o.mark_uploaded(id, c.now()); };
  const auto receipted = [](Outbox& o, EntryId id, ManualClock& c) { return o.mark_receipted(id, kReceipt, c.now()); };
  const auto purge = [](int n) {
    return Call{n, [n](Outbox& o, std::map<int, EntryId>& ids, ManualClock& clock, Acknowledged seen) {
                  clock.advance(kRetention + 1s);
                  auto purged =
                      o.purge_due(clock.now(), kRetention, [](const PurgedPackage&) { return Result<void>{}; });
                  if (!purged) return Result<Acknowledged>(std::unexpected(purged.error()));
                  return state_of(o.entry(ids.at(n)), seen);
                }};
  };
  return {
      enqueue(1),
      enqueue(2),
      enqueue(1),  // the idempotent second enqueue of a transaction
      on(1, start),
      on(1, [](Outbox& o, EntryId id, ManualClock&) { return o.record_progress(id, 1000); }),
      on(1, [](Outbox& o, EntryId id, ManualClock& c) { return o.record_failure(id, "NET_RESET", c.now()); }),
      on(1, start),
      on(1, [](Outbox& o, EntryId id, ManualClock&) { return o.record_progress(id, 4096); }),
      on(1, uploaded),
      on(1, receipted),
      on(2, start),
      on(2, uploaded),
      on(2, receipted),
      on(2, [](Outbox& o, EntryId, ManualClock&) { return o.set_legal_hold(tx_of(2), true); }),
      enqueue(3),
      purge(1),  // purges package 1; package 2 is held, package 3 has no receipt
      on(3, start),
  };
}

void check_after_reopen(Outbox& outbox, Outcome& outcome) {
  if (auto intact = outbox.check_integrity(); !intact) {
    outcome.reopen_error = intact.error().to_string();
    return;
  }
  auto report = outbox.recover();
  if (!report) {
    outcome.reopen_error = report.error().to_string();
    return;
  }
  if (!report->missing_files.empty()) outcome.broken.push_back("files missing for " + report->missing_files[0]);
  auto entries = outbox.entries();
  if (!entries) {
    outcome.reopen_error = entries.error().to_string();
    return;
  }
  std::map<std::string, const OutboxEntry*> by_tx;
  for (const auto& entry : *entries) {
    const std::string& tx = entry.package.transaction_id;
    if (by_tx.contains(tx)) outcome.broken.push_back(tx + " has two rows");
    by_tx[tx] = &entry;
    if (!outcome.attempted.contains(tx)) outcome.broken.push_back(tx + " was never queued");
    const bool local_copy_kept = entry.state <= PackageState::receipted;
    if (local_copy_kept != std::filesystem::exists(outbox.package_path(entry)) &&
        entry.state != PackageState::purgeable) {
      outcome.broken.push_back(tx + " is " + std::string(to_string(entry.state)) + " but its files disagree");
    }
    if (entry.state >= PackageState::receipted && entry.receipt != kReceipt) {
      outcome.broken.push_back(tx + " lost its receipt");
    }
    const auto acknowledged = outcome.acknowledged.find(tx);
    if (acknowledged == outcome.acknowledged.end()) {
      // Only an enqueue in flight at the cut: it may have committed, as sealed.
      if (entry.state != PackageState::sealed) outcome.broken.push_back(tx + " moved without acknowledgement");
      continue;
    }
    const Acknowledged& told = acknowledged->second;
    if (!allowed_after_crash(told.state).contains(entry.state)) {
      ++outcome.lost;
      outcome.broken.push_back(tx + " was acknowledged " + std::string(to_string(told.state)) + " but is " +
                               std::string(to_string(entry.state)));
    }
    if (entry.server_offset < told.server_offset || entry.attempts < told.attempts) {
      ++outcome.lost;
      outcome.broken.push_back(tx + " lost acknowledged progress or a failure");
    }
    if (told.legal_hold && !entry.legal_hold) {
      ++outcome.lost;
      outcome.broken.push_back(tx + " lost its legal hold");
    }
    if (entry.legal_hold && entry.state >= PackageState::purgeable) outcome.broken.push_back(tx + " purged while held");
  }
  for (const auto& [tx, told] : outcome.acknowledged) {
    if (!by_tx.contains(tx)) {
      ++outcome.lost;
      outcome.broken.push_back("acknowledged " + tx + " is gone");
    }
  }
}

// Runs the script on CrashVfs until the cut, then reopens with the default VFS and checks.
Outcome run_scenario(const TempStateDir& dir, Durability durability, const Cut& cut) {
  Outcome outcome;
  ManualClock clock;
  OutboxOptions options;
  options.state_dir = dir.path();
  options.durability = durability;
  options.sqlite_vfs = CrashVfs::kName;
  options.random = [] { return std::uint64_t{12345}; };
  const auto calls = script(dir.path() / "outbox");
  CrashVfs::reset();
  if (cut.after_operations) {
    CrashVfs::arm_cut_after_operations(*cut.after_operations, cut.keep_probability, cut.seed);
  }
  {
    auto outbox = Outbox::open(options);
    std::map<int, EntryId> ids;
    for (std::size_t i = 0; outbox && i < calls.size() && !CrashVfs::power_is_cut(); ++i) {
      const std::string tx = tx_of(calls[i].package);
      outcome.attempted.insert(tx);
      const Acknowledged before = outcome.acknowledged.contains(tx) ? outcome.acknowledged[tx] : Acknowledged{};
      auto done = calls[i].run(*outbox, ids, clock, before);
      if (!done) break;
      outcome.acknowledged[tx] = *done;
      ++outcome.calls_acknowledged;
      if (cut.after_acknowledged && *cut.after_acknowledged == outcome.calls_acknowledged) {
        CrashVfs::power_cut(cut.keep_probability, cut.seed);
      }
    }
    if (!CrashVfs::power_is_cut()) CrashVfs::power_cut(cut.keep_probability, cut.seed);
    outcome.discarded = CrashVfs::discarded_at_last_cut();
    outcome.operations = CrashVfs::operations();
  }  // the dead connection closes here
  CrashVfs::reset();

  options.sqlite_vfs.clear();
  options.durability = Durability::full;
  auto reopened = Outbox::open(options);
  if (!reopened) {
    outcome.reopen_error = reopened.error().to_string();
    return outcome;
  }
  check_after_reopen(*reopened, outcome);
  return outcome;
}

std::string first_problem(const Outcome& outcome) { return outcome.broken.empty() ? "" : outcome.broken.front(); }

struct OutboxPowerCutTest : ::testing::Test {
  void SetUp() override {
    log::set_min_level(log::Level::error);
    ASSERT_TRUE(CrashVfs::install());
  }
  static std::uint64_t operations_of_a_whole_run() {
    TempStateDir dir;
    return run_scenario(dir, Durability::full, Cut{}).operations;
  }
};

TEST_F(OutboxPowerCutTest, AnUninterruptedRunEndsWhereTheScriptSays) {
  TempStateDir dir;
  const Outcome outcome = run_scenario(dir, Durability::full, Cut{});
  ASSERT_EQ(outcome.reopen_error, "");
  EXPECT_EQ(first_problem(outcome), "");
  EXPECT_EQ(outcome.calls_acknowledged, static_cast<int>(script(dir.path()).size()));
  EXPECT_EQ(outcome.acknowledged.at(tx_of(1)).state, PackageState::purged);
  EXPECT_EQ(outcome.acknowledged.at(tx_of(2)).state, PackageState::receipted);
  EXPECT_EQ(outcome.acknowledged.at(tx_of(3)).state, PackageState::uploading);
}

TEST_F(OutboxPowerCutTest, EveryAcknowledgedTransitionSurvivesACutAfterIt) {
  TempStateDir probe;
  const int calls = static_cast<int>(script(probe.path()).size());
  for (int after = 1; after <= calls; ++after) {
    TempStateDir dir;
    const Outcome outcome = run_scenario(dir, Durability::full, Cut{std::nullopt, after, 0.0, 1});
    ASSERT_EQ(outcome.reopen_error, "") << "cut after call " << after;
    EXPECT_EQ(outcome.calls_acknowledged, after);
    EXPECT_EQ(first_problem(outcome), "") << "cut after call " << after;
  }
}

TEST_F(OutboxPowerCutTest, EveryAcknowledgedTransitionSurvivesACutInTheMiddleOfAnyOperation) {
  const std::uint64_t total = operations_of_a_whole_run();
  ASSERT_GT(total, 17U);
  std::uint64_t cuts_with_discarded_writes = 0;
  for (std::uint64_t at = 1; at <= total; ++at) {
    TempStateDir dir;
    const Outcome outcome = run_scenario(dir, Durability::full, Cut{at, std::nullopt, 0.0, at});
    ASSERT_EQ(outcome.reopen_error, "") << "cut at operation " << at;
    EXPECT_EQ(first_problem(outcome), "") << "cut at operation " << at;
    if (outcome.discarded > 0) ++cuts_with_discarded_writes;
  }
  std::printf("outbox mid-operation cuts: %llu cut points, %llu with unsynced writes discarded\n",
              static_cast<unsigned long long>(total), static_cast<unsigned long long>(cuts_with_discarded_writes));
  // The cuts really threw writes away; otherwise this test would prove nothing.
  EXPECT_GT(cuts_with_discarded_writes, total / 4);
}

TEST_F(OutboxPowerCutTest, EveryAcknowledgedTransitionSurvivesWhenARandomSubsetOfUnsyncedWritesLands) {
  const std::uint64_t total = operations_of_a_whole_run();
  std::uint64_t scenarios = 0;
  for (std::uint64_t at = 1; at <= total; at += 3) {
    for (std::uint64_t seed = 1; seed <= 2; ++seed) {
      TempStateDir dir;
      const Outcome outcome = run_scenario(dir, Durability::full, Cut{at, std::nullopt, 0.5, at * 10 + seed});
      ++scenarios;
      ASSERT_EQ(outcome.reopen_error, "") << "cut at operation " << at << " seed " << seed;
      EXPECT_EQ(first_problem(outcome), "") << "cut at operation " << at << " seed " << seed;
    }
  }
  std::printf("outbox random-subset cuts: %llu scenarios\n", static_cast<unsigned long long>(scenarios));
}

TEST_F(OutboxPowerCutTest, WithSynchronousOffTheSameCutsLoseAcknowledgedTransitions) {
  TempStateDir probe;
  const int calls = static_cast<int>(script(probe.path()).size());
  std::size_t lost = 0;
  for (int after = 1; after <= calls; ++after) {
    TempStateDir dir;
    const Outcome outcome = run_scenario(dir, Durability::unsafe_sync_off, Cut{std::nullopt, after, 0.0, 1});
    lost += outcome.lost;
  }
  std::printf("outbox synchronous=OFF: %zu acknowledged transitions lost over %d cuts\n", lost, calls);
  EXPECT_GT(lost, 0U);
}

}  // namespace
}  // namespace kiosk::outbox
