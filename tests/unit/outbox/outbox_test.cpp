// The outbox's states, transitions, idempotent enqueue, backoff bounds, purge rules and recovery.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "kiosk/core/log.hpp"
#include "sync/outbox/outbox.hpp"
#include "tests/unit/outbox/outbox_test_support.hpp"

namespace kiosk::outbox {
namespace {

using namespace std::chrono_literals;
using testing::make_package;
using testing::TempStateDir;

const std::vector<std::uint8_t> kReceipt{'r', 'e', 'c', 'e', 'i', 'p', 't'};

struct OutboxTest : ::testing::Test {
  TempStateDir state;
  ManualClock clock;
  std::vector<PurgedPackage> audited;
  AuditSink sink = [this](const PurgedPackage& purged) -> Result<void> {
    audited.push_back(purged);
    return {};
  };

  static void SetUpTestSuite() { log::set_min_level(log::Level::error); }

  OutboxOptions options() const {
    OutboxOptions result;
    result.state_dir = state.path();
    result.backoff = BackoffPolicy{1000ms, 60'000ms};
    return result;
  }

  Outbox open(const OutboxOptions& with) const {
    auto outbox = Outbox::open(with);
    if (!outbox) ADD_FAILURE() << outbox.error().to_string();
    return std::move(outbox).value();
  }
  Outbox open() const { return open(options()); }

  OutboxEntry queue(Outbox& outbox, int n) {
    auto queued = outbox.enqueue(make_package(outbox.directory(), n), clock.now());
    EXPECT_TRUE(queued) << queued.error().to_string();
    EXPECT_TRUE(queued->newly_queued);
    return queued->entry;
  }

  // A fresh package driven to `target` along the legal path.
  OutboxEntry in_state(Outbox& outbox, int n, PackageState target) {
    OutboxEntry entry = queue(outbox, n);
    const auto step = [&](Result<OutboxEntry> moved) {
      EXPECT_TRUE(moved) << moved.error().to_string();
      entry = *moved;
    };
    if (target >= PackageState::uploading) step(outbox.start_upload(entry.id));
    if (target >= PackageState::uploaded) step(outbox.mark_uploaded(entry.id, clock.now()));
    if (target >= PackageState::receipted) step(outbox.mark_receipted(entry.id, kReceipt, clock.now()));
    if (target >= PackageState::purgeable) {
      // purge_due moves receipted -> purgeable -> purged; a sink that refuses stops it in between.
      const AuditSink refuse = [](const PurgedPackage&) -> Result<void> { return fail("AUDIT_DOWN", "test"); };
      const AuditSink& use = target == PackageState::purgeable ? refuse : sink;
      auto purged = outbox.purge_due(clock.now(), 0s, use);
      EXPECT_EQ(purged.has_value(), target == PackageState::purged);
      auto reloaded = outbox.entry(entry.id);
      EXPECT_TRUE(reloaded);
      entry = *reloaded;
    }
    EXPECT_EQ(entry.state, target);
    return entry;
  }
};

TEST_F(OutboxTest, OpenCreatesTheDatabaseBesideThePackages) {
  Outbox outbox = open();
  EXPECT_EQ(outbox.directory(), state.path() / "outbox");
  EXPECT_TRUE(std::filesystem::exists(state.path() / "outbox" / "outbox.sqlite"));
  EXPECT_TRUE(outbox.check_integrity()) << outbox.check_integrity().error().to_string();
}

TEST_F(OutboxTest, EnqueueStoresASealedPackage) {
  Outbox outbox = open();
  const OutboxEntry entry = queue(outbox, 1);
  EXPECT_EQ(entry.state, PackageState::sealed);
  EXPECT_EQ(entry.package.package_id, "P1");
  EXPECT_EQ(entry.package.transaction_id, "KIOSK-0001-1");
  EXPECT_EQ(entry.package.size_bytes, 4096U);
  EXPECT_EQ(entry.sealed_at, clock.now());
  EXPECT_EQ(entry.attempts, 0);
  EXPECT_EQ(entry.server_offset, 0U);
  EXPECT_FALSE(entry.next_attempt_at);
  EXPECT_FALSE(entry.legal_hold);
  EXPECT_EQ(outbox.package_path(entry), outbox.directory() / "pkg-1");
}

TEST_F(OutboxTest, EnqueueIsIdempotentPerTransaction) {
  Outbox outbox = open();
  const OutboxEntry first = queue(outbox, 1);
  auto again = outbox.enqueue(first.package, clock.now() + 5s);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_FALSE(again->newly_queued);
  EXPECT_EQ(again->entry.id, first.id);
  EXPECT_EQ(again->entry.sealed_at, first.sealed_at);

  // A re-seal after a crash produces another package for the same transaction: not queued.
  PackageRef resealed = make_package(outbox.directory(), 2);
  resealed.transaction_id = first.package.transaction_id;
  auto second = outbox.enqueue(resealed, clock.now());
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_FALSE(second->newly_queued);
  EXPECT_EQ(second->entry.package.package_id, "P1");
  ASSERT_EQ(outbox.entries()->size(), 1U);
}

TEST_F(OutboxTest, EnqueueRefusesAPackageIdOrDirectoryQueuedForAnotherTransaction) {
  Outbox outbox = open();
  const OutboxEntry first = queue(outbox, 1);
  PackageRef same_id = make_package(outbox.directory(), 2);
  same_id.package_id = first.package.package_id;
  auto refused = outbox.enqueue(same_id, clock.now());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "OUTBOX_DUPLICATE_PACKAGE");
  PackageRef same_dir = make_package(outbox.directory(), 3);
  same_dir.directory_name = first.package.directory_name;
  refused = outbox.enqueue(same_dir, clock.now());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "OUTBOX_DUPLICATE_PACKAGE");
}

TEST_F(OutboxTest, EnqueueRefusesBadReferencesAndMissingDirectories) {
  Outbox outbox = open();
  const PackageRef good = make_package(outbox.directory(), 1);
  const std::vector<std::function<void(PackageRef&)>> breakages{
      [](PackageRef& p) { p.directory_name = "../escape"; },
      [](PackageRef& p) { p.directory_name = ".."; },
      [](PackageRef& p) { p.directory_name = ".hidden"; },
      [](PackageRef& p) { p.directory_name = "outbox.sqlite-wal"; },
      [](PackageRef& p) { p.directory_name = ""; },
      [](PackageRef& p) { p.package_id = "P 1"; },
      [](PackageRef& p) { p.transaction_id = std::string(65, 'T'); },
      [](PackageRef& p) { p.manifest_sha256 = std::string(64, 'A'); },
      [](PackageRef& p) { p.manifest_sha256 = "abc"; },
  };
  for (std::size_t i = 0; i < breakages.size(); ++i) {
    PackageRef bad = good;
    breakages[i](bad);
    auto refused = outbox.enqueue(bad, clock.now());
    ASSERT_FALSE(refused) << "breakage " << i;
    EXPECT_EQ(refused.error().code, "OUTBOX_BAD_PACKAGE") << "breakage " << i;
  }
  PackageRef absent = good;
  absent.directory_name = "never-written";
  auto refused = outbox.enqueue(absent, clock.now());
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "OUTBOX_PACKAGE_MISSING");
  EXPECT_TRUE(outbox.entries()->empty());
}

TEST_F(OutboxTest, TheLegalPathVisitsEveryStateAndRecordsEachStep) {
  Outbox outbox = open();
  OutboxEntry entry = queue(outbox, 1);
  auto uploading = outbox.start_upload(entry.id);
  ASSERT_TRUE(uploading) << uploading.error().to_string();
  EXPECT_EQ(uploading->state, PackageState::uploading);
  auto progressed = outbox.record_progress(entry.id, 1000);
  ASSERT_TRUE(progressed);
  EXPECT_EQ(progressed->server_offset, 1000U);
  EXPECT_EQ(progressed->state, PackageState::uploading);
  clock.advance(2s);
  auto uploaded = outbox.mark_uploaded(entry.id, clock.now());
  ASSERT_TRUE(uploaded);
  EXPECT_EQ(uploaded->state, PackageState::uploaded);
  EXPECT_EQ(uploaded->server_offset, 4096U);
  EXPECT_EQ(uploaded->uploaded_at, clock.now());
  clock.advance(1s);
  auto receipted = outbox.mark_receipted(entry.id, kReceipt, clock.now());
  ASSERT_TRUE(receipted);
  EXPECT_EQ(receipted->state, PackageState::receipted);
  EXPECT_EQ(receipted->receipt, kReceipt);
  EXPECT_EQ(receipted->receipted_at, clock.now());
  clock.advance(10s);
  auto purged = outbox.purge_due(clock.now(), 10s, sink);
  ASSERT_TRUE(purged) << purged.error().to_string();
  ASSERT_EQ(purged->size(), 1U);
  auto final_entry = outbox.entry(entry.id);
  ASSERT_TRUE(final_entry);
  EXPECT_EQ(final_entry->state, PackageState::purged);
  EXPECT_EQ(final_entry->purged_at, clock.now());
  EXPECT_EQ(final_entry->receipt, kReceipt);  // the row and its receipt stay
  EXPECT_TRUE(outbox.check_integrity());
}

TEST_F(OutboxTest, EveryIllegalTransitionIsRefusedAndChangesNothing) {
  Outbox outbox = open();
  using Operation = std::function<Result<OutboxEntry>(Outbox&, EntryId)>;
  struct Case {
    const char* name;
    Operation run;
    PackageState legal_from;
  };
  const TimePoint now = clock.now();
  const std::vector<Case> operations{
      {"start_upload", [](Outbox& o, EntryId id) { return o.start_upload(id); }, PackageState::sealed},
      {"record_progress", [](Outbox& o, EntryId id) { return o.record_progress(id, 1); }, PackageState::uploading},
      {"record_failure", [now](Outbox& o, EntryId id) { return o.record_failure(id, "NET_DOWN", now); },
       PackageState::uploading},
      {"mark_uploaded", [now](Outbox& o, EntryId id) { return o.mark_uploaded(id, now); }, PackageState::uploading},
      {"mark_receipted", [now](Outbox& o, EntryId id) { return o.mark_receipted(id, kReceipt, now); },
       PackageState::uploaded},
  };
  int n = 0;
  int refusals = 0;
  for (std::size_t s = 0; s < kPackageStateCount; ++s) {
    const auto from = static_cast<PackageState>(s);
    const OutboxEntry entry = in_state(outbox, ++n, from);
    for (const Case& operation : operations) {
      if (operation.legal_from == from) continue;
      auto refused = operation.run(outbox, entry.id);
      ASSERT_FALSE(refused) << operation.name << " from " << to_string(from);
      EXPECT_EQ(refused.error().code, "OUTBOX_ILLEGAL_TRANSITION") << operation.name << " from " << to_string(from);
      auto unchanged = outbox.entry(entry.id);
      ASSERT_TRUE(unchanged);
      EXPECT_EQ(unchanged->state, from);
      EXPECT_EQ(unchanged->attempts, entry.attempts);
      EXPECT_EQ(unchanged->server_offset, entry.server_offset);
      ++refusals;
    }
  }
  EXPECT_EQ(refusals, 6 * 5 - 5);
  auto unknown = outbox.start_upload(9999);
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().code, "OUTBOX_UNKNOWN_PACKAGE");
}

TEST_F(OutboxTest, ProgressBeyondThePackageIsRefused) {
  Outbox outbox = open();
  const OutboxEntry entry = in_state(outbox, 1, PackageState::uploading);
  auto refused = outbox.record_progress(entry.id, 4097);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "OUTBOX_BAD_OFFSET");
  EXPECT_TRUE(outbox.record_progress(entry.id, 4096));
}

TEST_F(OutboxTest, ReceiptsMustBeNonEmptyAndBounded) {
  Outbox outbox = open();
  const OutboxEntry entry = in_state(outbox, 1, PackageState::uploaded);
  EXPECT_EQ(outbox.mark_receipted(entry.id, {}, clock.now()).error().code, "OUTBOX_BAD_RECEIPT");
  const std::vector<std::uint8_t> huge(kMaxReceiptBytes + 1, 1);
  EXPECT_EQ(outbox.mark_receipted(entry.id, huge, clock.now()).error().code, "OUTBOX_BAD_RECEIPT");
  EXPECT_EQ(outbox.entry(entry.id)->state, PackageState::uploaded);
}

TEST_F(OutboxTest, AFailureSchedulesAJitteredRetryAndNextDueWaitsForIt) {
  OutboxOptions with = options();
  std::uint64_t next_random = 0;
  with.random = [&next_random] { return next_random; };
  Outbox outbox = open(with);
  const OutboxEntry entry = in_state(outbox, 1, PackageState::uploading);
  ASSERT_TRUE(outbox.record_progress(entry.id, 512));
  next_random = 700;  // first failure: bound min(60 s, 1 s * 2^0) = 1000 ms, delay 700 % 1001
  auto failed = outbox.record_failure(entry.id, "NET_RESET", clock.now());
  ASSERT_TRUE(failed) << failed.error().to_string();
  EXPECT_EQ(failed->state, PackageState::sealed);
  EXPECT_EQ(failed->attempts, 1);
  EXPECT_EQ(failed->last_error_code, "NET_RESET");
  EXPECT_EQ(failed->server_offset, 512U);  // resume from here
  ASSERT_TRUE(failed->next_attempt_at);
  EXPECT_EQ(*failed->next_attempt_at, clock.now() + 700ms);
  EXPECT_EQ(outbox.next_wake()->value(), clock.now() + 700ms);

  EXPECT_FALSE(outbox.next_due(clock.now() + 699ms)->has_value());
  auto due = outbox.next_due(clock.now() + 700ms);
  ASSERT_TRUE(due && due->has_value());
  EXPECT_EQ((*due)->id, entry.id);

  // Second failure: bound 2000 ms; 5000 % 2001 = 998.
  ASSERT_TRUE(outbox.start_upload(entry.id));
  next_random = 5000;
  failed = outbox.record_failure(entry.id, "HTTP_503", clock.now());
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->attempts, 2);
  EXPECT_EQ(*failed->next_attempt_at, clock.now() + 998ms);
  EXPECT_EQ(outbox.record_failure(entry.id, "bad code!", clock.now()).error().code, "OUTBOX_BAD_CODE");
}

TEST_F(OutboxTest, NextDueTakesTheOldestDuePackageFirst) {
  Outbox outbox = open();
  EXPECT_FALSE(outbox.next_due(clock.now())->has_value());
  EXPECT_FALSE(outbox.next_wake()->has_value());
  const OutboxEntry first = queue(outbox, 1);
  clock.advance(1s);
  const OutboxEntry second = queue(outbox, 2);
  clock.advance(1s);
  const OutboxEntry third = queue(outbox, 3);
  EXPECT_EQ(outbox.next_due(clock.now())->value().id, first.id);
  // The oldest fails and waits; the next oldest goes first meanwhile.
  ASSERT_TRUE(outbox.start_upload(first.id));
  ASSERT_TRUE(outbox.record_failure(first.id, "NET_RESET", clock.now() + 1h));
  EXPECT_EQ(outbox.next_due(clock.now())->value().id, second.id);
  ASSERT_TRUE(outbox.start_upload(second.id));
  EXPECT_EQ(outbox.next_due(clock.now())->value().id, third.id);  // uploading is not due
  EXPECT_EQ(outbox.next_due(clock.now() + 2h)->value().id, first.id);
}

TEST(OutboxBackoff, TheBoundDoublesUpToTheCap) {
  const BackoffPolicy policy{1000ms, 60'000ms};
  EXPECT_EQ(backoff_bound(policy, 0), 1000ms);
  EXPECT_EQ(backoff_bound(policy, 1), 2000ms);
  EXPECT_EQ(backoff_bound(policy, 5), 32'000ms);
  EXPECT_EQ(backoff_bound(policy, 6), 60'000ms);
  EXPECT_EQ(backoff_bound(policy, 1000), 60'000ms);
  EXPECT_EQ(backoff_bound(policy, std::numeric_limits<int>::max()), 60'000ms);
  const BackoffPolicy huge{std::chrono::milliseconds{std::numeric_limits<std::int64_t>::max() / 3},
                           std::chrono::milliseconds{std::numeric_limits<std::int64_t>::max()}};
  EXPECT_EQ(backoff_bound(huge, 100), huge.cap);  // saturates, no overflow
}

TEST(OutboxBackoff, TheJitteredDelayStaysWithinZeroAndTheBound) {
  const BackoffPolicy policy{250ms, 30'000ms};
  std::mt19937_64 random(42);
  for (int attempts = 0; attempts <= 70; ++attempts) {
    const auto bound = std::min<std::int64_t>(30'000, attempts < 20 ? 250LL << attempts : 30'000);
    std::int64_t smallest = std::numeric_limits<std::int64_t>::max();
    std::int64_t largest = 0;
    for (int i = 0; i < 2000; ++i) {
      const auto delay = backoff_delay(policy, attempts, random()).count();
      ASSERT_GE(delay, 0) << attempts;
      ASSERT_LE(delay, bound) << attempts;
      smallest = std::min(smallest, delay);
      largest = std::max(largest, delay);
    }
    // Full jitter spreads over the whole range, not just near the bound.
    EXPECT_LT(smallest, bound / 10) << attempts;
    EXPECT_GT(largest, bound * 9 / 10) << attempts;
  }
  EXPECT_EQ(backoff_delay(policy, 0, std::numeric_limits<std::uint64_t>::max()).count() <= 250, true);
  EXPECT_EQ(backoff_delay(policy, 0, 250), 250ms);
  EXPECT_EQ(backoff_delay(policy, 0, 251), 0ms);
}

TEST_F(OutboxTest, OpenRefusesABackoffWithoutAPositiveBaseOrWithACapBelowIt) {
  OutboxOptions with = options();
  with.backoff = BackoffPolicy{0ms, 1000ms};
  EXPECT_EQ(Outbox::open(with).error().code, "OUTBOX_BAD_OPTIONS");
  with.backoff = BackoffPolicy{2000ms, 1000ms};
  EXPECT_EQ(Outbox::open(with).error().code, "OUTBOX_BAD_OPTIONS");
}

TEST_F(OutboxTest, PurgeNeverTouchesAPackageWithoutAReceipt) {
  Outbox outbox = open();
  const OutboxEntry sealed = in_state(outbox, 1, PackageState::sealed);
  const OutboxEntry uploading = in_state(outbox, 2, PackageState::uploading);
  const OutboxEntry uploaded = in_state(outbox, 3, PackageState::uploaded);
  clock.advance(std::chrono::hours{24 * 365 * 30});
  auto purged = outbox.purge_due(clock.now(), 0s, sink);
  ASSERT_TRUE(purged) << purged.error().to_string();
  EXPECT_TRUE(purged->empty());
  EXPECT_TRUE(audited.empty());
  for (const OutboxEntry& entry : {sealed, uploading, uploaded}) {
    EXPECT_EQ(outbox.entry(entry.id)->state, entry.state);
    EXPECT_TRUE(std::filesystem::exists(outbox.package_path(entry) / "manifest.json"));
  }
}

TEST_F(OutboxTest, PurgeWaitsForTheRetentionAfterTheReceipt) {
  Outbox outbox = open();
  const OutboxEntry entry = in_state(outbox, 1, PackageState::receipted);
  const auto retention = std::chrono::seconds{90 * 24 * 3600};
  clock.advance(retention - 1s);
  auto purged = outbox.purge_due(clock.now(), retention, sink);
  ASSERT_TRUE(purged);
  EXPECT_TRUE(purged->empty());
  EXPECT_EQ(outbox.entry(entry.id)->state, PackageState::receipted);
  EXPECT_TRUE(std::filesystem::exists(outbox.package_path(entry)));
  clock.advance(1s);
  purged = outbox.purge_due(clock.now(), retention, sink);
  ASSERT_TRUE(purged);
  ASSERT_EQ(purged->size(), 1U);
  EXPECT_EQ(outbox.entry(entry.id)->state, PackageState::purged);
}

TEST_F(OutboxTest, LegalHoldBlocksPurgeUntilReleased) {
  Outbox outbox = open();
  const OutboxEntry held = in_state(outbox, 1, PackageState::receipted);
  const OutboxEntry free = in_state(outbox, 2, PackageState::receipted);
  auto hold = outbox.set_legal_hold(held.package.transaction_id, true);
  ASSERT_TRUE(hold) << hold.error().to_string();
  EXPECT_TRUE(hold->legal_hold);
  clock.advance(1h);
  auto purged = outbox.purge_due(clock.now(), 0s, sink);
  ASSERT_TRUE(purged);
  ASSERT_EQ(purged->size(), 1U);
  EXPECT_EQ((*purged)[0].package_id, free.package.package_id);
  EXPECT_EQ(outbox.entry(held.id)->state, PackageState::receipted);
  EXPECT_TRUE(std::filesystem::exists(outbox.package_path(held) / "manifest.json"));
  EXPECT_EQ(outbox.stats(clock.now())->legal_holds, 1U);

  ASSERT_TRUE(outbox.set_legal_hold(held.package.transaction_id, false));
  purged = outbox.purge_due(clock.now(), 0s, sink);
  ASSERT_TRUE(purged);
  ASSERT_EQ(purged->size(), 1U);
  EXPECT_FALSE(std::filesystem::exists(outbox.package_path(held)));
  EXPECT_EQ(outbox.set_legal_hold("NO-SUCH-TX", true).error().code, "OUTBOX_UNKNOWN_PACKAGE");
}

TEST_F(OutboxTest, PurgeDeletesTheFilesKeepsTheRowAndReportsToTheAuditSink) {
  Outbox outbox = open();
  const OutboxEntry entry = in_state(outbox, 1, PackageState::receipted);
  const TimePoint receipted_at = *entry.receipted_at;
  clock.advance(30s);
  auto purged = outbox.purge_due(clock.now(), 30s, sink);
  ASSERT_TRUE(purged) << purged.error().to_string();
  ASSERT_EQ(purged->size(), 1U);
  EXPECT_EQ((*purged)[0].package_id, "P1");
  EXPECT_EQ((*purged)[0].transaction_id, "KIOSK-0001-1");
  EXPECT_EQ((*purged)[0].size_bytes, 4096U);
  EXPECT_EQ((*purged)[0].receipted_at, receipted_at);
  EXPECT_EQ((*purged)[0].purged_at, clock.now());
  ASSERT_EQ(audited.size(), 1U);
  EXPECT_EQ(audited[0].package_id, "P1");
  EXPECT_FALSE(std::filesystem::exists(outbox.package_path(entry)));
  const auto row = outbox.entry(entry.id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->state, PackageState::purged);
  EXPECT_EQ(row->package.manifest_sha256, entry.package.manifest_sha256);
  // Purging again finds nothing and reports nothing.
  purged = outbox.purge_due(clock.now(), 0s, sink);
  ASSERT_TRUE(purged);
  EXPECT_TRUE(purged->empty());
  EXPECT_EQ(audited.size(), 1U);
}

TEST_F(OutboxTest, AFailingAuditSinkKeepsTheFilesAndALaterPurgeFinishes) {
  Outbox outbox = open();
  const OutboxEntry entry = in_state(outbox, 1, PackageState::purgeable);  // the sink refused
  EXPECT_TRUE(std::filesystem::exists(outbox.package_path(entry) / "manifest.json"));
  EXPECT_EQ(outbox.purge_due(clock.now(), 0s, {}).error().code, "OUTBOX_NO_AUDIT_SINK");
  auto purged = outbox.purge_due(clock.now(), 0s, sink);
  ASSERT_TRUE(purged);
  ASSERT_EQ(purged->size(), 1U);
  EXPECT_EQ(audited.size(), 1U);
  EXPECT_EQ(outbox.entry(entry.id)->state, PackageState::purged);
  EXPECT_FALSE(std::filesystem::exists(outbox.package_path(entry)));
}

TEST_F(OutboxTest, RecoverReturnsInterruptedUploadsAndReportsMissingFilesWithoutDeletingRows) {
  Outbox outbox = open();
  const OutboxEntry interrupted = in_state(outbox, 1, PackageState::uploading);
  ASSERT_TRUE(outbox.record_progress(interrupted.id, 2048));
  const OutboxEntry lost = in_state(outbox, 2, PackageState::uploaded);
  const OutboxEntry gone = in_state(outbox, 3, PackageState::purged);
  std::filesystem::remove_all(outbox.package_path(lost));

  Outbox reopened = open();
  auto report = reopened.recover();
  ASSERT_TRUE(report) << report.error().to_string();
  EXPECT_EQ(report->returned_to_sealed, std::vector<std::string>{"P1"});
  EXPECT_EQ(report->missing_files, std::vector<std::string>{"P2"});  // the purged one is not missing
  const auto resumed = reopened.entry(interrupted.id);
  EXPECT_EQ(resumed->state, PackageState::sealed);
  EXPECT_EQ(resumed->server_offset, 2048U);
  EXPECT_EQ(reopened.entry(lost.id)->state, PackageState::uploaded);
  EXPECT_EQ(reopened.entry(gone.id)->state, PackageState::purged);
  EXPECT_EQ(reopened.entries()->size(), 3U);
}

TEST_F(OutboxTest, StatsCountStatesAndPendingBytes) {
  Outbox outbox = open();
  in_state(outbox, 1, PackageState::sealed);  // the oldest unsent one
  clock.advance(10s);
  const OutboxEntry uploading = in_state(outbox, 2, PackageState::uploading);
  ASSERT_TRUE(outbox.record_progress(uploading.id, 1000));
  in_state(outbox, 3, PackageState::uploaded);
  in_state(outbox, 4, PackageState::purged);  // before the receipted one, which its purge would take
  in_state(outbox, 5, PackageState::receipted);
  clock.advance(50s);
  auto stats = outbox.stats(clock.now());
  ASSERT_TRUE(stats) << stats.error().to_string();
  EXPECT_EQ(stats->count(PackageState::sealed), 1U);
  EXPECT_EQ(stats->count(PackageState::uploading), 1U);
  EXPECT_EQ(stats->count(PackageState::uploaded), 1U);
  EXPECT_EQ(stats->count(PackageState::receipted), 1U);
  EXPECT_EQ(stats->count(PackageState::purgeable), 0U);
  EXPECT_EQ(stats->count(PackageState::purged), 1U);
  EXPECT_EQ(stats->oldest_unsent_age, 60s);
  EXPECT_EQ(stats->bytes_pending, 4096U + (4096U - 1000U));
  EXPECT_EQ(stats->legal_holds, 0U);
}

TEST_F(OutboxTest, EverythingSurvivesCloseAndReopen) {
  {
    Outbox outbox = open();
    in_state(outbox, 1, PackageState::receipted);
    ASSERT_TRUE(outbox.set_legal_hold("KIOSK-0001-1", true));
  }
  Outbox reopened = open();
  const auto entry = reopened.find_by_transaction("KIOSK-0001-1");
  ASSERT_TRUE(entry && entry->has_value());
  EXPECT_EQ((*entry)->state, PackageState::receipted);
  EXPECT_EQ((*entry)->receipt, kReceipt);
  EXPECT_TRUE((*entry)->legal_hold);
  EXPECT_TRUE(reopened.check_integrity());
}

TEST_F(OutboxTest, ANewerSchemaIsRefused) {
  { Outbox outbox = open(); }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((state.path() / "outbox" / "outbox.sqlite").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  EXPECT_EQ(Outbox::open(options()).error().code, "OUTBOX_SCHEMA_TOO_NEW");
}

TEST(OutboxStates, NamesRoundTripAndTheForwardPathIsLinear) {
  for (std::size_t i = 0; i < kPackageStateCount; ++i) {
    const auto state = static_cast<PackageState>(i);
    EXPECT_EQ(parse_package_state(to_string(state)), state);
  }
  EXPECT_FALSE(parse_package_state("lost"));
  EXPECT_EQ(forward_state(PackageState::sealed), PackageState::uploading);
  EXPECT_EQ(forward_state(PackageState::receipted), PackageState::purgeable);
  EXPECT_FALSE(forward_state(PackageState::purged));
}

}  // namespace
}  // namespace kiosk::outbox
