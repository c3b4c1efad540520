// A transaction whose every step is durable before it is acknowledged (ARCHITECTURE.md rule 1):
// the workflow decides whether a step may complete, the journal then writes its evidence files
// and commits the step (with its audit trail), and only then does the workflow move on. A step
// the workflow would reject never reaches the journal; a step the journal cannot commit leaves
// the workflow where it was. Every staff member is checked against the staff registry when they
// take a step (assignment time, REQ-12/15/16/17/24/27), not only when they signed in.
#pragma once

#include <map>
#include <span>
#include <string>

#include "kiosk/core/journal/journal.hpp"
#include "kiosk/core/registry/staff_registry.hpp"
#include "kiosk/core/workflow/transaction.hpp"

namespace kiosk::workflow {

class RecordedTransaction {
 public:
  // Opens the transaction in the journal and in memory. `terms_version_hash` is the hash of the
  // subscriber terms this kiosk shows (REQ-51), fixed for the transaction.
  // `staff` must outlive the transaction; `two_staff_mode` is the filed two-staff witness mode.
  static Result<RecordedTransaction> open(journal::Journal& journal, const registry::StaffRegistry& staff,
                                          TransactionSpec spec, std::string kiosk_id, std::string terms_version_hash,
                                          bool two_staff_mode, TimePoint now);

  // Once the identity is verified: whom conflicts are checked against (REQ-16 a, b). Never logged.
  void set_verified_investor(std::string id_number, std::vector<std::string> marketer_staff_ids);

  // For a staff actor, check_assignment() runs first; its refusal code is returned as is.
  Result<void> start_step(StepId step, Actor actor, TimePoint now);
  // Checks the step with the workflow, commits it with its evidence to the journal, then
  // completes it in memory; closes the journal's transaction when the workflow closes. For `idv`,
  // a `document_reviewer_id` detail is checked against the registry as a reviewer first (REQ-08).
  Result<void> complete_step(StepId step, std::span<const journal::EvidenceInput> evidence,
                             std::map<std::string, std::string> details, TimePoint now);
  Result<void> abort(std::string reason_code, TimePoint now);

  [[nodiscard]] const Transaction& workflow() const { return transaction_; }
  [[nodiscard]] journal::TxId journal_id() const { return journal_id_; }

 private:
  RecordedTransaction(journal::Journal& journal, const registry::StaffRegistry& staff, Transaction transaction,
                      journal::TxId id, bool two_staff_mode)
      : journal_(&journal), staff_(&staff), transaction_(std::move(transaction)), journal_id_(id) {
    parties_.two_staff_mode = two_staff_mode;
  }

  // The staff roles held so far, the document reviewer included, for the registry's conflict checks.
  void refresh_assigned_roles();

  journal::Journal* journal_;
  const registry::StaffRegistry* staff_;
  registry::TransactionParties parties_;
  Transaction transaction_;
  journal::TxId journal_id_;
};

}  // namespace kiosk::workflow
