// The kiosk's upload worker against the real `gateway` program on loopback: packages sealed from
// real journal transactions with the enrolled device's key, queued in a real outbox, sent with the
// tus uploader over mutual TLS, receipted by head office, the receipts verified against the pinned
// dev CA, and the local copies purged (retention 0) with an audit entry each. A package changed
// after sealing is rejected by head office and kept on the kiosk. And the acceptance run of issue 6:
// 100 packages through a fault proxy that cuts every connection at a random point, all stored
// exactly once with matching hashes, none deleted before its verified receipt.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <sqlite3.h>

#include <map>
#include <set>

#include "kiosk/app/evidence_upload_worker.hpp"
#include "kiosk/core/log.hpp"
#include "sync/gateway/pki.hpp"
#include "sync/package/manifest.hpp"
#include "sync/package/package_archive.hpp"
#include "tests/support/fault_proxy.hpp"
#include "tests/support/gateway_process.hpp"
#include "tests/unit/package/package_test_support.hpp"

namespace kiosk::app {
namespace {

namespace fs = std::filesystem;
namespace pkg = kiosk::sync::package;
using namespace std::chrono_literals;
using outbox::PackageState;

constexpr const char* kDevice = "KIOSK-0001";  // the kiosk id of journal::testing::sample_header()

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string transaction_id_text(journal::TxId id) {
  char text[32];
  std::snprintf(text, sizeof text, "tx-%08lld", static_cast<long long>(id));
  return text;
}

class KioskUploadAgainstGateway : public pkg::testing::PackageFixture {
 protected:
  void SetUp() override {
    log::set_min_level(log::Level::warn);
    PackageFixture::SetUp();
    if (HasFatalFailure()) return;
    root_ = dir.path() / "gw";
    fs::create_directories(root_);
    // Head office holds the EC recipient's private key, so it checks every chunk tag at intake.
    auto recipient_pem = kiosk::gateway::private_key_pem(ec_recipient.get());
    ASSERT_TRUE(recipient_pem.has_value());
    pkg::testing::write_file(root_ / "recipient.key", *recipient_pem);
    gateway_ = std::make_unique<kiosk::testing::GatewayProcess>(kiosk::testing::GatewayProcessOptions{
        .gateway_binary = GATEWAY_BINARY,
        .root = root_,
        .devices = {kDevice},
        .extra_toml = "[evidence]\nstore = \"embedded\"\nretention_years = 20\nrecipient_key_file = \"" +
                      (root_ / "recipient.key").string() + "\"\n"});
    ASSERT_EQ(gateway_->problem(), "");
    port_ = gateway_->device_port();
    auto key = kiosk::gateway::load_private_key(gateway_->device_dir(kDevice) / "device.key");
    ASSERT_TRUE(key.has_value()) << key.error().to_string();
    device_key = std::move(*key);

    outbox::OutboxOptions options;
    options.state_dir = state_dir();
    auto box = outbox::Outbox::open(options);
    ASSERT_TRUE(box) << box.error().to_string();
    outbox_.emplace(std::move(*box));
  }

  void TearDown() override { gateway_.reset(); }

  fs::path state_dir() const { return dir.path() / "kiosk-state"; }

  // One more finished transaction in the fixture's journal, sealed into the outbox and queued the
  // way the kiosk's evidence sealer does it.
  // `padding` pseudo-random bytes make the form image as large as a test needs.
  outbox::OutboxEntry seal_and_queue(int n, std::size_t padding = 0) {
    auto tx = journal->open_transaction(journal::testing::sample_header());
    EXPECT_TRUE(tx) << tx.error().to_string();
    clock.advance(1s);
    const std::string form = "form " + std::to_string(n) + " signed by " + std::string(pkg::testing::kInvestorName);
    auto form_bytes = journal::testing::bytes_of(form);
    std::uint32_t noise = 2463534242U + static_cast<std::uint32_t>(n);
    for (std::size_t i = 0; i < padding; ++i) {
      noise ^= noise << 13;
      noise ^= noise >> 17;
      noise ^= noise << 5;
      form_bytes.push_back(static_cast<std::uint8_t>(noise));
    }
    const std::vector<journal::EvidenceInput> evidence{journal::EvidenceInput::from_bytes("form_image", form_bytes)};
    EXPECT_TRUE(journal->commit_step(*tx, journal::testing::sample_step(StepId::witness_signing, clock), evidence));
    clock.advance(1s);
    EXPECT_TRUE(journal->close_transaction(*tx, TxState::completed, "ok"));
    auto closed = journal->transaction(*tx);
    EXPECT_TRUE(closed) << closed.error().to_string();
    auto head = journal->audit_log()->head();
    EXPECT_TRUE(head);
    const std::vector<EVP_PKEY*> recipients{rsa_recipient.get(), ec_recipient.get()};
    auto sealed =
        pkg::seal_package(*closed, evidence_dir(), outbox_->directory(), device_key.get(), recipients, *head, clock);
    EXPECT_TRUE(sealed) << sealed.error().to_string();
    auto manifest = pkg::serialize_manifest(sealed->manifest);
    EXPECT_TRUE(manifest);
    std::uint64_t bytes = 0;
    for (const auto& file : fs::directory_iterator(sealed->directory)) bytes += file.file_size();
    const outbox::PackageRef ref{.directory_name = sealed->directory.filename().string(),
                                 .package_id = sealed->manifest.package_id,
                                 .transaction_id = transaction_id_text(*tx),
                                 .size_bytes = bytes,
                                 .manifest_sha256 = journal::sha256_hex(std::span(
                                     reinterpret_cast<const std::uint8_t*>(manifest->data()), manifest->size()))};
    auto queued = outbox_->enqueue(ref, SystemClock().now());
    EXPECT_TRUE(queued) << queued.error().to_string();
    return queued->entry;
  }

  // Through `via_port` (a fault proxy) when given, else straight to the gateway.
  std::unique_ptr<EvidenceUploadWorker> start_worker(int via_port = 0, std::uint64_t bytes_per_second = 0) {
    sync::TlsIdentity tls;
    tls.ca_file = gateway_->device_dir(kDevice) / "ca.crt";
    tls.cert_file = gateway_->device_dir(kDevice) / "device.crt";
    tls.key_file = gateway_->device_dir(kDevice) / "device.key";
    auto link = tus_evidence_link(
        EvidenceLinkConfig{.gateway_url = "https://127.0.0.1:" + std::to_string(via_port != 0 ? via_port : port_),
                           .tls = tls,
                           .chunk_bytes = 64 * 1024,
                           .max_bytes_per_second = bytes_per_second});
    EXPECT_TRUE(link) << link.error().to_string();
    auto verifier = receipt_verifier_for_ca_file(tls.ca_file);
    EXPECT_TRUE(verifier) << verifier.error().to_string();
    if (!link || !verifier) return nullptr;
    EvidenceUploadWorkerConfig config;
    config.device_id = kDevice;
    config.state_dir = state_dir();
    config.audit_database = dir.path() / "journal.sqlite";  // the fixture journal's own audit log
    config.local_retention = 0s;
    config.receipt_poll_delays = {100ms, 200ms, 400ms, 800ms, 1600ms};
    config.idle_poll = 500ms;
    config.receipt_retry_min = 1s;  // a receipt answer lost to a cut is asked for again soon
    config.receipt_retry_max = 2s;
    auto worker = EvidenceUploadWorker::start(std::move(config), system_clock_, std::move(*link), std::move(*verifier),
                                              [this](const EvidenceUploadStatus& status) {
                                                std::lock_guard lock(status_mutex_);
                                                last_status_ = status;
                                              });
    EXPECT_TRUE(worker) << worker.error().to_string();
    return worker ? std::move(*worker) : nullptr;
  }

  PackageState state_of(const outbox::OutboxEntry& entry) {
    auto now = outbox_->entry(entry.id);
    EXPECT_TRUE(now) << now.error().to_string();
    return now ? now->state : PackageState::sealed;
  }

  EvidenceUploadStatus last_status() {
    std::lock_guard lock(status_mutex_);
    return last_status_;
  }

  fs::path root_;
  std::unique_ptr<kiosk::testing::GatewayProcess> gateway_;
  int port_ = 0;
  SystemClock system_clock_;
  std::optional<outbox::Outbox> outbox_;
  std::mutex status_mutex_;
  EvidenceUploadStatus last_status_;
};

TEST_F(KioskUploadAgainstGateway, ThreePackagesAreReceiptedAndPurgedAndATamperedOneIsRejectedAndKept) {
  std::vector<outbox::OutboxEntry> good;
  for (int n = 1; n <= 3; ++n) good.push_back(seal_and_queue(n));
  const outbox::OutboxEntry tampered = seal_and_queue(4);
  ASSERT_FALSE(HasFailure());
  // Changed after sealing: one byte of the sealed evidence stream.
  fs::path stream;
  for (const auto& file : fs::directory_iterator(outbox_->package_path(tampered))) {
    if (file.path().extension() == ".sealed") stream = file.path();
  }
  ASSERT_FALSE(stream.empty());
  pkg::testing::flip_byte(stream, fs::file_size(stream) / 2);

  auto worker = start_worker();
  ASSERT_NE(worker, nullptr);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  const auto settled = [&] {
    for (const auto& entry : good) {
      if (state_of(entry) != PackageState::purged) return false;
    }
    return last_status().rejected == 1;
  };
  while (!settled() && std::chrono::steady_clock::now() < deadline) {
    worker->wake();
    worker->wait_for_round();
  }
  worker.reset();

  for (const auto& entry : good) {
    EXPECT_EQ(state_of(entry), PackageState::purged) << entry.package.package_id << "; see " << root_ / "gateway.log";
    EXPECT_FALSE(fs::exists(outbox_->package_path(entry)));
    auto stored = outbox_->entry(entry.id);
    ASSERT_TRUE(stored);
    // The stored receipt is head office's signed wire form and still verifies.
    auto ca = kiosk::gateway::load_certificate(gateway_->device_dir(kDevice) / "ca.crt");
    ASSERT_TRUE(ca);
    auto receipt = pkg::verify_receipt(std::string(stored->receipt.begin(), stored->receipt.end()), ca->get());
    ASSERT_TRUE(receipt) << receipt.error().to_string();
    EXPECT_EQ(receipt->package_id, entry.package.package_id);
    EXPECT_EQ(receipt->device_id, kDevice);
  }
  // Rejected: never deleted, still "uploaded", with head office's reason in the status file.
  EXPECT_EQ(state_of(tampered), PackageState::uploaded);
  EXPECT_TRUE(fs::exists(stream));
  EXPECT_EQ(last_status().rejected, 1U);
  const auto status = nlohmann::json::parse(read_text(state_dir() / "outbox" / "upload-status.json"), nullptr, false);
  ASSERT_TRUE(status.is_object());
  ASSERT_EQ(status["rejected"].size(), 1U);
  EXPECT_EQ(status["rejected"][0]["package_id"], tampered.package.package_id);
  EXPECT_NE(status["rejected"][0]["reason"].get<std::string>().find("PACKAGE_"), std::string::npos)
      << status["rejected"][0]["reason"];
  EXPECT_EQ(status["counts"]["purged"], 3);

  // The kiosk's audit log holds one deletion per purged package, and no personal data.
  auto audit = journal->audit_log()->entries();
  ASSERT_TRUE(audit);
  std::vector<std::string> deleted;
  for (const auto& e : *audit) {
    if (e.action == "evidence_deleted") deleted.push_back(e.object);
    EXPECT_EQ(e.details.find(pkg::testing::kInvestorName), std::string::npos);
    EXPECT_EQ(e.details.find(pkg::testing::kInvestorIdNumber), std::string::npos);
  }
  std::vector<std::string> expected;
  for (const auto& entry : good) expected.push_back(entry.package.transaction_id);
  std::sort(deleted.begin(), deleted.end());
  EXPECT_EQ(deleted, expected);
  auto chain = journal->audit_log()->verify();
  ASSERT_TRUE(chain);
  EXPECT_FALSE(chain->problem.has_value());
}

// (device_id, package_id) -> archive_sha256 of every package head office stored, with the number of
// rows per package (the primary key makes it 1; the count is what the test asserts).
std::map<std::string, std::pair<std::string, int>> stored_packages(const fs::path& gateway_data) {
  std::map<std::string, std::pair<std::string, int>> stored;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2((gateway_data / "index.sqlite").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return stored;
  }
  sqlite3_stmt* query = nullptr;
  sqlite3_prepare_v2(db, "SELECT package_id, archive_sha256 FROM evidence_packages", -1, &query, nullptr);
  while (query != nullptr && sqlite3_step(query) == SQLITE_ROW) {
    auto& row = stored[reinterpret_cast<const char*>(sqlite3_column_text(query, 0))];
    row.first = reinterpret_cast<const char*>(sqlite3_column_text(query, 1));
    ++row.second;
  }
  sqlite3_finalize(query);
  sqlite3_close(db);
  return stored;
}

TEST_F(KioskUploadAgainstGateway, HundredPackagesThroughRandomCutsArriveExactlyOnceAndNoneIsDeletedBeforeItsReceipt) {
  constexpr int kPackages = 100;
  std::vector<outbox::OutboxEntry> entries;
  std::map<std::string, std::string> archive_sha256;  // package id -> what the kiosk sends
  for (int n = 1; n <= kPackages; ++n) {
    entries.push_back(seal_and_queue(n));
    auto archive = pkg::PackageArchiveReader::open(outbox_->package_path(entries.back()));
    ASSERT_TRUE(archive) << archive.error().to_string();
    archive_sha256[entries.back().package.package_id] = archive->sha256();
  }
  ASSERT_FALSE(HasFailure());

  auto proxy = kiosk::testing::FaultProxy::start("127.0.0.1", static_cast<std::uint16_t>(port_));
  ASSERT_TRUE(proxy) << proxy.error().to_string();
  // Every connection dies at a random point in each direction: inside the TLS handshake, inside a
  // PATCH body, or in an answer (a lost 204 or a lost receipt).
  (*proxy)->cut_randomly(kiosk::testing::Direction::client_to_server, 1024, 48 * 1024, 20261125);
  (*proxy)->cut_randomly(kiosk::testing::Direction::server_to_client, 512, 24 * 1024, 6);

  auto worker = start_worker((*proxy)->port());
  ASSERT_NE(worker, nullptr);
  const auto deadline = std::chrono::steady_clock::now() + 240s;
  int deleted_early = 0;
  const auto all_purged = [&] {
    bool all = true;
    for (const auto& entry : entries) {
      auto now = outbox_->entry(entry.id);
      if (!now) return false;
      if (now->state != PackageState::purged) all = false;
      // The invariant, checked while the faults run: no local copy goes before a verified receipt.
      const bool before_receipt = now->state == PackageState::sealed || now->state == PackageState::uploading ||
                                  now->state == PackageState::uploaded;
      if (before_receipt && !fs::exists(outbox_->package_path(*now))) ++deleted_early;
    }
    return all;
  };
  while (!all_purged() && std::chrono::steady_clock::now() < deadline) {
    worker->wake();
    worker->wait_for_round();
  }
  worker.reset();
  const auto faults = (*proxy)->counters();
  proxy->reset();

  EXPECT_EQ(deleted_early, 0);
  EXPECT_GT(faults.cuts_fired, 10U) << "the run must actually have been cut";
  const auto stored = stored_packages(root_ / "data");
  EXPECT_EQ(stored.size(), static_cast<std::size_t>(kPackages)) << "see " << root_ / "gateway.log";
  for (const auto& entry : entries) {
    const auto& id = entry.package.package_id;
    auto now = outbox_->entry(entry.id);
    ASSERT_TRUE(now);
    EXPECT_EQ(now->state, PackageState::purged) << id;
    EXPECT_FALSE(now->receipt.empty()) << id;
    ASSERT_TRUE(now->receipted_at && now->purged_at) << id;
    EXPECT_LE(*now->receipted_at, *now->purged_at) << id;
    const auto at_head_office = stored.find(id);
    ASSERT_NE(at_head_office, stored.end()) << id;
    EXPECT_EQ(at_head_office->second.first, archive_sha256[id]) << id;
    EXPECT_EQ(at_head_office->second.second, 1) << id;
  }
  // One content-addressed object per package: nothing stored twice.
  std::size_t objects = 0;
  for (const auto& file : fs::recursive_directory_iterator(root_ / "data" / "evidence" / "objects")) {
    if (file.is_regular_file()) ++objects;
  }
  EXPECT_EQ(objects, static_cast<std::size_t>(kPackages));
  std::printf("[ fault run ] %d packages, %llu connections, %llu cuts\n", kPackages,
              static_cast<unsigned long long>(faults.connections_accepted),
              static_cast<unsigned long long>(faults.cuts_fired));
}

// The offset head office has recorded for the device's upload of `package_id` (0 when none yet).
std::uint64_t gateway_offset(const fs::path& gateway_data, const std::string& package_id) {
  sqlite3* db = nullptr;
  std::uint64_t offset = 0;
  if (sqlite3_open_v2((gateway_data / "index.sqlite").c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* query = nullptr;
    sqlite3_prepare_v2(db, "SELECT upload_offset FROM uploads WHERE package_id = ?1", -1, &query, nullptr);
    if (query != nullptr) {
      sqlite3_bind_text(query, 1, package_id.c_str(), -1, SQLITE_TRANSIENT);
      if (sqlite3_step(query) == SQLITE_ROW) offset = static_cast<std::uint64_t>(sqlite3_column_int64(query, 0));
    }
    sqlite3_finalize(query);
  }
  sqlite3_close(db);
  return offset;
}

TEST_F(KioskUploadAgainstGateway, AKioskKilledMidUploadResumesAfterRestartAndThePackageIsStoredOnce) {
  const outbox::OutboxEntry entry = seal_and_queue(1, 6 * 1024 * 1024);
  ASSERT_FALSE(HasFailure());
  auto archive = pkg::PackageArchiveReader::open(outbox_->package_path(entry));
  ASSERT_TRUE(archive) << archive.error().to_string();
  const std::string expected_sha256 = archive->sha256();

  // The "kiosk": a child process whose worker sends at 1 MiB/s; it is killed without warning (no
  // destructor, no cancel) once head office holds part of the package.
  const pid_t kiosk = ::fork();
  if (kiosk == 0) {
    auto worker = start_worker(0, 1024 * 1024);
    if (worker == nullptr) ::_exit(3);
    worker->wake();
    for (;;) ::pause();
  }
  ASSERT_GT(kiosk, 0);
  std::uint64_t offset_at_kill = 0;
  for (int i = 0; i < 400 && offset_at_kill < 1024 * 1024; ++i) {
    std::this_thread::sleep_for(25ms);
    offset_at_kill = gateway_offset(root_ / "data", entry.package.package_id);
  }
  ::kill(kiosk, SIGKILL);
  ::waitpid(kiosk, nullptr, 0);
  ASSERT_GE(offset_at_kill, 1024U * 1024) << "the upload never got going; see " << root_ / "gateway.log";
  ASSERT_LT(offset_at_kill, archive->size()) << "killed too late to test a resume";

  // Restarted: recovery puts the package back to sealed and the upload resumes from head office's
  // offset rather than from zero. A fault-free proxy counts what the restarted kiosk sends.
  auto counter = kiosk::testing::FaultProxy::start("127.0.0.1", static_cast<std::uint16_t>(port_));
  ASSERT_TRUE(counter) << counter.error().to_string();
  auto worker = start_worker((*counter)->port());
  ASSERT_NE(worker, nullptr);
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (state_of(entry) != PackageState::purged && std::chrono::steady_clock::now() < deadline) {
    worker->wake();
    worker->wait_for_round();
  }
  worker.reset();
  const std::uint64_t sent_after_restart = (*counter)->counters().bytes_client_to_server;
  EXPECT_EQ(state_of(entry), PackageState::purged);
  const auto stored = stored_packages(root_ / "data");
  ASSERT_EQ(stored.size(), 1U);
  EXPECT_EQ(stored.begin()->second.first, expected_sha256);
  EXPECT_EQ(gateway_offset(root_ / "data", entry.package.package_id), archive->size());
  // What was left, plus TLS and HTTP overhead and at most the one chunk that was in flight at the kill.
  EXPECT_LT(sent_after_restart, archive->size() - offset_at_kill + 256 * 1024)
      << "the restarted kiosk sent " << sent_after_restart << " bytes for " << archive->size() - offset_at_kill
      << " missing ones";
}

}  // namespace
}  // namespace kiosk::app
