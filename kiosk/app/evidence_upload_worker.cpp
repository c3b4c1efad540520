#include "kiosk/app/evidence_upload_worker.hpp"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <set>

#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/log.hpp"
#include "kiosk/core/time_text.hpp"
#include "sync/package/package_archive.hpp"

namespace kiosk::app {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// Enough of a package id to tell packages apart on a screen or in a log line.
std::string short_id(std::string_view package_id) { return std::string(package_id.substr(0, 12)); }

class TusEvidenceLink final : public EvidenceLink {
 public:
  explicit TusEvidenceLink(const EvidenceLinkConfig& config) : config_(config) {}

  Result<void> connect() {
    sync::UploadOptions options;
    options.chunk_bytes = config_.chunk_bytes;
    options.max_bytes_per_second = config_.max_bytes_per_second;
    // The uploader is created once; each upload() call points these at its own callbacks.
    options.on_progress = [this](const sync::UploadProgress& progress) {
      if (on_progress_ != nullptr && *on_progress_) (*on_progress_)(progress);
    };
    options.cancelled = [this] { return cancelled_ != nullptr && *cancelled_ && (*cancelled_)(); };
    auto uploader = sync::TusUploader::create(config_.gateway_url, config_.tls, std::move(options));
    if (!uploader) return std::unexpected(uploader.error());
    uploader_.emplace(std::move(*uploader));
    return {};
  }

  Result<sync::UploadOutcome> upload(const sync::UploadSource& source,
                                     const std::function<void(const sync::UploadProgress&)>& on_progress,
                                     const std::function<bool()>& cancelled) override {
    on_progress_ = &on_progress;
    cancelled_ = &cancelled;
    auto outcome = uploader_->upload(source);
    on_progress_ = nullptr;
    cancelled_ = nullptr;
    return outcome;
  }

  Result<sync::HttpResponse> get(std::string_view path) override { return uploader_->get(path); }

 private:
  EvidenceLinkConfig config_;
  std::optional<sync::TusUploader> uploader_;
  const std::function<void(const sync::UploadProgress&)>* on_progress_ = nullptr;
  const std::function<bool()>* cancelled_ = nullptr;
};

struct X509Free {
  void operator()(X509* certificate) const { X509_free(certificate); }
};

nlohmann::json status_json(const EvidenceUploadStatus& status,
                           const std::map<outbox::EntryId, RejectedPackage>& rejected, std::uint64_t bytes_pending,
                           std::optional<seconds> oldest_unsent_age, std::uint64_t legal_holds,
                           std::string_view current_transaction, TimePoint now) {
  nlohmann::json rejected_list = nlohmann::json::array();
  for (const auto& [id, package] : rejected) {
    rejected_list.push_back(
        {{"package_id", package.package_id}, {"transaction_id", package.transaction_id}, {"reason", package.reason}});
  }
  nlohmann::json current = nullptr;
  if (!status.current_package.empty()) {
    current = {{"package", status.current_package},
               {"transaction_id", current_transaction},
               {"offset", status.current_offset},
               {"length", status.current_length},
               {"bytes_per_second", status.bytes_per_second}};
  }
  return {{"format_version", kUploadStatusFormatVersion},
          {"updated_at", utc_iso8601(now, TimePrecision::milliseconds)},
          {"counts",
           {{"sealed", status.sealed},
            {"uploading", status.uploading},
            {"uploaded", status.uploaded},
            {"receipted", status.receipted},
            {"purgeable", status.purgeable},
            {"purged", status.purged}}},
          {"bytes_pending", bytes_pending},
          {"oldest_unsent_age_seconds", oldest_unsent_age ? nlohmann::json(oldest_unsent_age->count()) : nullptr},
          {"legal_holds", legal_holds},
          {"current", current},
          {"last_error_code", status.last_error_code},
          {"rejected", rejected_list}};
}

}  // namespace

Result<std::unique_ptr<EvidenceLink>> tus_evidence_link(const EvidenceLinkConfig& config) {
  auto link = std::make_unique<TusEvidenceLink>(config);
  if (auto connected = link->connect(); !connected) return std::unexpected(connected.error());
  return std::unique_ptr<EvidenceLink>(std::move(link));
}

Result<ReceiptVerifier> receipt_verifier_for_ca_file(const std::filesystem::path& ca_file) {
  std::FILE* in = std::fopen(ca_file.c_str(), "rb");
  if (in == nullptr) {
    return fail("RECEIPT_TRUST_ANCHOR_UNREADABLE",
                "cannot open the gateway CA " + ca_file.string() + " ([gateway] ca_file): receipts cannot be verified");
  }
  X509* raw = PEM_read_X509(in, nullptr, nullptr, nullptr);
  std::fclose(in);
  if (raw == nullptr) {
    return fail("RECEIPT_TRUST_ANCHOR_UNREADABLE", ca_file.string() + " holds no PEM certificate ([gateway] ca_file)");
  }
  std::shared_ptr<X509> anchor(raw, X509Free{});
  return ReceiptVerifier(
      [anchor](std::string_view wire_json) { return sync::package::verify_receipt(wire_json, anchor.get()); });
}

std::string receipt_mismatch(const sync::package::Receipt& receipt, const ReceiptExpectation& expected) {
  if (receipt.device_id != expected.device_id) return "device_id";
  if (receipt.package_id != expected.package_id) return "package_id";
  if (receipt.transaction_id != expected.transaction_id) return "transaction_id";
  if (receipt.manifest_sha256 != expected.manifest_sha256) return "manifest_sha256";
  if (receipt.archive_sha256 != expected.archive_sha256) return "archive_sha256";
  return {};
}

// ---- EvidenceUploadRounds ----

Result<EvidenceUploadRounds> EvidenceUploadRounds::open(EvidenceUploadWorkerConfig config, const Clock& clock,
                                                        std::unique_ptr<EvidenceLink> link, ReceiptVerifier verifier,
                                                        StatusSink status_sink) {
  if (link == nullptr || !verifier) {
    return fail("EVIDENCE_UPLOAD_BAD_CONFIG", "the upload worker needs a link to head office and a receipt verifier");
  }
  outbox::OutboxOptions options;
  options.state_dir = config.state_dir;
  auto opened = outbox::Outbox::open(options);
  if (!opened) return std::unexpected(opened.error());
  auto recovered = opened->recover();
  if (!recovered) return std::unexpected(recovered.error());
  for (const auto& package : recovered->returned_to_sealed) {
    log::info("evidence_upload_resumed", {{"package", package}});
  }
  for (const auto& package : recovered->missing_files) {
    log::error("evidence_package_missing", {{"package", package}});
  }
  auto audit = audit::AuditLog::open(config.audit_database, clock);
  if (!audit) return std::unexpected(audit.error());
  return EvidenceUploadRounds(std::move(config), clock, std::move(*opened), std::move(*audit), std::move(link),
                              std::move(verifier), std::move(status_sink));
}

EvidenceUploadRounds::EvidenceUploadRounds(EvidenceUploadWorkerConfig config, const Clock& clock, outbox::Outbox outbox,
                                           audit::AuditLog audit, std::unique_ptr<EvidenceLink> link,
                                           ReceiptVerifier verifier, StatusSink status_sink)
    : config_(std::move(config)),
      clock_(&clock),
      outbox_(std::move(outbox)),
      audit_(std::move(audit)),
      link_(std::move(link)),
      verifier_(std::move(verifier)),
      status_sink_(std::move(status_sink)) {}

std::filesystem::path EvidenceUploadRounds::status_file() const {
  return outbox_.directory() / std::string(kUploadStatusFile);
}

void EvidenceUploadRounds::run_round(const std::function<bool()>& cancelled, const Pause& pause) {
  poll_due_receipts(cancelled);
  // One package at a time, oldest first; a failure puts it behind its backoff, so the loop ends. A
  // package offered twice in one round could not even be moved (a database error): wait for the next.
  std::set<outbox::EntryId> tried;
  while (!cancelled()) {
    auto due = outbox_.next_due(clock_->now());
    if (!due) {
      log::error("evidence_outbox_unreadable", {{"code", due.error().code}});
      status_.last_error_code = due.error().code;
      break;
    }
    if (!due->has_value() || !tried.insert((*due)->id).second) break;
    upload_one(**due, cancelled, pause);
  }
  if (!cancelled() && clock_->now() >= next_purge_) purge(clock_->now());
  publish(true);
}

TimePoint EvidenceUploadRounds::next_work_at() const {
  TimePoint next = next_purge_;
  if (auto wake = outbox_.next_wake(); wake && wake->has_value()) next = std::min(next, **wake);
  for (const auto& [id, poll] : receipt_polls_) next = std::min(next, poll.due);
  return next;
}

void EvidenceUploadRounds::upload_one(const outbox::OutboxEntry& entry, const std::function<bool()>& cancelled,
                                      const Pause& pause) {
  auto started = outbox_.start_upload(entry.id);
  if (!started) {
    log::error("evidence_upload_not_started", {{"package", entry.package.package_id}, {"code", started.error().code}});
    status_.last_error_code = started.error().code;
    return;
  }
  status_.current_package = short_id(entry.package.package_id);
  status_.current_offset = entry.server_offset;
  status_.current_length = entry.package.size_bytes;
  status_.bytes_per_second = 0;
  current_transaction_ = entry.package.transaction_id;
  publish(true);

  const sync::UploadSource source{.package_id = entry.package.package_id,
                                  .transaction_id = entry.package.transaction_id,
                                  .package_dir = outbox_.package_path(entry)};
  const auto on_progress = [&](const sync::UploadProgress& progress) {
    status_.current_offset = progress.offset;
    status_.current_length = progress.length;
    status_.bytes_per_second = progress.bytes_per_second;
    // The outbox counts the package's file bytes, the gateway the archive's (file bytes plus tar
    // headers): record the same fraction so that "bytes pending" stays truthful.
    std::uint64_t recorded = entry.package.size_bytes;
    if (progress.length > 0 && progress.offset < progress.length) {
      recorded = static_cast<std::uint64_t>(static_cast<long double>(progress.offset) /
                                            static_cast<long double>(progress.length) *
                                            static_cast<long double>(entry.package.size_bytes));
    }
    if (auto recorded_ok = outbox_.record_progress(entry.id, std::min(recorded, entry.package.size_bytes));
        !recorded_ok) {
      log::warn("evidence_progress_not_recorded",
                {{"package", entry.package.package_id}, {"code", recorded_ok.error().code}});
    }
    publish(false);
  };
  auto outcome = link_->upload(source, on_progress, cancelled);
  status_.current_package.clear();
  status_.current_offset = 0;
  status_.current_length = 0;
  status_.bytes_per_second = 0;
  current_transaction_.clear();
  if (!outcome) {
    if (outcome.error().code == "UPLOAD_CANCELLED" || cancelled()) {
      // Stopping: the package stays "uploading" and recover() at the next start resumes it.
      log::info("evidence_upload_interrupted", {{"package", entry.package.package_id}});
      return;
    }
    log::warn("evidence_upload_failed", {{"package", entry.package.package_id}, {"code", outcome.error().code}});
    status_.last_error_code = outcome.error().code;
    if (auto failed = outbox_.record_failure(entry.id, outcome.error().code, clock_->now()); !failed) {
      log::error("evidence_failure_not_recorded",
                 {{"package", entry.package.package_id}, {"code", failed.error().code}});
    }
    publish(true);
    return;
  }
  auto uploaded = outbox_.mark_uploaded(entry.id, clock_->now());
  if (!uploaded) {
    log::error("evidence_upload_not_recorded",
               {{"package", entry.package.package_id}, {"code", uploaded.error().code}});
    status_.last_error_code = uploaded.error().code;
    return;
  }
  archive_sha256_[entry.id] = outcome->archive_sha256;
  log::info("evidence_uploaded", {{"package", entry.package.package_id},
                                  {"transaction", entry.package.transaction_id},
                                  {"archive_bytes", std::to_string(outcome->archive_size)},
                                  {"bytes_resent", std::to_string(outcome->bytes_resent)},
                                  {"attempts", std::to_string(outcome->attempts)}});
  publish(true);
  // Head office verifies and stores before it signs: ask a few times at once, then on later rounds.
  for (const auto delay : config_.receipt_poll_delays) {
    if (!pause(delay)) break;
    if (fetch_receipt(*uploaded)) return;
    if (rejected_.contains(entry.id)) break;
  }
  schedule_receipt_retry(entry.id);
}

void EvidenceUploadRounds::poll_due_receipts(const std::function<bool()>& cancelled) {
  auto all = outbox_.entries();
  if (!all) {
    log::error("evidence_outbox_unreadable", {{"code", all.error().code}});
    status_.last_error_code = all.error().code;
    return;
  }
  const TimePoint now = clock_->now();
  for (const auto& entry : *all) {
    if (cancelled()) return;
    if (entry.state != outbox::PackageState::uploaded) {
      receipt_polls_.erase(entry.id);
      rejected_.erase(entry.id);
      continue;
    }
    // Uploaded packages not seen yet this run (a restart) are due at once.
    auto [poll, inserted] = receipt_polls_.try_emplace(entry.id, ReceiptPoll{now, 0});
    if (poll->second.due > now) continue;
    if (!fetch_receipt(entry)) schedule_receipt_retry(entry.id);
  }
}

void EvidenceUploadRounds::schedule_receipt_retry(outbox::EntryId id) {
  auto& poll = receipt_polls_[id];
  if (rejected_.contains(id)) {
    poll.due = clock_->now() + config_.rejected_recheck;
    return;
  }
  const int misses = std::min(poll.misses, 20);
  auto delay = config_.receipt_retry_min * (1LL << std::min(misses, 10));
  delay = std::min<seconds>(delay, config_.receipt_retry_max);
  poll.misses = misses + 1;
  poll.due = clock_->now() + delay;
}

bool EvidenceUploadRounds::fetch_receipt(const outbox::OutboxEntry& entry) {
  const std::string& package_id = entry.package.package_id;
  auto response = link_->get("/v1/device/receipts/" + package_id);
  if (!response) {
    log::warn("evidence_receipt_unavailable", {{"package", package_id}, {"code", response.error().code}});
    status_.last_error_code = response.error().code;
    return false;
  }
  if (response->status == 404) return false;  // not stored yet: asked again later
  if (response->status == 422) {
    // Head office refused the package. It stays here, with its files, for people to examine.
    const auto body = nlohmann::json::parse(response->body, nullptr, false);
    std::string reason = "PACKAGE_REJECTED";
    if (body.is_object() && body.contains("reason") && body["reason"].is_string()) {
      reason = body["reason"].get<std::string>();
    }
    const bool known = rejected_.contains(entry.id);
    rejected_[entry.id] = RejectedPackage{package_id, entry.package.transaction_id, reason};
    status_.last_error_code = reason;
    if (!known) {
      log::error("evidence_rejected",
                 {{"package", package_id}, {"transaction", entry.package.transaction_id}, {"reason", reason}});
    }
    publish(true);
    return false;
  }
  if (response->status != 200) {
    const auto body = nlohmann::json::parse(response->body, nullptr, false);
    std::string code = "RECEIPT_FETCH_FAILED";
    if (body.is_object() && body.contains("code") && body["code"].is_string()) code = body["code"].get<std::string>();
    log::warn("evidence_receipt_unavailable",
              {{"package", package_id}, {"status", std::to_string(response->status)}, {"code", code}});
    status_.last_error_code = code;
    return false;
  }
  rejected_.erase(entry.id);  // head office changed its mind: the receipt decides
  auto receipt = verifier_(response->body);
  if (!receipt) {
    log::error("evidence_receipt_invalid", {{"package", package_id}, {"code", receipt.error().code}});
    status_.last_error_code = receipt.error().code;
    return false;
  }
  std::string archive_sha256;
  if (auto known = archive_sha256_.find(entry.id); known != archive_sha256_.end()) {
    archive_sha256 = known->second;
  } else {
    // Uploaded in an earlier run: the archive is rebuilt from the local copy, byte for byte the same.
    auto archive = sync::package::PackageArchiveReader::open(outbox_.package_path(entry));
    if (!archive) {
      log::error("evidence_receipt_unchecked", {{"package", package_id}, {"code", archive.error().code}});
      status_.last_error_code = archive.error().code;
      return false;
    }
    archive_sha256 = archive->sha256();
    archive_sha256_[entry.id] = archive_sha256;
  }
  const std::string mismatch =
      receipt_mismatch(*receipt, ReceiptExpectation{.device_id = config_.device_id,
                                                    .package_id = package_id,
                                                    .transaction_id = entry.package.transaction_id,
                                                    .manifest_sha256 = entry.package.manifest_sha256,
                                                    .archive_sha256 = archive_sha256});
  if (!mismatch.empty()) {
    log::error("evidence_receipt_mismatch", {{"package", package_id}, {"field", mismatch}});
    status_.last_error_code = "RECEIPT_MISMATCH";
    return false;
  }
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(response->body.data());
  auto receipted = outbox_.mark_receipted(entry.id, std::span(bytes, response->body.size()), clock_->now());
  if (!receipted) {
    log::error("evidence_receipt_not_recorded", {{"package", package_id}, {"code", receipted.error().code}});
    status_.last_error_code = receipted.error().code;
    return false;
  }
  receipt_polls_.erase(entry.id);
  archive_sha256_.erase(entry.id);
  log::info("evidence_receipted", {{"package", package_id},
                                   {"transaction", entry.package.transaction_id},
                                   {"receipt", receipt->receipt_id},
                                   {"store", receipt->store},
                                   {"retain_until", receipt->retain_until}});
  auto audited = audit_.append(audit::AuditEvent{.actor_id = config_.device_id,
                                                 .actor_role = "system",
                                                 .kiosk_id = config_.device_id,
                                                 .action = audit::AuditAction::evidence_uploaded,
                                                 .object = entry.package.transaction_id,
                                                 .result = "ok",
                                                 .details = "package " + package_id + " receipt " +
                                                            receipt->receipt_id + " store " + receipt->store +
                                                            " retain_until " + receipt->retain_until});
  if (!audited) log::error("evidence_receipt_not_audited", {{"package", package_id}, {"code", audited.error().code}});
  next_purge_ = TimePoint{};  // a new receipt may be purgeable at once (retention 0)
  publish(true);
  return true;
}

Result<void> EvidenceUploadRounds::audit_purge(const outbox::PurgedPackage& purged) {
  auto appended = audit_.append(audit::AuditEvent{.actor_id = config_.device_id,
                                                  .actor_role = "system",
                                                  .kiosk_id = config_.device_id,
                                                  .action = audit::AuditAction::evidence_deleted,
                                                  .object = purged.transaction_id,
                                                  .result = "ok",
                                                  .details = "evidence_purged package " + purged.package_id +
                                                             " bytes " + std::to_string(purged.size_bytes) +
                                                             " receipted_at " + utc_iso8601(purged.receipted_at)});
  if (!appended) return std::unexpected(appended.error());
  return {};
}

void EvidenceUploadRounds::purge(TimePoint now) {
  next_purge_ = now + config_.purge_interval;
  auto purged = outbox_.purge_due(now, config_.local_retention,
                                  [this](const outbox::PurgedPackage& p) { return audit_purge(p); });
  if (!purged) {
    log::error("evidence_purge_failed", {{"code", purged.error().code}});
    status_.last_error_code = purged.error().code;
    return;
  }
  for (const auto& package : *purged) {
    log::info("evidence_purged", {{"package", package.package_id},
                                  {"transaction", package.transaction_id},
                                  {"bytes", std::to_string(package.size_bytes)}});
  }
}

void EvidenceUploadRounds::publish(bool force_file) {
  const TimePoint now = clock_->now();
  auto stats = outbox_.stats(now);
  if (!stats) {
    log::error("evidence_outbox_unreadable", {{"code", stats.error().code}});
    return;
  }
  status_.sealed = stats->count(outbox::PackageState::sealed);
  status_.uploading = stats->count(outbox::PackageState::uploading);
  status_.uploaded = stats->count(outbox::PackageState::uploaded);
  status_.receipted = stats->count(outbox::PackageState::receipted);
  status_.purgeable = stats->count(outbox::PackageState::purgeable);
  status_.purged = stats->count(outbox::PackageState::purged);
  status_.rejected = rejected_.size();
  if (published_ != status_) {
    published_ = status_;
    if (status_sink_) status_sink_(status_);
  }
  // Progress reports come once per chunk; the file for kioskctl need not be fsynced more than once a second.
  const auto steady_now = std::chrono::steady_clock::now();
  if (!force_file && steady_now - last_file_write_ < std::chrono::seconds{1}) return;
  last_file_write_ = steady_now;
  const std::string text = status_json(status_, rejected_, stats->bytes_pending, stats->oldest_unsent_age,
                                       stats->legal_holds, current_transaction_, now)
                               .dump(2) +
                           "\n";
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
  if (auto written = journal::write_file_atomically(status_file(), std::span(bytes, text.size())); !written) {
    log::warn("evidence_status_not_written", {{"code", written.error().code}});
  }
}

// ---- EvidenceUploadWorker ----

Result<std::unique_ptr<EvidenceUploadWorker>> EvidenceUploadWorker::start(
    EvidenceUploadWorkerConfig config, const Clock& clock, std::unique_ptr<EvidenceLink> link, ReceiptVerifier verifier,
    EvidenceUploadRounds::StatusSink status_sink) {
  auto rounds = EvidenceUploadRounds::open(std::move(config), clock, std::move(link), std::move(verifier),
                                           std::move(status_sink));
  if (!rounds) return std::unexpected(rounds.error());
  return std::unique_ptr<EvidenceUploadWorker>(new EvidenceUploadWorker(std::move(*rounds)));
}

EvidenceUploadWorker::EvidenceUploadWorker(EvidenceUploadRounds rounds)
    : rounds_(std::move(rounds)), thread_([this](std::stop_token stop) { run(stop); }) {}

EvidenceUploadWorker::~EvidenceUploadWorker() {
  thread_.request_stop();
  wake_.notify_all();
}

void EvidenceUploadWorker::wake() {
  {
    std::lock_guard lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

void EvidenceUploadWorker::wait_for_round() {
  std::unique_lock lock(mutex_);
  // A round running now may have looked at the outbox before the call: wait for the next one.
  const std::uint64_t target = rounds_started_ + 1;
  woken_ = true;
  wake_.notify_all();
  round_done_.wait(lock, [&] { return rounds_finished_ >= target || thread_.get_stop_token().stop_requested(); });
}

void EvidenceUploadWorker::run(std::stop_token stop) {
  const auto cancelled = [&stop] { return stop.stop_requested(); };
  const auto pause = [this, &stop](milliseconds delay) {
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, stop, delay, [] { return false; });
    return !stop.stop_requested();
  };
  while (!stop.stop_requested()) {
    {
      std::lock_guard lock(mutex_);
      woken_ = false;
      ++rounds_started_;
    }
    rounds_.run_round(cancelled, pause);
    std::unique_lock lock(mutex_);
    ++rounds_finished_;
    round_done_.notify_all();
    // Sleep until the next piece of work, a wake-up, or the idle poll (the sealer's packages).
    const auto until_work = rounds_.next_work_at() - rounds_.clock().now();
    auto sleep = std::chrono::duration_cast<milliseconds>(until_work);
    sleep = std::clamp(sleep, milliseconds{0}, rounds_.idle_poll());
    wake_.wait_for(lock, stop, sleep, [this] { return woken_; });
  }
  std::lock_guard lock(mutex_);
  round_done_.notify_all();
}

}  // namespace kiosk::app
