// The kiosk's identity thread (REQ-05 to REQ-09): owns the ID-card reader, and while the session
// waits on the "place your card" screen it polls for a card, reads it, checks it (check digit,
// validity, document accepted in this channel), decodes the photo when a vendor decoder is
// installed, asks NCIIS through head office, keeps the evidence, and posts the outcome to the
// UI's queue. When idle it watches the reader's health, so a reader unplugged and plugged back is
// noticed and used again without restarting the kiosk.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "hal/idcard/photo_decoder.hpp"
#include "hal/idcard/reader.hpp"
#include "kiosk/core/domain.hpp"
#include "kiosk/core/event_queue.hpp"
#include "kiosk/core/kiosk_session.hpp"
#include "kiosk/core/policy/document_procedure.hpp"

namespace kiosk::app {

// What NCIIS said, as the worker needs it (the HTTPS client lives behind `NciisCheck`).
struct NciisOutcome {
  std::string result;  // MATCH, MISMATCH, NOT_FOUND, ERROR
  std::string request_id;
  std::string checked_at;
  std::string photo_sha256;  // of the photo NCIIS returned; empty when none
};
// Asks NCIIS about (name, citizen number) for a transaction ("tx-00000042", so head office can link
// the check to the transaction's evidence). An Error is a transport failure: treated like ERROR.
using NciisCheck = std::function<Result<NciisOutcome>(const std::string& transaction_id, const std::string& name,
                                                      const std::string& id_number)>;

struct IdentityWorkerConfig {
  hal::idcard::ReaderConfig reader;
  hal::idcard::PhotoDecoderConfig photo_decoder;
  policy::AcceptedDocuments accepted_documents;  // the channel's documents and procedures (REQ-08)
  bool nciis_check = true;                       // ask NCIIS after reading a resident ID card
  std::filesystem::path evidence_dir;            // identity evidence lands in <dir>/identity/<attempt stamp>/
  std::chrono::milliseconds poll_interval{250};
  std::chrono::milliseconds health_interval{3000};
};

// Maps a driver failure to what the investor is told (exposed for tests).
IdentityProblem problem_for(const hal::idcard::ReaderError& failure);
// Maps a document check code (ID_EXPIRED, ID_NUMBER_CHECK_DIGIT, ...) to the investor's problem.
IdentityProblem problem_for_document_check(const std::string& code);
// "张*", "T*** ***": the first character kept, every other non-space character starred.
std::string mask_name(const std::string& utf8_name);

// A read that passed every check, for the transaction's `idv` step and the certificate subject.
// Holds the investor's name and ID number: it stays in the app's memory, never in the session's
// state, a log or an event.
struct VerifiedRead {
  std::uint64_t attempt = 0;
  DocumentType document_type = DocumentType::prc_id;
  std::string name;
  std::string id_number;
  std::map<std::string, std::string> idv_details;                             // what `idv` needs (workflow README)
  std::vector<std::pair<std::string, std::filesystem::path>> evidence_files;  // kind, file
};

class IdentityWorker {
 public:
  IdentityWorker(IdentityWorkerConfig config, NciisCheck nciis, EventQueue<Event>& queue);
  IdentityWorker(const IdentityWorker&) = delete;
  IdentityWorker& operator=(const IdentityWorker&) = delete;
  ~IdentityWorker();  // stops and joins promptly

  // Look for a card for this attempt (idempotent for the same attempt), read for `transaction_id`.
  void arm(std::uint64_t attempt, std::string transaction_id = {});
  // Stop looking (the session left the screen); a read in progress finishes but is ignored.
  void disarm();
  // The verified read of `attempt`, if that attempt passed (kept until forget() or the next pass).
  [[nodiscard]] std::optional<VerifiedRead> verified_read(std::uint64_t attempt) const;
  void forget();  // the session ended: drop the personal data

 private:
  void run(std::stop_token stop);
  void read_for(std::uint64_t attempt);
  void report_reader(bool online, const std::string& code);

  IdentityWorkerConfig config_;
  NciisCheck nciis_;
  EventQueue<Event>& queue_;
  hal::idcard::IdCardReader reader_;
  std::optional<hal::idcard::PhotoDecoder> decoder_;
  std::string decoder_problem_;
  mutable std::mutex mutex_;
  std::optional<VerifiedRead> verified_;
  std::condition_variable_any wake_;
  std::optional<std::uint64_t> armed_attempt_;
  std::string armed_transaction_id_;
  std::optional<bool> reported_online_;
  std::string reported_code_;
  std::jthread thread_;  // last: starts after every member above exists
};

}  // namespace kiosk::app
