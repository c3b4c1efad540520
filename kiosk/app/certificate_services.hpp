// Everything the certificate transaction needs beyond the identity check, composed for the kiosk
// program: the journal and staff registry behind the session's TransactionPort, the on-site staff
// verification with head office, the token worker (hard certificates) and the soft-certificate
// request. Device and network work runs on their own threads and reports through the event queue.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "kiosk/app/evidence_sealer.hpp"
#include "kiosk/app/identity_worker.hpp"
#include "kiosk/app/journal_transactions.hpp"
#include "kiosk/app/kiosk_config.hpp"
#include "kiosk/app/token_worker.hpp"
#include "kiosk/core/event_queue.hpp"
#include "kiosk/core/journal/journal.hpp"
#include "kiosk/core/policy/rule_pack.hpp"
#include "kiosk/core/registry/staff_registry.hpp"
#include "sync/client/https_client.hpp"

namespace kiosk::app {

// SHA-256 (hex) of the subscriber terms as the kiosk shows them: the pack's terms version and the
// text in every language (REQ-51).
std::string terms_version_hash(std::string_view terms_version, const std::vector<std::string>& texts);

class CertificateServices {
 public:
  // Opens the journal (<state_dir>/journal/), recovers it, loads the staff feed and the token
  // allowlist. Errors name what is wrong (JOURNAL_*, REGISTRY_*, TOKEN_ALLOWLIST_*).
  static Result<std::unique_ptr<CertificateServices>> open(const KioskConfig& config, const policy::RulePack& pack,
                                                           std::string terms_hash, IdentityWorker& identity,
                                                           EventQueue<Event>& queue, const Clock& clock);
  ~CertificateServices();
  CertificateServices(const CertificateServices&) = delete;
  CertificateServices& operator=(const CertificateServices&) = delete;

  TransactionPort& port() { return *transactions_; }

  // Secrets from the UI: handed on and wiped. The staff answer arrives as StaffVerified/StaffRefused.
  void submit_staff(std::string& staff_id, std::string& password, std::uint64_t attempt);
  void submit_pin(std::string& pin, std::string& new_pin);

  // Called after every batch of events: starts the certificate work when the session reaches the
  // `issue` step, and cancels it when the session left the transaction.
  void follow(const KioskState& state);

 private:
  CertificateServices(const KioskConfig& config, EventQueue<Event>& queue);
  void start_issue(const KioskState& state);
  void seal(journal::TxId transaction);
  std::optional<sync::CaSubjectFields> verified_subject() const;

  const KioskConfig& config_;
  EventQueue<Event>& queue_;
  std::optional<journal::Journal> journal_;
  std::optional<registry::StaffRegistry> staff_;
  std::unique_ptr<EvidenceSealer> sealer_;  // null when no evidence recipient is configured
  std::unique_ptr<JournalTransactions> transactions_;
  CaClientFactory ca_factory_;
  std::unique_ptr<TokenWorker> tokens_;
  std::uint64_t issue_started_for_ = 0;  // the flow attempt whose `issue` work was started
  std::uint64_t followed_attempt_ = 0;
  std::jthread staff_call_;  // one staff verification at a time
  std::jthread ca_call_;     // a lookup before a token-less operation, or the soft apply
};

}  // namespace kiosk::app
