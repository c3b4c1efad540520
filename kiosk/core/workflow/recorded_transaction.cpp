#include "kiosk/core/workflow/recorded_transaction.hpp"

#include "kiosk/core/log.hpp"

namespace kiosk::workflow {
namespace {

std::string result_code(const Transaction::Completion& completion) {
  switch (completion.outcome) {
    case StepOutcome::refused: return completion.refusal_code;
    case StepOutcome::retry: return "RETRY";
    default: return "ok";
  }
}

}  // namespace

Result<RecordedTransaction> RecordedTransaction::open(journal::Journal& journal, const registry::StaffRegistry& staff,
                                                      TransactionSpec spec, std::string kiosk_id,
                                                      std::string terms_version_hash, bool two_staff_mode,
                                                      TimePoint now) {
  const journal::TransactionHeader header{.operation = spec.operation,
                                          .channel = spec.channel,
                                          .investor_type = spec.investor,
                                          .medium = spec.medium,
                                          .kiosk_id = std::move(kiosk_id),
                                          .rule_pack_version = spec.rule_pack_version,
                                          .terms_version_hash = std::move(terms_version_hash)};
  auto transaction = Transaction::open(std::move(spec), now);
  if (!transaction) return std::unexpected(transaction.error());
  auto id = journal.open_transaction(header);
  if (!id) return std::unexpected(id.error());
  log::info("transaction_opened", {{"tx", std::to_string(*id)},
                                   {"operation", std::string(to_string(header.operation))},
                                   {"channel", std::string(to_string(header.channel))},
                                   {"rule_pack", header.rule_pack_version}});
  return RecordedTransaction(journal, staff, std::move(*transaction), *id, two_staff_mode);
}

void RecordedTransaction::set_verified_investor(std::string id_number, std::vector<std::string> marketer_staff_ids) {
  parties_.investor_id_number = std::move(id_number);
  parties_.investor_marketer_staff_ids = std::move(marketer_staff_ids);
}

void RecordedTransaction::refresh_assigned_roles() {
  parties_.assigned.clear();
  for (const auto& record : transaction_.steps()) {
    if (record.actor.kind == ActorKind::staff && record.actor.role) {
      parties_.assigned.emplace_back(*record.actor.role, record.actor.staff_id);
    }
  }
  // The reviewer who confirmed the identity document holds the reviewer role here (REQ-08).
  if (const auto document_reviewer = transaction_.document_reviewer_id()) {
    parties_.assigned.emplace_back(StaffRole::reviewer, *document_reviewer);
  }
}

Result<void> RecordedTransaction::start_step(StepId step, Actor actor, TimePoint now) {
  if (actor.kind == ActorKind::staff && actor.role) {
    // The roles already held in this transaction, for the conflict checks.
    refresh_assigned_roles();
    if (auto eligible = registry::check_assignment(*staff_, actor.staff_id, *actor.role, parties_, now); !eligible) {
      log::warn("staff_assignment_refused", {{"tx", std::to_string(journal_id_)},
                                             {"step", std::string(to_string(step))},
                                             {"staff", actor.staff_id},
                                             {"code", eligible.error().code}});
      return eligible;
    }
  }
  return transaction_.start_step(step, std::move(actor), now);
}

Result<void> RecordedTransaction::complete_step(StepId step, std::span<const journal::EvidenceInput> evidence,
                                                std::map<std::string, std::string> details, TimePoint now) {
  // The workflow's verdict on the evidence kinds first; paths and hashes exist only once written.
  StepResult proposed{.evidence = {}, .details = details};
  for (const auto& item : evidence) {
    proposed.evidence.push_back({.kind = item.kind, .path = "(not yet written)", .sha256 = "(not yet written)"});
  }
  auto completion = transaction_.check_completion(step, proposed);
  if (!completion) return std::unexpected(completion.error());
  // REQ-08: the document reviewer named in `idv` is checked like any staff member taking a step:
  // a known, eligible reviewer with no conflicting role in this transaction.
  if (const auto reviewer = details.find("document_reviewer_id");
      step == StepId::idv && reviewer != details.end() && !reviewer->second.empty()) {
    refresh_assigned_roles();
    if (auto eligible = registry::check_assignment(*staff_, reviewer->second, StaffRole::reviewer, parties_, now);
        !eligible) {
      log::warn("staff_assignment_refused", {{"tx", std::to_string(journal_id_)},
                                             {"step", std::string(to_string(step))},
                                             {"staff", reviewer->second},
                                             {"code", eligible.error().code}});
      return eligible;
    }
  }

  const StepRecord& running = transaction_.steps().back();
  const journal::StepRecord record{.step = step,
                                   .actor_staff_id = running.actor.staff_id,
                                   .actor_role = running.actor.role,
                                   .started_at = running.started_at,
                                   .ended_at = now,
                                   .result = result_code(*completion)};
  auto stored = journal_->commit_step(journal_id_, record, evidence);
  if (!stored) return std::unexpected(stored.error());

  StepResult durable{.evidence = {}, .details = std::move(details)};
  for (const auto& item : stored->evidence) {
    durable.evidence.push_back({.kind = item.kind, .path = item.relative_path, .sha256 = item.sha256_hex});
  }
  if (auto completed = transaction_.complete_step(step, std::move(durable), now); !completed) return completed;
  // Operational trace only: ids, step names and codes; never what the evidence holds.
  log::info("step_committed", {{"tx", std::to_string(journal_id_)},
                               {"step", std::string(to_string(step))},
                               {"actor", record.actor_staff_id.empty() ? std::string("-") : record.actor_staff_id},
                               {"result", record.result},
                               {"evidence_items", std::to_string(stored->evidence.size())}});
  if (transaction_.state() != TxState::open) {
    if (auto closed = journal_->close_transaction(journal_id_, transaction_.state(), transaction_.outcome_code());
        !closed) {
      return closed;
    }
    log::info("transaction_closed", {{"tx", std::to_string(journal_id_)},
                                     {"state", std::string(to_string(transaction_.state()))},
                                     {"code", transaction_.outcome_code()}});
  }
  return {};
}

Result<void> RecordedTransaction::abort(std::string reason_code, TimePoint now) {
  if (auto closed = journal_->close_transaction(journal_id_, TxState::aborted, reason_code); !closed) return closed;
  return transaction_.abort(std::move(reason_code), now);
}

}  // namespace kiosk::workflow
