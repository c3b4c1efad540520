// The upload worker's decisions with a fake head office and an injected clock: when a package is
// receipted (only with a receipt that names exactly this device, package, transaction, manifest and
// archive), that a rejected package is never deleted, that purge waits for receipt + retention and
// respects a legal hold, backoff after a failed upload, restart with an unreceipted package, the
// status published to the session and to upload-status.json, and the thread's wake/stop.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "kiosk/app/evidence_upload_worker.hpp"
#include "kiosk/core/audit/audit_log.hpp"
#include "kiosk/core/kiosk_session.hpp"
#include "kiosk/core/log.hpp"
#include "sync/package/package_archive.hpp"

namespace kiosk::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using outbox::PackageState;
using sync::package::Receipt;

constexpr std::string_view kDevice = "SIM-0101";

class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "kiosk-upload-worker-XXXXXX").string();
    if (::mkdtemp(pattern.data()) != nullptr) root_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    if (!root_.empty()) fs::remove_all(root_, ignored);
  }
  [[nodiscard]] const fs::path& path() const { return root_; }

 private:
  fs::path root_;
};

// What the fake gateway answers, and what it was asked.
struct FakeGateway {
  std::deque<Result<sync::UploadOutcome>> upload_results;  // empty: success
  std::vector<std::uint64_t> progress_offsets;             // reported during each upload
  std::function<void()> during_upload;  // runs after the progress reports (a test stops the worker here)
  std::map<std::string, std::deque<sync::HttpResponse>> answers;  // per path; the last one repeats
  std::vector<std::string> uploads;                               // package ids
  std::vector<std::string> gets;                                  // paths
};

class FakeLink final : public EvidenceLink {
 public:
  explicit FakeLink(FakeGateway& gateway) : gateway_(gateway) {}
  Result<sync::UploadOutcome> upload(const sync::UploadSource& source,
                                     const std::function<void(const sync::UploadProgress&)>& on_progress,
                                     const std::function<bool()>& cancelled) override {
    gateway_.uploads.push_back(source.package_id);
    EXPECT_TRUE(fs::is_directory(source.package_dir)) << source.package_dir;
    for (const auto offset : gateway_.progress_offsets) {
      on_progress(sync::UploadProgress{.offset = offset, .length = 10'000, .bytes_per_second = 1234.0});
    }
    if (gateway_.during_upload) gateway_.during_upload();
    if (cancelled()) return fail("UPLOAD_CANCELLED", "cancelled");
    if (!gateway_.upload_results.empty()) {
      auto result = gateway_.upload_results.front();
      gateway_.upload_results.pop_front();
      if (!result) return result;
    }
    return sync::UploadOutcome{.location = "/v1/device/uploads/x",
                               .archive_sha256 = archive_sha_of(source.package_id),
                               .archive_size = 10'000,
                               .bytes_sent = 10'000,
                               .bytes_resent = 0,
                               .attempts = 1};
  }
  Result<sync::HttpResponse> get(std::string_view path) override {
    gateway_.gets.emplace_back(path);
    auto found = gateway_.answers.find(std::string(path));
    if (found == gateway_.answers.end() || found->second.empty())
      return sync::HttpResponse{404, R"({"code":"RECEIPT_NOT_FOUND"})"};
    sync::HttpResponse answer = found->second.front();
    if (found->second.size() > 1) found->second.pop_front();
    return answer;
  }
  static std::string archive_sha_of(std::string_view package_id) {
    return std::string(64, package_id.back() == '1' ? 'b' : 'c');
  }

 private:
  FakeGateway& gateway_;
};

// The fake verifier: wire "receipt:<n>" is the n-th receipt of the table; anything else is a bad signature.
struct FakeSigner {
  std::vector<Receipt> receipts;
  std::string wire_for(const Receipt& receipt) {
    receipts.push_back(receipt);
    return "receipt:" + std::to_string(receipts.size() - 1);
  }
  ReceiptVerifier verifier() {
    return [this](std::string_view wire) -> Result<Receipt> {
      if (!wire.starts_with("receipt:")) return fail("RECEIPT_SIGNATURE_INVALID", "bad signature");
      return receipts.at(std::stoul(std::string(wire.substr(8))));
    };
  }
};

struct UploadWorkerTest : ::testing::Test {
  TempDir dir;
  ManualClock clock;
  FakeGateway gateway;
  FakeSigner signer;
  std::vector<EvidenceUploadStatus> statuses;

  static void SetUpTestSuite() { log::set_min_level(log::Level::error); }

  EvidenceUploadWorkerConfig config(std::chrono::seconds retention = std::chrono::days{7}) const {
    EvidenceUploadWorkerConfig c;
    c.device_id = std::string(kDevice);
    c.state_dir = dir.path() / "state";
    c.audit_database = dir.path() / "audit.sqlite";
    c.local_retention = retention;
    c.receipt_poll_delays = {0ms, 0ms};
    c.receipt_retry_min = 30s;
    c.receipt_retry_max = 600s;
    c.rejected_recheck = 3600s;
    c.purge_interval = 600s;
    return c;
  }

  EvidenceUploadRounds open(std::chrono::seconds retention = std::chrono::days{7}) {
    auto rounds =
        EvidenceUploadRounds::open(config(retention), clock, std::make_unique<FakeLink>(gateway), signer.verifier(),
                                   [this](const EvidenceUploadStatus& s) { statuses.push_back(s); });
    EXPECT_TRUE(rounds) << rounds.error().to_string();
    return std::move(rounds).value();
  }

  // A package directory with package file names (so the archive of it can be built) in the outbox.
  outbox::OutboxEntry seal(outbox::Outbox& box, int n) {
    outbox::PackageRef ref{.directory_name = "pkg-" + std::to_string(n),
                           .package_id = "pkg-" + std::to_string(n),
                           .transaction_id = "tx-0000000" + std::to_string(n),
                           .size_bytes = 4096,
                           .manifest_sha256 = std::string(64, 'a' + static_cast<char>(n))};
    const fs::path package_dir = box.directory() / ref.directory_name;
    fs::create_directories(package_dir);
    std::ofstream(package_dir / "manifest.json") << "{\"n\":" << n << "}";
    std::ofstream(package_dir / "manifest.sig") << "sig" << n;
    std::ofstream(package_dir / "keys.json") << "{}";
    auto queued = box.enqueue(ref, clock.now());
    EXPECT_TRUE(queued) << queued.error().to_string();
    return queued->entry;
  }

  Receipt receipt_for(const outbox::OutboxEntry& entry) const {
    Receipt r;
    r.receipt_id = std::string(32, 'e');
    r.device_id = std::string(kDevice);
    r.package_id = entry.package.package_id;
    r.transaction_id = entry.package.transaction_id;
    r.archive_sha256 = FakeLink::archive_sha_of(entry.package.package_id);
    r.archive_size = 10'000;
    r.manifest_sha256 = entry.package.manifest_sha256;
    r.store = "embedded";
    r.received_at = "2026-11-25T03:00:00.000Z";
    r.retain_until = "2046-11-25T03:00:00.000Z";
    return r;
  }

  void answer(const outbox::OutboxEntry& entry, sync::HttpResponse response) {
    gateway.answers["/v1/device/receipts/" + entry.package.package_id].push_back(std::move(response));
  }

  static void round(EvidenceUploadRounds& rounds) {
    rounds.run_round([] { return false; }, [](std::chrono::milliseconds) { return true; });
  }

  static outbox::OutboxEntry reload(EvidenceUploadRounds& rounds, const outbox::OutboxEntry& entry) {
    auto now = rounds.outbox().entry(entry.id);
    EXPECT_TRUE(now) << now.error().to_string();
    return *now;
  }

  std::vector<audit::AuditEntry> audit_entries() const {
    auto log = audit::AuditLog::open(dir.path() / "audit.sqlite", clock);
    EXPECT_TRUE(log);
    auto entries = log->entries();
    EXPECT_TRUE(entries);
    return *entries;
  }

  static nlohmann::json status_file(EvidenceUploadRounds& rounds) {
    std::ifstream in(rounds.status_file());
    std::stringstream text;
    text << in.rdbuf();
    return nlohmann::json::parse(text.str(), nullptr, false);
  }
};

TEST_F(UploadWorkerTest, UploadsVerifiesReceiptAndPurgesOnlyAfterRetention) {
  auto rounds = open(std::chrono::days{7});
  const auto entry = seal(rounds.outbox(), 1);
  gateway.progress_offsets = {4'000, 10'000};
  answer(entry, {200, signer.wire_for(receipt_for(entry))});

  round(rounds);
  auto now = reload(rounds, entry);
  ASSERT_EQ(now.state, PackageState::receipted);
  EXPECT_EQ(std::string(now.receipt.begin(), now.receipt.end()), "receipt:0");  // the wire bytes are kept
  EXPECT_EQ(gateway.uploads, std::vector<std::string>{"pkg-1"});
  // Progress was shown while sending, and the status ends idle with one receipted package.
  bool saw_progress = false;
  for (const auto& s : statuses) saw_progress |= s.current_package == "pkg-1" && s.current_offset == 4'000;
  EXPECT_TRUE(saw_progress);
  ASSERT_FALSE(statuses.empty());
  EXPECT_EQ(statuses.back().receipted, 1U);
  EXPECT_TRUE(statuses.back().current_package.empty());
  const auto file = status_file(rounds);
  ASSERT_TRUE(file.is_object());
  EXPECT_EQ(file["counts"]["receipted"], 1);
  EXPECT_EQ(file["format_version"], kUploadStatusFormatVersion);

  // Within the retention the local copy stays.
  clock.advance(std::chrono::days{7} - 1h);
  round(rounds);
  EXPECT_EQ(reload(rounds, entry).state, PackageState::receipted);
  EXPECT_TRUE(fs::exists(rounds.outbox().package_path(entry)));

  clock.advance(2h);
  round(rounds);
  EXPECT_EQ(reload(rounds, entry).state, PackageState::purged);
  EXPECT_FALSE(fs::exists(rounds.outbox().package_path(entry)));
  const auto audit = audit_entries();
  std::vector<audit::AuditEntry> deletions;
  for (const auto& e : audit) {
    if (e.action == "evidence_deleted") deletions.push_back(e);
  }
  ASSERT_EQ(deletions.size(), 1U);
  EXPECT_EQ(deletions[0].object, "tx-00000001");
  EXPECT_NE(deletions[0].details.find("evidence_purged package pkg-1 bytes 4096"), std::string::npos);
  EXPECT_EQ(deletions[0].kiosk_id, kDevice);
  // The receipt itself was audited too, before the deletion.
  EXPECT_EQ(audit.front().action, "evidence_uploaded");
}

struct MismatchCase {
  const char* field;
  std::function<void(Receipt&)> spoil;
};

class ReceiptFieldMismatch : public UploadWorkerTest, public ::testing::WithParamInterface<int> {};

TEST_P(ReceiptFieldMismatch, LeavesThePackageUploadedAndNeverPurgesIt) {
  static const std::vector<MismatchCase> cases = {
      {"device_id", [](Receipt& r) { r.device_id = "SIM-0999"; }},
      {"package_id", [](Receipt& r) { r.package_id = "pkg-9"; }},
      {"transaction_id", [](Receipt& r) { r.transaction_id = "tx-00000009"; }},
      {"manifest_sha256", [](Receipt& r) { r.manifest_sha256 = std::string(64, 'f'); }},
      {"archive_sha256", [](Receipt& r) { r.archive_sha256 = std::string(64, 'f'); }},
  };
  const auto& c = cases.at(static_cast<std::size_t>(GetParam()));
  auto rounds = open(0s);
  const auto entry = seal(rounds.outbox(), 1);
  Receipt spoiled = receipt_for(entry);
  EXPECT_EQ(
      receipt_mismatch(spoiled, ReceiptExpectation{std::string(kDevice), "pkg-1", "tx-00000001",
                                                   entry.package.manifest_sha256, FakeLink::archive_sha_of("pkg-1")}),
      "");
  c.spoil(spoiled);
  answer(entry, {200, signer.wire_for(spoiled)});
  round(rounds);
  clock.advance(std::chrono::days{30});
  round(rounds);
  const auto now = reload(rounds, entry);
  EXPECT_EQ(now.state, PackageState::uploaded) << c.field;
  EXPECT_TRUE(now.receipt.empty());
  EXPECT_TRUE(fs::exists(rounds.outbox().package_path(entry)));
  EXPECT_EQ(rounds.status().last_error_code, "RECEIPT_MISMATCH");
  EXPECT_EQ(
      receipt_mismatch(spoiled, ReceiptExpectation{std::string(kDevice), "pkg-1", "tx-00000001",
                                                   entry.package.manifest_sha256, FakeLink::archive_sha_of("pkg-1")}),
      c.field);
}

INSTANTIATE_TEST_SUITE_P(EachField, ReceiptFieldMismatch, ::testing::Range(0, 5));

TEST_F(UploadWorkerTest, BadReceiptSignatureIsNotReceipted) {
  auto rounds = open(0s);
  const auto entry = seal(rounds.outbox(), 1);
  answer(entry, {200, "forged"});
  round(rounds);
  EXPECT_EQ(reload(rounds, entry).state, PackageState::uploaded);
  EXPECT_EQ(rounds.status().last_error_code, "RECEIPT_SIGNATURE_INVALID");
}

TEST_F(UploadWorkerTest, RejectedPackageIsKeptForeverAndReported) {
  auto rounds = open(0s);
  const auto entry = seal(rounds.outbox(), 1);
  answer(entry, {422, R"({"code":"PACKAGE_REJECTED","message":"refused","reason":"PACKAGE_SIGNATURE_INVALID"})"});
  round(rounds);
  EXPECT_EQ(reload(rounds, entry).state, PackageState::uploaded);
  EXPECT_EQ(rounds.status().rejected, 1U);
  EXPECT_EQ(rounds.status().last_error_code, "PACKAGE_SIGNATURE_INVALID");
  ASSERT_EQ(rounds.rejected().size(), 1U);
  EXPECT_EQ(rounds.rejected().begin()->second.reason, "PACKAGE_SIGNATURE_INVALID");
  const auto file = status_file(rounds);
  ASSERT_EQ(file["rejected"].size(), 1U);
  EXPECT_EQ(file["rejected"][0]["package_id"], "pkg-1");
  EXPECT_EQ(file["rejected"][0]["reason"], "PACKAGE_SIGNATURE_INVALID");

  // Asked again only after the long recheck interval; never purged, whatever the time.
  const auto gets_after_first = gateway.gets.size();
  clock.advance(10min);
  round(rounds);
  EXPECT_EQ(gateway.gets.size(), gets_after_first);
  for (int day = 0; day < 40; ++day) {
    clock.advance(std::chrono::days{1});
    round(rounds);
  }
  EXPECT_GT(gateway.gets.size(), gets_after_first);
  EXPECT_EQ(reload(rounds, entry).state, PackageState::uploaded);
  EXPECT_TRUE(fs::exists(rounds.outbox().package_path(entry) / "manifest.json"));
  EXPECT_EQ(gateway.uploads.size(), 1U);  // not sent again either
}

TEST_F(UploadWorkerTest, MissingReceiptIsAskedForLaterWithBackoffAndNothingIsPurgedMeanwhile) {
  auto rounds = open(0s);
  const auto entry = seal(rounds.outbox(), 1);
  round(rounds);  // no answer configured: 404
  EXPECT_EQ(reload(rounds, entry).state, PackageState::uploaded);
  const auto gets = gateway.gets.size();
  EXPECT_EQ(gets, 2U);  // the two quick polls after the upload
  EXPECT_LE(rounds.next_work_at(), clock.now() + 30s);
  clock.advance(10s);
  round(rounds);
  EXPECT_EQ(gateway.gets.size(), gets);  // not due yet
  EXPECT_TRUE(fs::exists(rounds.outbox().package_path(entry)));
  answer(entry, {200, signer.wire_for(receipt_for(entry))});
  clock.advance(25s);
  round(rounds);
  EXPECT_EQ(gateway.gets.size(), gets + 1);
  // Retention 0: receipted and purged in the same round.
  EXPECT_EQ(reload(rounds, entry).state, PackageState::purged);
}

TEST_F(UploadWorkerTest, FailedUploadBacksOffAndIsRetried) {
  auto rounds = open();
  const auto entry = seal(rounds.outbox(), 1);
  gateway.upload_results.push_back(fail("GATEWAY_UNREACHABLE", "down"));
  round(rounds);
  auto now = reload(rounds, entry);
  EXPECT_EQ(now.state, PackageState::sealed);
  EXPECT_EQ(now.attempts, 1);
  EXPECT_EQ(now.last_error_code, "GATEWAY_UNREACHABLE");
  EXPECT_EQ(rounds.status().last_error_code, "GATEWAY_UNREACHABLE");
  EXPECT_EQ(gateway.uploads.size(), 1U);  // one try per round: the backoff decides the next
  answer(entry, {200, signer.wire_for(receipt_for(entry))});
  clock.advance(std::chrono::minutes{20});  // beyond any backoff bound after one failure
  round(rounds);
  EXPECT_EQ(gateway.uploads.size(), 2U);
  EXPECT_EQ(reload(rounds, entry).state, PackageState::receipted);
}

TEST_F(UploadWorkerTest, LegalHoldBlocksPurgeUntilReleased) {
  auto rounds = open(0s);
  const auto entry = seal(rounds.outbox(), 1);
  ASSERT_TRUE(rounds.outbox().set_legal_hold(entry.package.transaction_id, true));
  answer(entry, {200, signer.wire_for(receipt_for(entry))});
  round(rounds);
  EXPECT_EQ(reload(rounds, entry).state, PackageState::receipted);
  clock.advance(std::chrono::days{100});
  round(rounds);
  EXPECT_EQ(reload(rounds, entry).state, PackageState::receipted);
  EXPECT_TRUE(fs::exists(rounds.outbox().package_path(entry)));
  ASSERT_TRUE(rounds.outbox().set_legal_hold(entry.package.transaction_id, false));
  clock.advance(std::chrono::minutes{11});  // the next periodic purge
  round(rounds);
  EXPECT_EQ(reload(rounds, entry).state, PackageState::purged);
}

TEST_F(UploadWorkerTest, AfterRestartAnUploadedPackageGetsItsReceiptCheckedAgainstTheLocalArchive) {
  outbox::OutboxEntry entry;
  {
    auto rounds = open(0s);
    entry = seal(rounds.outbox(), 2);
    round(rounds);  // uploaded, no receipt yet
    EXPECT_EQ(reload(rounds, entry).state, PackageState::uploaded);
  }
  // The new run does not know what the uploader sent: the archive is rebuilt from the local copy.
  auto archive = sync::package::PackageArchiveReader::open(dir.path() / "state" / "outbox" / "pkg-2");
  ASSERT_TRUE(archive) << archive.error().to_string();
  Receipt wrong = receipt_for(entry);  // names the fake uploader's hash, not the real archive's
  Receipt right = receipt_for(entry);
  right.archive_sha256 = archive->sha256();
  answer(entry, {200, signer.wire_for(wrong)});
  answer(entry, {200, signer.wire_for(right)});
  auto rounds = open(0s);
  round(rounds);
  EXPECT_EQ(reload(rounds, entry).state, PackageState::uploaded);
  EXPECT_EQ(rounds.status().last_error_code, "RECEIPT_MISMATCH");
  clock.advance(1h);
  round(rounds);
  EXPECT_EQ(reload(rounds, entry).state, PackageState::purged);
  EXPECT_EQ(gateway.uploads.size(), 1U);
}

TEST_F(UploadWorkerTest, CancelledUploadStaysUploadingAndResumesAfterRestart) {
  outbox::OutboxEntry entry;
  {
    auto rounds = open();
    entry = seal(rounds.outbox(), 1);
    gateway.progress_offsets = {5'000};
    bool stopping = false;
    gateway.during_upload = [&stopping] { stopping = true; };
    rounds.run_round([&stopping] { return stopping; }, [](std::chrono::milliseconds) { return false; });
    const auto now = reload(rounds, entry);
    EXPECT_EQ(now.state, PackageState::uploading);
    EXPECT_EQ(now.attempts, 0);            // a stop is not a failure
    EXPECT_EQ(now.server_offset, 2'048U);  // half of the archive -> half of the package's bytes
  }
  gateway.during_upload = nullptr;
  gateway.progress_offsets.clear();
  auto rounds = open();
  EXPECT_EQ(reload(rounds, entry).state, PackageState::sealed);
  answer(entry, {200, signer.wire_for(receipt_for(entry))});
  round(rounds);
  EXPECT_EQ(reload(rounds, entry).state, PackageState::receipted);
}

TEST_F(UploadWorkerTest, SessionKeepsTheLatestStatusAcrossInvestorSessions) {
  ManualClock session_clock;
  KioskSession session(KioskSettings{}, session_clock);
  EXPECT_FALSE(session.state().evidence_upload.has_value());
  EvidenceUploadStatus status;
  status.sealed = 2;
  status.current_package = "pkg-1";
  status.current_offset = 10;
  status.current_length = 20;
  const auto revision = session.state().revision;
  session.handle(event::EvidenceUploadStatus{status});
  ASSERT_TRUE(session.state().evidence_upload.has_value());
  EXPECT_EQ(*session.state().evidence_upload, status);
  EXPECT_GT(session.state().revision, revision);
  session.handle(event::Start{});
  session.handle(event::EndSession{});
  EXPECT_EQ(session.state().evidence_upload, status);
}

TEST_F(UploadWorkerTest, WorkerThreadUploadsOnWakeAndStopsPromptly) {
  std::atomic<int> reports{0};
  auto worker = EvidenceUploadWorker::start(config(0s), clock, std::make_unique<FakeLink>(gateway), signer.verifier(),
                                            [&reports](const EvidenceUploadStatus&) { ++reports; });
  ASSERT_TRUE(worker) << worker.error().to_string();
  (*worker)->wait_for_round();
  // A package sealed through another connection (as the sealer does), then wake().
  outbox::OutboxOptions options;
  options.state_dir = dir.path() / "state";
  auto box = outbox::Outbox::open(options);
  ASSERT_TRUE(box);
  const auto entry = seal(*box, 1);
  answer(entry, {200, signer.wire_for(receipt_for(entry))});
  (*worker)->wake();
  (*worker)->wait_for_round();
  auto now = box->entry(entry.id);
  ASSERT_TRUE(now);
  EXPECT_EQ(now->state, PackageState::purged);
  EXPECT_GT(reports.load(), 0);
  const auto stopping = std::chrono::steady_clock::now();
  worker->reset();
  EXPECT_LT(std::chrono::steady_clock::now() - stopping, 2s);
}

}  // namespace
}  // namespace kiosk::app
