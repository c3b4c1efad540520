// The kiosk's TransactionPort: each certificate transaction is a RecordedTransaction (workflow +
// journal), opened from the rule pack's decision for this kiosk's channel. It adds what the app
// knows and the session must not hold: the chip read for `idv` (from the identity worker), the
// terms hash for `terms`, and the verified investor for the staff conflict checks.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "kiosk/app/identity_worker.hpp"
#include "kiosk/core/clock.hpp"
#include "kiosk/core/journal/journal.hpp"
#include "kiosk/core/policy/rule_pack.hpp"
#include "kiosk/core/registry/staff_registry.hpp"
#include "kiosk/core/transaction_port.hpp"
#include "kiosk/core/workflow/recorded_transaction.hpp"

namespace kiosk::app {

struct JournalTransactionsConfig {
  KioskMode mode = KioskMode::attended_counter;
  std::string kiosk_id;
  std::string terms_version_hash;  // SHA-256 hex of the terms text this kiosk shows (REQ-51)
  bool two_staff_mode = false;
  // Called (on the caller's thread) each time a transaction ends: completed, refused or aborted.
  std::function<void(journal::TxId)> on_closed;
};

using VerifiedReadSource = std::function<std::optional<VerifiedRead>(std::uint64_t attempt)>;

class JournalTransactions final : public TransactionPort {
 public:
  JournalTransactions(JournalTransactionsConfig config, const policy::RulePack& pack, journal::Journal& journal,
                      const registry::StaffRegistry& staff, const Clock& clock, VerifiedReadSource reads);

  [[nodiscard]] std::vector<Medium> media_allowed(Operation operation) const override;
  Result<OpenedTransaction> open(Operation operation, Medium medium) override;
  Result<workflow::Transaction::Completion> complete(StepId step, StepInput input) override;
  void abort(std::string_view reason_code) override;

  // The verified read of the open transaction's `idv` step, for the certificate subject.
  [[nodiscard]] const std::optional<VerifiedRead>& verified_read() const { return verified_; }
  [[nodiscard]] const policy::RulePack& pack() const { return pack_; }

 private:
  JournalTransactionsConfig config_;
  const policy::RulePack& pack_;
  journal::Journal& journal_;
  const registry::StaffRegistry& staff_;
  const Clock& clock_;
  VerifiedReadSource reads_;
  void report_if_closed();

  std::optional<workflow::RecordedTransaction> open_;
  std::optional<VerifiedRead> verified_;
};

}  // namespace kiosk::app
