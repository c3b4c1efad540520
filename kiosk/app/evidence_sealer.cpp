#include "kiosk/app/evidence_sealer.hpp"

#include <openssl/pem.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <unordered_set>

#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/log.hpp"
#include "sync/package/manifest.hpp"
#include "sync/package/package_writer.hpp"

namespace kiosk::app {
namespace {

Result<openssl::Key> read_public_key(const std::filesystem::path& file) {
  std::FILE* in = std::fopen(file.c_str(), "rb");
  if (in == nullptr) {
    return fail("EVIDENCE_KEY_UNREADABLE", "cannot open " + file.string());
  }
  EVP_PKEY* key = PEM_read_PUBKEY(in, nullptr, nullptr, nullptr);
  std::fclose(in);
  if (key == nullptr) {
    return fail("EVIDENCE_KEY_UNREADABLE", file.string() + " holds no PEM public key");
  }
  return openssl::Key(key);
}

Result<std::uint64_t> directory_bytes(const std::filesystem::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) total += entry.file_size(ec);
    if (ec) break;
  }
  if (ec) return fail("EVIDENCE_PACKAGE_UNREADABLE", "cannot list " + dir.string() + ": " + ec.message());
  return total;
}

}  // namespace

Result<std::unique_ptr<EvidenceSealer>> EvidenceSealer::start(EvidenceSealerConfig config, const Clock& clock) {
  if (config.recipient_files.empty()) {
    return fail("EVIDENCE_NO_RECIPIENT",
                "no head-office recipient key is configured ([evidence] recipients): evidence could not be sealed");
  }
  auto device_key = sync::load_device_key(config.device_key);
  if (!device_key) return std::unexpected(device_key.error());
  std::vector<openssl::Key> recipients;
  for (const auto& file : config.recipient_files) {
    auto key = read_public_key(file);
    if (!key) return std::unexpected(key.error());
    recipients.push_back(std::move(*key));
  }
  outbox::OutboxOptions options;
  options.state_dir = config.state_dir;
  auto opened = outbox::Outbox::open(options);
  if (!opened) return std::unexpected(opened.error());
  if (auto recovered = opened->recover(); !recovered) return std::unexpected(recovered.error());
  return std::unique_ptr<EvidenceSealer>(
      new EvidenceSealer(std::move(config), clock, std::move(*opened), std::move(*device_key), std::move(recipients)));
}

EvidenceSealer::EvidenceSealer(EvidenceSealerConfig config, const Clock& clock, outbox::Outbox outbox,
                               openssl::Key device_key, std::vector<openssl::Key> recipients)
    : config_(std::move(config)),
      clock_(clock),
      outbox_(std::move(outbox)),
      device_key_(std::move(device_key)),
      recipients_(std::move(recipients)),
      thread_([this](std::stop_token stop) { run(stop); }) {}

EvidenceSealer::~EvidenceSealer() {
  thread_.request_stop();
  wake_.notify_all();
}

void EvidenceSealer::submit(journal::TransactionRecord record, audit::Checkpoint checkpoint) {
  {
    std::lock_guard lock(mutex_);
    jobs_.push_back(Job{std::move(record), std::move(checkpoint)});
  }
  wake_.notify_all();
}

Result<std::size_t> EvidenceSealer::submit_unsealed(const journal::Journal& journal) {
  // Two queries, not two per transaction: a kiosk's journal grows for years.
  auto head = journal.audit_log() != nullptr ? journal.audit_log()->head() : Result<audit::Checkpoint>{};
  if (!head) return std::unexpected(head.error());
  auto closed = journal.closed_transactions();
  if (!closed) return std::unexpected(closed.error());
  std::unique_lock lock(mutex_);
  auto queued_ids = outbox_.queued_transaction_ids();
  lock.unlock();
  if (!queued_ids) return std::unexpected(queued_ids.error());
  const std::unordered_set<std::string> queued(queued_ids->begin(), queued_ids->end());
  std::size_t submitted = 0;
  for (const journal::TxId id : *closed) {
    if (queued.contains(journal::evidence_transaction_id(id))) continue;
    auto record = journal.transaction(id);
    if (!record) return std::unexpected(record.error());
    submit(std::move(*record), *head);
    ++submitted;
  }
  return submitted;
}

void EvidenceSealer::drain() {
  std::unique_lock lock(mutex_);
  idle_.wait(lock, [this] { return jobs_.empty() && !busy_; });
}

void EvidenceSealer::run(std::stop_token stop) {
  std::unique_lock lock(mutex_);
  while (!stop.stop_requested()) {
    wake_.wait(lock, stop, [this] { return !jobs_.empty(); });
    if (stop.stop_requested()) break;
    Job job = std::move(jobs_.front());
    jobs_.pop_front();
    busy_ = true;
    lock.unlock();
    seal(job);
    lock.lock();
    busy_ = false;
    idle_.notify_all();
  }
  busy_ = false;
  idle_.notify_all();
}

void EvidenceSealer::seal(const Job& job) {
  const std::string transaction_id = journal::evidence_transaction_id(job.record.id);
  std::vector<EVP_PKEY*> recipients;
  for (const auto& key : recipients_) recipients.push_back(key.get());
  std::unique_lock lock(mutex_);  // the outbox connection is shared with submit_unsealed()
  const auto out_dir = outbox_.directory();
  lock.unlock();
  auto sealed = sync::package::seal_package(job.record, config_.evidence_dir, out_dir, device_key_.get(), recipients,
                                            job.checkpoint, clock_);
  if (!sealed) {
    // The journal keeps the transaction and its evidence; the next start tries again.
    log::error("evidence_not_sealed", {{"transaction", transaction_id}, {"code", sealed.error().code}});
    return;
  }
  auto manifest = sync::package::serialize_manifest(sealed->manifest);
  auto bytes = directory_bytes(sealed->directory);
  if (!manifest || !bytes) {
    log::error("evidence_not_queued",
               {{"transaction", transaction_id}, {"code", !manifest ? manifest.error().code : bytes.error().code}});
    return;
  }
  const outbox::PackageRef package{.directory_name = sealed->directory.filename().string(),
                                   .package_id = sealed->manifest.package_id,
                                   .transaction_id = transaction_id,
                                   .size_bytes = *bytes,
                                   .manifest_sha256 = journal::sha256_hex(std::span(
                                       reinterpret_cast<const std::uint8_t*>(manifest->data()), manifest->size()))};
  lock.lock();
  auto queued = outbox_.enqueue(package, clock_.now());
  lock.unlock();
  if (!queued) {
    log::error("evidence_not_queued", {{"transaction", transaction_id}, {"code", queued.error().code}});
    return;
  }
  log::info("evidence_sealed", {{"transaction", transaction_id},
                                {"package", package.package_id},
                                {"bytes", std::to_string(package.size_bytes)},
                                {"steps", std::to_string(sealed->manifest.steps.size())}});
}

}  // namespace kiosk::app
