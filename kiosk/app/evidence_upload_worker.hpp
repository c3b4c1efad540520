// Sends sealed evidence packages from the durable outbox (sync/outbox) to head office, collects
// head office's signed receipts, and deletes local copies once a verified receipt is older than the
// local retention (issue 6 items 3 and 5; REQ-42, REQ-43, REQ-47). Runs on its own thread so that a
// slow branch link never stalls the screen; the thread owns its own outbox and audit connections.
//
// A package moves sealed -> uploading -> uploaded (the gateway holds every byte) -> receipted (a
// receipt that verifies against the pinned head-office CA and names exactly this device, package,
// transaction, manifest and archive) -> purged. A package head office rejects (422) stays uploaded
// with its files, is reported (log "evidence_rejected", status "rejected") and is never deleted.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "kiosk/core/audit/audit_log.hpp"
#include "kiosk/core/clock.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/kiosk_session.hpp"
#include "sync/client/https_client.hpp"
#include "sync/client/tus_uploader.hpp"
#include "sync/outbox/outbox.hpp"
#include "sync/package/receipt.hpp"

namespace kiosk::app {

// The worker's view of head office. The kiosk uses tus_evidence_link(); tests pass fakes to drive
// the decisions without a network.
class EvidenceLink {
 public:
  virtual ~EvidenceLink() = default;
  // Sends the package until the gateway holds every byte. `on_progress` runs after each chunk the
  // gateway acknowledged; `cancelled` is polled between requests (UPLOAD_CANCELLED).
  virtual Result<sync::UploadOutcome> upload(const sync::UploadSource& source,
                                             const std::function<void(const sync::UploadProgress&)>& on_progress,
                                             const std::function<bool()>& cancelled) = 0;
  // GET on the device listener with the device's identity (receipts).
  virtual Result<sync::HttpResponse> get(std::string_view path) = 0;
};

struct EvidenceLinkConfig {
  std::string gateway_url;
  sync::TlsIdentity tls;
  std::size_t chunk_bytes = 4 * 1024 * 1024;
  std::uint64_t max_bytes_per_second = 0;  // 0: no cap
};
// The real link: sync::TusUploader over mutual TLS.
Result<std::unique_ptr<EvidenceLink>> tus_evidence_link(const EvidenceLinkConfig& config);

// Checks a receipt's wire JSON (signature, signer) and returns the receipt it carries.
using ReceiptVerifier = std::function<Result<sync::package::Receipt>(std::string_view wire_json)>;
// sync::package::verify_receipt against the CA certificate in `ca_file` (the gateway CA the kiosk
// pins). RECEIPT_TRUST_ANCHOR_UNREADABLE when the file holds no PEM certificate.
Result<ReceiptVerifier> receipt_verifier_for_ca_file(const std::filesystem::path& ca_file);

// What a receipt must say about the package it acknowledges.
struct ReceiptExpectation {
  std::string device_id;
  std::string package_id;
  std::string transaction_id;
  std::string manifest_sha256;
  std::string archive_sha256;
};
// The name of the first receipt field that differs from `expected`; empty when all agree.
std::string receipt_mismatch(const sync::package::Receipt& receipt, const ReceiptExpectation& expected);

struct EvidenceUploadWorkerConfig {
  std::string device_id;                 // the CN of this kiosk's device certificate
  std::filesystem::path state_dir;       // the outbox is <state_dir>/outbox
  std::filesystem::path audit_database;  // the kiosk's audit log (the journal database): purges are recorded there
  std::chrono::seconds local_retention{std::chrono::days{7}};
  // Receipt polls right after an upload (head office verifies then answers); later polls back off
  // from receipt_retry_min to receipt_retry_max.
  std::vector<std::chrono::milliseconds> receipt_poll_delays{
      std::chrono::milliseconds{200}, std::chrono::milliseconds{500}, std::chrono::milliseconds{1000},
      std::chrono::milliseconds{2000}};
  std::chrono::seconds receipt_retry_min{30};
  std::chrono::seconds receipt_retry_max{15 * 60};
  std::chrono::seconds rejected_recheck{60 * 60};  // a rejected package is asked about again this often
  std::chrono::seconds purge_interval{10 * 60};
  // The thread looks at the outbox at least this often even without wake(): the sealer queues
  // packages through its own connection.
  std::chrono::milliseconds idle_poll{60'000};
};

inline constexpr std::string_view kUploadStatusFile = "upload-status.json";
inline constexpr int kUploadStatusFormatVersion = 1;

// A package head office refused, kept on the kiosk for people to look at.
struct RejectedPackage {
  std::string package_id;
  std::string transaction_id;
  std::string reason;  // head office's verification error code
};

// The synchronous part of the worker: every decision, no thread. The worker thread calls
// run_round() and sleeps until next_work_at(); tests call it directly with an injected clock.
class EvidenceUploadRounds {
 public:
  using StatusSink = std::function<void(const EvidenceUploadStatus&)>;
  // Waits `delay` unless the worker is stopping; false when stopping.
  using Pause = std::function<bool(std::chrono::milliseconds delay)>;

  // Opens the outbox (recover() included) and the audit log. OUTBOX_*, AUDIT_*.
  static Result<EvidenceUploadRounds> open(EvidenceUploadWorkerConfig config, const Clock& clock,
                                           std::unique_ptr<EvidenceLink> link, ReceiptVerifier verifier,
                                           StatusSink status_sink);

  // Polls due receipts, uploads every due package (one after the other, each followed by its
  // receipt), purges when due, then publishes the status. Stops early when `cancelled()`.
  void run_round(const std::function<bool()>& cancelled, const Pause& pause);
  // When the next piece of work is due (a sealed package, a receipt poll, a purge).
  [[nodiscard]] TimePoint next_work_at() const;

  [[nodiscard]] const EvidenceUploadStatus& status() const { return status_; }
  [[nodiscard]] const std::map<outbox::EntryId, RejectedPackage>& rejected() const { return rejected_; }
  [[nodiscard]] outbox::Outbox& outbox() { return outbox_; }
  [[nodiscard]] std::filesystem::path status_file() const;
  [[nodiscard]] const Clock& clock() const { return *clock_; }
  [[nodiscard]] std::chrono::milliseconds idle_poll() const { return config_.idle_poll; }

 private:
  struct ReceiptPoll {
    TimePoint due;
    int misses = 0;  // 404s or failed checks so far
  };
  EvidenceUploadRounds(EvidenceUploadWorkerConfig config, const Clock& clock, outbox::Outbox outbox,
                       audit::AuditLog audit, std::unique_ptr<EvidenceLink> link, ReceiptVerifier verifier,
                       StatusSink status_sink);
  void upload_one(const outbox::OutboxEntry& entry, const std::function<bool()>& cancelled, const Pause& pause);
  // One GET of the receipt; true when the package is settled (receipted or rejected).
  bool fetch_receipt(const outbox::OutboxEntry& entry);
  void poll_due_receipts(const std::function<bool()>& cancelled);
  // After a receipt poll that settled nothing: a rejected package is asked about again much later.
  void schedule_receipt_retry(outbox::EntryId id);
  void purge(TimePoint now);
  Result<void> audit_purge(const outbox::PurgedPackage& purged);
  void publish(bool force_file);

  EvidenceUploadWorkerConfig config_;
  const Clock* clock_;
  outbox::Outbox outbox_;
  audit::AuditLog audit_;
  std::unique_ptr<EvidenceLink> link_;
  ReceiptVerifier verifier_;
  StatusSink status_sink_;
  std::map<outbox::EntryId, ReceiptPoll> receipt_polls_;   // uploaded packages: when to ask next
  std::map<outbox::EntryId, std::string> archive_sha256_;  // what the uploader sent, this run
  std::map<outbox::EntryId, RejectedPackage> rejected_;
  TimePoint next_purge_{};
  EvidenceUploadStatus status_;
  std::optional<EvidenceUploadStatus> published_;
  std::string current_transaction_;
  std::chrono::steady_clock::time_point last_file_write_{};
};

// The thread around EvidenceUploadRounds.
class EvidenceUploadWorker {
 public:
  static Result<std::unique_ptr<EvidenceUploadWorker>> start(EvidenceUploadWorkerConfig config, const Clock& clock,
                                                             std::unique_ptr<EvidenceLink> link,
                                                             ReceiptVerifier verifier,
                                                             EvidenceUploadRounds::StatusSink status_sink);
  ~EvidenceUploadWorker();  // cancels an upload in flight (it resumes at the next start) and joins
  EvidenceUploadWorker(const EvidenceUploadWorker&) = delete;
  EvidenceUploadWorker& operator=(const EvidenceUploadWorker&) = delete;

  // Look at the outbox now (a package was sealed). Callable from any thread.
  void wake();
  // Blocks until a round that began after this call has finished (tests).
  void wait_for_round();

 private:
  explicit EvidenceUploadWorker(EvidenceUploadRounds rounds);
  void run(std::stop_token stop);

  EvidenceUploadRounds rounds_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::condition_variable_any round_done_;
  bool woken_ = false;
  std::uint64_t rounds_started_ = 0;
  std::uint64_t rounds_finished_ = 0;
  std::jthread thread_;  // last: starts after every member above exists
};

}  // namespace kiosk::app
