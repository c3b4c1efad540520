// Seals every transaction that ends (completed, refused or aborted) into an evidence package
// (sync/package) and queues it in the durable outbox (sync/outbox), on its own thread: encrypting
// large evidence must never stall the screen. The UI thread hands over a copy of the journal's
// record and the audit chain head; this thread owns the outbox connection and the keys.
#pragma once

#include <condition_variable>
#include <deque>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kiosk/core/audit/audit_log.hpp"
#include "kiosk/core/clock.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/journal/journal.hpp"
#include "kiosk/core/openssl_handles.hpp"
#include "sync/client/device_key.hpp"
#include "sync/outbox/outbox.hpp"

namespace kiosk::app {

struct EvidenceSealerConfig {
  std::filesystem::path state_dir;                     // the outbox lives in <state_dir>/outbox
  std::filesystem::path evidence_dir;                  // the journal's evidence directory
  sync::DeviceKeySpec device_key;                      // signs each manifest: a PEM file or a token key
  std::vector<std::filesystem::path> recipient_files;  // PEM public keys of head office's recipients
};

class EvidenceSealer {
 public:
  // Loads the keys and opens the outbox. EVIDENCE_KEY_UNREADABLE, EVIDENCE_NO_RECIPIENT, OUTBOX_*.
  static Result<std::unique_ptr<EvidenceSealer>> start(EvidenceSealerConfig config, const Clock& clock);
  ~EvidenceSealer();  // finishes the package being sealed; the rest are sealed at the next start
  EvidenceSealer(const EvidenceSealer&) = delete;
  EvidenceSealer& operator=(const EvidenceSealer&) = delete;

  // Queues a closed transaction for sealing (called on the UI thread; returns at once).
  void submit(journal::TransactionRecord record, audit::Checkpoint checkpoint);
  // Closed transactions of the journal that have no package yet (a crash between the end of a
  // transaction and its sealing): submitted again at start. Runs on the caller's thread.
  Result<std::size_t> submit_unsealed(const journal::Journal& journal);
  // Waits until everything submitted so far is sealed or has failed (tests, orderly shutdown).
  void drain();

 private:
  struct Job {
    journal::TransactionRecord record;
    audit::Checkpoint checkpoint;
  };
  EvidenceSealer(EvidenceSealerConfig config, const Clock& clock, outbox::Outbox outbox, openssl::Key device_key,
                 std::vector<openssl::Key> recipients);
  void run(std::stop_token stop);
  void seal(const Job& job);

  EvidenceSealerConfig config_;
  const Clock& clock_;
  outbox::Outbox outbox_;  // this thread only, after start
  openssl::Key device_key_;
  std::vector<openssl::Key> recipients_;
  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::condition_variable_any idle_;
  std::deque<Job> jobs_;
  bool busy_ = false;
  std::jthread thread_;  // last: starts after every member above exists
};

}  // namespace kiosk::app
