#include "kiosk/app/journal_transactions.hpp"

#include <openssl/rand.h>

#include <cstdio>

#include "kiosk/core/log.hpp"
#include "kiosk/core/policy/policy.hpp"
#include "kiosk/core/time_text.hpp"

namespace kiosk::app {
namespace {

// "<kiosk>-<UTC yyyymmddThhmmss>-<6 hex>": unique per kiosk, sortable, no personal data.
std::string new_transaction_id(const std::string& kiosk_id, TimePoint now) {
  std::string stamp;
  for (const char c : utc_iso8601(now)) {
    if (c != '-' && c != ':' && c != 'Z') stamp += c;
  }
  unsigned char random[3] = {};
  if (RAND_bytes(random, sizeof random) != 1) random[0] = random[1] = random[2] = 0;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%02x%02x%02x", random[0], random[1], random[2]);
  return kiosk_id + "-" + stamp + "-" + suffix;
}

}  // namespace

JournalTransactions::JournalTransactions(JournalTransactionsConfig config, const policy::RulePack& pack,
                                         journal::Journal& journal, const registry::StaffRegistry& staff,
                                         const Clock& clock, VerifiedReadSource reads)
    : config_(std::move(config)),
      pack_(pack),
      journal_(journal),
      staff_(staff),
      clock_(clock),
      reads_(std::move(reads)) {}

std::vector<Medium> JournalTransactions::media_allowed(Operation operation) const {
  const Channel channel = channel_of(config_.mode);
  std::vector<Medium> offered;
  // REQ-50: a token is written only in an attended session. Soft certificates are offered for
  // applications (the investor's own software downloads them); the other soft operations follow.
  if (config_.mode != KioskMode::remote) offered.push_back(Medium::hard);
  if (operation == Operation::apply) offered.push_back(Medium::soft);
  std::vector<Medium> allowed;
  for (const Medium medium : offered) {
    const auto decision = policy::evaluate(pack_, {.operation = operation,
                                                   .channel = channel,
                                                   .investor = InvestorType::natural,
                                                   .medium = medium,
                                                   .document = std::nullopt});
    if (decision.allowed) allowed.push_back(medium);
  }
  return allowed;
}

Result<OpenedTransaction> JournalTransactions::open(Operation operation, Medium medium) {
  if (open_ && open_->workflow().state() == TxState::open) abort("SUPERSEDED_BY_NEW_TRANSACTION");
  open_.reset();
  verified_.reset();
  if (medium == Medium::hard && config_.mode == KioskMode::remote) {
    return fail("TOKEN_WRITE_NOT_ALLOWED", "a hard certificate is never written in the remote mode (REQ-50)");
  }
  const Channel channel = channel_of(config_.mode);
  const auto decision = policy::evaluate(pack_, {.operation = operation,
                                                 .channel = channel,
                                                 .investor = InvestorType::natural,
                                                 .medium = medium,
                                                 .document = std::nullopt});
  if (!decision.allowed) return std::unexpected(Error{decision.code, decision.reason});
  for (const StepId step : decision.mandatory_steps) {
    if (!kiosk_can_perform(step)) {
      return fail("STEP_NOT_AVAILABLE_AT_KIOSK", "the rule pack makes the step '" + std::string(to_string(step)) +
                                                     "' mandatory and this kiosk cannot perform it yet");
    }
  }
  const TimePoint now = clock_.now();
  workflow::TransactionSpec spec{.id = new_transaction_id(config_.kiosk_id, now),
                                 .operation = operation,
                                 .channel = channel,
                                 .investor = InvestorType::natural,
                                 .medium = medium,
                                 .rule_pack_version = pack_.pack_version,
                                 .mandatory_steps = decision.mandatory_steps,
                                 .accepted_documents = decision.accepted_documents};
  auto opened = workflow::RecordedTransaction::open(journal_, staff_, spec, config_.kiosk_id,
                                                    config_.terms_version_hash, config_.two_staff_mode, now);
  if (!opened) return std::unexpected(opened.error());
  open_.emplace(std::move(*opened));
  return OpenedTransaction{.id = spec.id,
                           .evidence_id = journal::evidence_transaction_id(open_->journal_id()),
                           .steps = decision.mandatory_steps,
                           .reason_codes = pack_.operations[policy::index_of(operation)].reason_codes};
}

Result<workflow::Transaction::Completion> JournalTransactions::complete(StepId step, StepInput input) {
  if (!open_ || open_->workflow().state() != TxState::open) {
    return fail("TRANSACTION_CLOSED", "no transaction is open");
  }
  std::vector<journal::EvidenceInput> evidence;
  if (step == StepId::terms) input.details["terms_version_hash"] = config_.terms_version_hash;
  if (step == StepId::idv) {
    std::uint64_t attempt = 0;
    const auto found = input.details.find("identity_attempt");
    if (found != input.details.end()) attempt = std::stoull(found->second);
    auto read = reads_ ? reads_(attempt) : std::nullopt;
    if (!read) return fail("EVIDENCE_MISSING", "no verified chip read for this identity attempt");
    input.details = read->idv_details;
    for (const auto& [kind, file] : read->evidence_files)
      evidence.push_back(journal::EvidenceInput::from_file(kind, file));
    // REQ-16: staff steps after this are checked against the verified investor (never logged).
    open_->set_verified_investor(read->id_number, {});
    verified_ = std::move(read);
  }
  for (const auto& [kind, bytes] : input.evidence) evidence.push_back(journal::EvidenceInput::from_bytes(kind, bytes));

  const TimePoint now = clock_.now();
  if (auto started = open_->start_step(step, input.actor, now); !started) return std::unexpected(started.error());
  if (auto completed = open_->complete_step(step, evidence, std::move(input.details), clock_.now()); !completed) {
    // The step stays started: the transaction cannot go on, so it is aborted with the reason.
    (void)open_->abort(completed.error().code, clock_.now());
    report_if_closed();
    return std::unexpected(completed.error());
  }
  const auto& workflow = open_->workflow();
  workflow::Transaction::Completion completion{workflow::StepOutcome::done, {}};
  if (workflow.state() == TxState::refused) completion = {workflow::StepOutcome::refused, workflow.outcome_code()};
  report_if_closed();
  return completion;
}

void JournalTransactions::report_if_closed() {
  if (open_ && open_->workflow().state() != TxState::open && config_.on_closed) config_.on_closed(open_->journal_id());
}

void JournalTransactions::abort(std::string_view reason_code) {
  if (open_ && open_->workflow().state() == TxState::open) {
    if (auto aborted = open_->abort(std::string(reason_code), clock_.now()); !aborted) {
      log::error("transaction_abort_failed", {{"code", aborted.error().code}});
    }
    report_if_closed();
  }
  open_.reset();
  verified_.reset();
}

}  // namespace kiosk::app
