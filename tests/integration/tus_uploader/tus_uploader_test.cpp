// TusUploader against the real gateway over mutual TLS on loopback, with the fault proxy between them
// for cuts, resets and stalls. Every successful upload is checked byte for byte against the archive
// in DATA/uploads/complete/<id>.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "gateway_process.hpp"
#include "sync/client/tus_uploader.hpp"
#include "sync/gateway/nciis.hpp"
#include "sync/gateway/pki.hpp"
#include "tests/support/fault_proxy.hpp"
#include "upload_test_support.hpp"

namespace {

namespace fs = std::filesystem;
using kiosk::ctl::testing::GatewayProcess;
using kiosk::sync::TlsIdentity;
using kiosk::sync::TusUploader;
using kiosk::sync::UploadOptions;
using kiosk::sync::UploadProgress;
using kiosk::sync::UploadSource;
using kiosk::testing::Direction;
using kiosk::testing::FaultProxy;
using namespace kiosk::sync::testing;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kKiB = 1024;
constexpr std::size_t kMiB = 1024 * 1024;

class TusUploaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    gateway_ = std::make_unique<GatewayProcess>();
    ASSERT_TRUE(gateway_->started()) << "the gateway did not start; see " << gateway_->root() / "gateway.log";
    work_ = gateway_->root() / "kiosk";
    fs::create_directories(work_);
  }

  [[nodiscard]] TlsIdentity identity() const {
    return TlsIdentity{gateway_->ca_file(), gateway_->cert_file(), gateway_->key_file()};
  }
  [[nodiscard]] fs::path data_dir() const { return gateway_->root() / "data"; }

  static UploadOptions fast_options() {
    UploadOptions options;
    options.chunk_bytes = 256 * kKiB;
    options.max_attempts = 40;
    options.base_backoff = std::chrono::milliseconds(10);
    options.max_backoff = std::chrono::milliseconds(100);
    options.low_speed_window = std::chrono::milliseconds(1000);
    return options;
  }

  // A proxy in front of the gateway's device listener, and the URL that goes through it.
  std::string start_proxy() {
    auto started = FaultProxy::start("127.0.0.1", url_port(gateway_->device_url()));
    EXPECT_TRUE(started.has_value()) << (started ? "" : started.error().to_string());
    if (!started) return {};
    proxy_ = std::move(*started);
    return "https://127.0.0.1:" + std::to_string(proxy_->port());
  }

  UploadSource package(const std::string& name, std::uint64_t video_bytes, std::uint32_t seed = 7) {
    return UploadSource{.package_id = name,
                        .transaction_id = "tx-00000042",
                        .package_dir = make_package_dir(work_ / "outbox", name, video_bytes, seed)};
  }

  std::unique_ptr<GatewayProcess> gateway_;
  std::unique_ptr<FaultProxy> proxy_;
  fs::path work_;
};

TEST_F(TusUploaderTest, CleanUploadStoresTheExactArchiveAndRepeatingItSendsNothing) {
  const UploadSource source = package("pkg-clean", 3 * kMiB + 777);
  std::vector<UploadProgress> progress;
  UploadOptions options = fast_options();
  options.on_progress = [&](const UploadProgress& p) { progress.push_back(p); };
  auto uploader = TusUploader::create(gateway_->device_url(), identity(), options);
  ASSERT_TRUE(uploader) << uploader.error().to_string();

  auto outcome = uploader->upload(source);
  ASSERT_TRUE(outcome) << outcome.error().to_string();
  const std::string expected = archive_bytes(source.package_dir);
  ASSERT_FALSE(expected.empty());
  EXPECT_EQ(outcome->archive_size, expected.size());
  EXPECT_EQ(outcome->archive_sha256, kiosk::gateway::sha256_hex_of(expected));
  EXPECT_EQ(outcome->bytes_sent, expected.size());
  EXPECT_EQ(outcome->bytes_resent, 0U);
  EXPECT_EQ(outcome->attempts, 1);
  EXPECT_TRUE(completed_upload(data_dir(), outcome->location) == expected) << "the gateway's file differs";

  // One progress report per acknowledged PATCH, rising to the length.
  ASSERT_EQ(progress.size(), (expected.size() + options.chunk_bytes - 1) / options.chunk_bytes);
  for (std::size_t i = 1; i < progress.size(); ++i) EXPECT_GT(progress[i].offset, progress[i - 1].offset);
  EXPECT_EQ(progress.back().offset, expected.size());
  EXPECT_EQ(progress.back().length, expected.size());
  EXPECT_GT(progress.back().bytes_per_second, 0.0);

  // Again (the outbox lost the "uploaded" mark): the gateway answers 200 + the same Location, HEAD says
  // complete, and no byte is sent. With the kept Location it goes straight to HEAD.
  auto again = uploader->upload(source);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->location, outcome->location);
  EXPECT_EQ(again->bytes_sent, 0U);
  auto resumed = uploader->upload(source, outcome->location);
  ASSERT_TRUE(resumed) << resumed.error().to_string();
  EXPECT_EQ(resumed->location, outcome->location);
  EXPECT_EQ(resumed->bytes_sent, 0U);

  // The receipts route is reached with the same identity (no receipt yet: not 200).
  auto receipt = uploader->get("/v1/device/receipts/pkg-clean");
  ASSERT_TRUE(receipt) << receipt.error().to_string();
  EXPECT_NE(receipt->status, 200);
  auto health = uploader->get("/healthz");
  ASSERT_TRUE(health) << health.error().to_string();
  EXPECT_EQ(health->status, 200);
}

TEST_F(TusUploaderTest, CutsAtSeveralOffsetsResumeFromHeadAndResendAtMostOneChunkPerCut) {
  // The proxy cuts every connection after N client bytes (TLS records included), so each connection
  // carries a different part of the archive before it dies.
  for (const std::uint64_t cut_at : {300 * kKiB, 700 * kKiB, 1100 * kKiB + 333}) {
    SCOPED_TRACE("cut after " + std::to_string(cut_at) + " bytes");
    proxy_.reset();
    const std::string url = start_proxy();
    ASSERT_FALSE(url.empty());
    proxy_->cut_after(Direction::client_to_server, cut_at);
    const UploadSource source =
        package("pkg-cut-" + std::to_string(cut_at), 2 * kMiB + 4321, static_cast<std::uint32_t>(cut_at));
    UploadOptions options = fast_options();
    auto uploader = TusUploader::create(url, identity(), options);
    ASSERT_TRUE(uploader) << uploader.error().to_string();

    auto outcome = uploader->upload(source);
    ASSERT_TRUE(outcome) << outcome.error().to_string();
    const auto counters = proxy_->counters();
    EXPECT_GE(counters.cuts_fired, 1U);
    EXPECT_GE(outcome->attempts, 2);
    EXPECT_LE(outcome->bytes_resent, counters.cuts_fired * options.chunk_bytes);
    EXPECT_EQ(outcome->bytes_sent, outcome->archive_size + outcome->bytes_resent);
    EXPECT_TRUE(completed_upload(data_dir(), outcome->location) == archive_bytes(source.package_dir))
        << "the gateway's file differs";
  }
}

TEST_F(TusUploaderTest, ResetConnectionsAreResumed) {
  const std::string url = start_proxy();
  ASSERT_FALSE(url.empty());
  proxy_->reset_after(Direction::client_to_server, 600 * kKiB);
  const UploadSource source = package("pkg-reset", 1 * kMiB + 99);
  auto uploader = TusUploader::create(url, identity(), fast_options());
  ASSERT_TRUE(uploader) << uploader.error().to_string();
  auto outcome = uploader->upload(source);
  ASSERT_TRUE(outcome) << outcome.error().to_string();
  EXPECT_GE(proxy_->counters().resets_fired, 1U);
  EXPECT_GE(outcome->attempts, 2);
  EXPECT_LE(outcome->bytes_resent, proxy_->counters().resets_fired * fast_options().chunk_bytes);
  EXPECT_TRUE(completed_upload(data_dir(), outcome->location) == archive_bytes(source.package_dir));
}

TEST_F(TusUploaderTest, AStalledLinkIsAbandonedAfterTheLowSpeedWindowAndResumed) {
  const std::string url = start_proxy();
  ASSERT_FALSE(url.empty());
  // The gateway's answers stop for 20 s on each connection after a few of them (the handshake and
  // some 204s): the PATCH was stored but its answer does not come. Waiting each stall out would take
  // 20 s; the low-speed window (1 s) gives up, and HEAD shows the chunk is already there.
  proxy_->stall_after(Direction::server_to_client, 3000, std::chrono::seconds(20));
  const UploadSource source = package("pkg-stall", 1 * kMiB + 5);
  UploadOptions options = fast_options();
  options.chunk_bytes = 64 * kKiB;  // many small answers, so the stall point falls among them
  auto uploader = TusUploader::create(url, identity(), options);
  ASSERT_TRUE(uploader) << uploader.error().to_string();
  const auto started = Clock::now();
  auto outcome = uploader->upload(source);
  const auto elapsed = Clock::now() - started;
  ASSERT_TRUE(outcome) << outcome.error().to_string();
  const auto stalls = proxy_->counters().stalls_fired;
  EXPECT_GE(stalls, 1U);
  EXPECT_GE(outcome->attempts, 2);
  EXPECT_LT(elapsed, std::chrono::seconds(20)) << "a stall was waited out";
  EXPECT_EQ(outcome->bytes_resent, 0U) << "a stored chunk was sent again instead of asking HEAD";
  EXPECT_TRUE(completed_upload(data_dir(), outcome->location) == archive_bytes(source.package_dir));
}

TEST_F(TusUploaderTest, AnUntrustedGatewayCertificateFailsAtOnceWithoutRetries) {
  // A CA that did not sign the gateway's certificate.
  auto other_key = kiosk::gateway::generate_p256_key();
  ASSERT_TRUE(other_key);
  auto other_ca = kiosk::gateway::issue_certificate(
      kiosk::gateway::CertSpec{.common_name = "Some Other CA",
                               .profile = kiosk::gateway::CertProfile::certificate_authority,
                               .subject_alt_names = {},
                               .not_before_offset = std::chrono::seconds(-300),
                               .not_after_offset = std::chrono::hours(24)},
      other_key->get(), nullptr, other_key->get());
  ASSERT_TRUE(other_ca);
  const fs::path wrong_ca = work_ / "wrong-ca.crt";
  std::ofstream(wrong_ca) << *kiosk::gateway::certificate_pem(other_ca->get());

  const std::string url = start_proxy();
  ASSERT_FALSE(url.empty());
  UploadOptions options = fast_options();
  options.base_backoff = std::chrono::milliseconds(2000);  // a retry would show in the elapsed time
  options.max_backoff = std::chrono::milliseconds(2000);
  auto uploader = TusUploader::create(url, TlsIdentity{wrong_ca, gateway_->cert_file(), gateway_->key_file()}, options);
  ASSERT_TRUE(uploader) << uploader.error().to_string();
  const auto started = Clock::now();
  auto outcome = uploader->upload(package("pkg-wrong-ca", 64 * kKiB));
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, "GATEWAY_CERT_UNTRUSTED") << outcome.error().to_string();
  EXPECT_EQ(proxy_->counters().connections_accepted, 1U);
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(2));
}

TEST_F(TusUploaderTest, TheBandwidthCapIsRespected) {
  const UploadSource source = package("pkg-capped", 512 * kKiB);
  UploadOptions options = fast_options();
  options.chunk_bytes = 128 * kKiB;
  options.max_bytes_per_second = 256 * kKiB;
  auto uploader = TusUploader::create(gateway_->device_url(), identity(), options);
  ASSERT_TRUE(uploader) << uploader.error().to_string();
  const auto started = Clock::now();
  auto outcome = uploader->upload(source);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  ASSERT_TRUE(outcome) << outcome.error().to_string();
  // A behaviour check, not a performance assertion: the cap must slow the upload down to about size/cap.
  const double floor = static_cast<double>(outcome->archive_size) / static_cast<double>(options.max_bytes_per_second);
  EXPECT_GE(seconds, floor * 0.8) << "sent " << outcome->archive_size << " bytes in " << seconds << " s";
  EXPECT_TRUE(completed_upload(data_dir(), outcome->location) == archive_bytes(source.package_dir));
}

TEST_F(TusUploaderTest, CancellingStopsTheUploadAndALaterCallResumesWhereItStopped) {
  const UploadSource source = package("pkg-cancel", 2 * kMiB);
  std::atomic<bool> cancel{false};
  bool cancelled_once = false;
  std::uint64_t acknowledged = 0;
  UploadOptions options = fast_options();
  options.on_progress = [&](const UploadProgress& p) {
    acknowledged = p.offset;
    if (p.offset >= 512 * kKiB && !cancelled_once) cancel = cancelled_once = true;
  };
  options.cancelled = [&] { return cancel.load(); };
  auto uploader = TusUploader::create(gateway_->device_url(), identity(), options);
  ASSERT_TRUE(uploader) << uploader.error().to_string();
  auto stopped = uploader->upload(source);
  ASSERT_FALSE(stopped);
  EXPECT_EQ(stopped.error().code, "UPLOAD_CANCELLED");
  EXPECT_EQ(acknowledged, 512 * kKiB);

  cancel = false;
  auto finished = uploader->upload(source);
  ASSERT_TRUE(finished) << finished.error().to_string();
  // Creation answered 200 with the same upload; HEAD gave 512 KiB: only the rest was sent.
  EXPECT_EQ(finished->bytes_sent, finished->archive_size - 512 * kKiB);
  EXPECT_TRUE(completed_upload(data_dir(), finished->location) == archive_bytes(source.package_dir));
}

TEST_F(TusUploaderTest, APackageThatChangesDuringTheUploadIsReportedNotSent) {
  const UploadSource source = package("pkg-changing", 1 * kMiB);
  UploadOptions options = fast_options();
  bool changed = false;
  options.on_progress = [&](const UploadProgress&) {
    if (changed) return;
    changed = true;
    std::ofstream(source.package_dir / "video.sealed", std::ios::binary | std::ios::app) << "more";
  };
  auto uploader = TusUploader::create(gateway_->device_url(), identity(), options);
  ASSERT_TRUE(uploader) << uploader.error().to_string();
  auto outcome = uploader->upload(source);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, "PACKAGE_UNREADABLE") << outcome.error().to_string();
}

TEST_F(TusUploaderTest, ARefusalThatRetryingCannotFixKeepsTheGatewayCode) {
  auto uploader = TusUploader::create(gateway_->device_url(), identity(), fast_options());
  ASSERT_TRUE(uploader) << uploader.error().to_string();
  const UploadSource first = package("pkg-conflict", 64 * kKiB, 1);
  ASSERT_TRUE(uploader->upload(first));
  // The same package id with other bytes: 409 UPLOAD_CONFLICT, no retries.
  UploadSource second = package("pkg-conflict-b", 64 * kKiB, 2);
  second.package_id = "pkg-conflict";
  auto outcome = uploader->upload(second);
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, "UPLOAD_CONFLICT") << outcome.error().to_string();
}

TEST_F(TusUploaderTest, CreateRefusesBadOptionsAndUrls) {
  UploadOptions options;
  options.chunk_bytes = 0;
  auto bad_options = TusUploader::create(gateway_->device_url(), identity(), options);
  ASSERT_FALSE(bad_options);
  EXPECT_EQ(bad_options.error().code, "UPLOAD_OPTIONS_INVALID");
  auto bad_url = TusUploader::create("http://127.0.0.1:1", identity(), UploadOptions{});
  ASSERT_FALSE(bad_url);
  EXPECT_EQ(bad_url.error().code, "GATEWAY_URL_INVALID");
}

}  // namespace
