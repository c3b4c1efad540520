#include "kiosk/app/certificate_services.hpp"

#include <algorithm>
#include <cstdlib>
#include <type_traits>
#include <variant>

#include "kiosk/core/journal/atomic_file.hpp"
#include "kiosk/core/log.hpp"
#include "sync/client/ca_client.hpp"
#include "sync/client/staff_client.hpp"

namespace kiosk::app {
namespace {

kiosk::TokenProblem session_problem(app::TokenProblem problem) {
  switch (problem) {
    case app::TokenProblem::model_not_allowed: return kiosk::TokenProblem::model_not_allowed;
    case app::TokenProblem::pin_locked: return kiosk::TokenProblem::pin_locked;
    case app::TokenProblem::token_removed: return kiosk::TokenProblem::token_removed;
    case app::TokenProblem::ca_refused: return kiosk::TokenProblem::ca_refused;
    case app::TokenProblem::gateway_unreachable: return kiosk::TokenProblem::head_office_unreachable;
    case app::TokenProblem::not_subjects_certificate: return kiosk::TokenProblem::not_subjects_certificate;
    case app::TokenProblem::no_certificate_on_token: return kiosk::TokenProblem::no_certificate;
    case app::TokenProblem::pin_incorrect:
    case app::TokenProblem::token_fault: return kiosk::TokenProblem::token_fault;
  }
  return kiosk::TokenProblem::token_fault;
}

kiosk::TokenStage session_stage(app::TokenStage stage) {
  switch (stage) {
    case app::TokenStage::keygen: return kiosk::TokenStage::keygen;
    case app::TokenStage::request: return kiosk::TokenStage::request;
    case app::TokenStage::issuance:
    case app::TokenStage::ca_call: return kiosk::TokenStage::ca_call;
    case app::TokenStage::import: return kiosk::TokenStage::import;
    case app::TokenStage::verify: return kiosk::TokenStage::verify;
  }
  return kiosk::TokenStage::ca_call;
}

// A transport failure is "try later"; anything head office itself answered is its refusal.
kiosk::TokenProblem problem_of_ca_error(const Error& error) {
  const std::string& code = error.code;
  const bool transport = code.starts_with("GATEWAY_") || code.starts_with("TLS_") || code == "CLIENT_CERT_UNREADABLE";
  return transport ? kiosk::TokenProblem::head_office_unreachable : kiosk::TokenProblem::ca_refused;
}

// Posts the worker's reports to the session's queue as session events.
void post_report(EventQueue<Event>& queue, TokenReport report) {
  std::visit(
      [&queue](auto& r) {
        using R = std::decay_t<decltype(r)>;
        if constexpr (std::is_same_v<R, app::TokenWaiting>) {
          queue.push(event::TokenWaiting{r.attempt, !r.reinsert_serial_masked.empty()});
        } else if constexpr (std::is_same_v<R, app::TokenFound>) {
          // The model is checked by the worker; a refusal follows as TokenFailed.
          if (!r.allowed) log::warn("token_model_refused", {{"model", r.model}, {"manufacturer", r.manufacturer}});
        } else if constexpr (std::is_same_v<R, app::TokenPinNeeded>) {
          PinRequest request;
          request.kind =
              r.kind == TokenPinKind::initial_then_new ? PinEntryKind::initial_then_new : PinEntryKind::current;
          request.min_length = static_cast<unsigned>(r.min_len == 0 ? 4 : r.min_len);
          request.max_length = static_cast<unsigned>(r.max_len == 0 || r.max_len > 32 ? 16 : r.max_len);
          request.count_low = r.count_low || !r.retry_code.empty();
          request.final_try = r.final_try;
          queue.push(event::TokenPinNeeded{r.attempt, request});
        } else if constexpr (std::is_same_v<R, app::TokenProgress>) {
          queue.push(event::TokenProgress{r.attempt, session_stage(r.stage)});
        } else if constexpr (std::is_same_v<R, app::TokenDone>) {
          log::info("token_operation_done", {{"keygen_ms", std::to_string(r.timings_ms.keygen_ms)},
                                             {"request_ms", std::to_string(r.timings_ms.request_ms)},
                                             {"issuance_ms", std::to_string(r.timings_ms.issuance_ms)},
                                             {"import_ms", std::to_string(r.timings_ms.import_ms)}});
          queue.push(event::TokenDone{.attempt = r.attempt,
                                      .outcome = CertificateOutcome{.serial = r.serial,
                                                                    .state = r.state,
                                                                    .not_after = r.not_after,
                                                                    .retired_serial = r.retired_serial},
                                      .certificate_der = std::move(r.certificate_der),
                                      .request_der = std::move(r.csr_der),
                                      .removal_detectable = r.removal_reported});
        } else if constexpr (std::is_same_v<R, app::TokenFailed>) {
          log::warn("token_operation_failed", {{"code", r.code}, {"state_left", r.consistent_note}});
          queue.push(event::TokenFailed{r.attempt, session_problem(r.problem), r.code});
        } else if constexpr (std::is_same_v<R, app::TokenRemoved>) {
          queue.push(event::TokenRemoved{r.attempt});
        }
      },
      report);
}

sync::TlsIdentity device_tls(const KioskConfig& config) { return device_tls_identity(config); }

std::chrono::milliseconds timeout_of(const KioskConfig& config) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(config.gateway_timeout);
}

}  // namespace

std::string terms_version_hash(std::string_view terms_version, const std::vector<std::string>& texts) {
  std::string all(terms_version);
  for (const std::string& text : texts) all += "\n" + text;
  return journal::sha256_hex(std::span(reinterpret_cast<const std::uint8_t*>(all.data()), all.size()));
}

CertificateServices::CertificateServices(const KioskConfig& config, EventQueue<Event>& queue)
    : config_(config), queue_(queue) {}

CertificateServices::~CertificateServices() {
  if (ca_call_.joinable()) ca_call_.join();  // it may hand a job to the token worker
  if (staff_call_.joinable()) staff_call_.join();
  tokens_.reset();                // cancels a running job (rolling back an unwritten certificate) and joins
  if (sealer_) sealer_->drain();  // the last transaction's package is sealed before the kiosk stops
}

Result<std::unique_ptr<CertificateServices>> CertificateServices::open(const KioskConfig& config,
                                                                       const policy::RulePack& pack,
                                                                       std::string terms_hash, IdentityWorker& identity,
                                                                       EventQueue<Event>& queue, const Clock& clock) {
  std::unique_ptr<CertificateServices> services(new CertificateServices(config, queue));

  auto staff = registry::StaffRegistry::from_file(config.staff_registry);
  if (!staff) return std::unexpected(staff.error());
  services->staff_.emplace(std::move(*staff));

  journal::JournalOptions options;
  options.database = config.state_dir / "journal" / "journal.sqlite";
  options.evidence_dir = config.state_dir / "journal" / "evidence";
  options.clock = &clock;
  if (auto made = journal::ensure_directory_durable(options.evidence_dir); !made) return std::unexpected(made.error());
  auto journal = journal::Journal::open(options);
  if (!journal) return std::unexpected(journal.error());
  services->journal_.emplace(std::move(*journal));
  // A transaction left open by a crash or power cut cannot be resumed at the screen: it is closed
  // as aborted, its evidence kept (ARCHITECTURE.md rule 1).
  auto recovered = services->journal_->recover_on_start("KIOSK_RESTARTED");
  if (!recovered) return std::unexpected(recovered.error());

  if (!config.evidence_recipient.empty()) {
    EvidenceSealerConfig sealing{.state_dir = config.state_dir,
                                 .evidence_dir = options.evidence_dir,
                                 .device_key = {.key = config.device_key_file.string(),
                                                .pkcs11_module = config.device_key_pkcs11_module,
                                                .pin_file = config.device_key_pin_file},
                                 .recipient_files = {config.evidence_recipient}};
    if (!config.evidence_escrow_recipient.empty()) sealing.recipient_files.push_back(config.evidence_escrow_recipient);
    auto sealer = EvidenceSealer::start(std::move(sealing), clock);
    if (!sealer) return std::unexpected(sealer.error());
    services->sealer_ = std::move(*sealer);
    // A transaction that ended just before a crash or power cut is sealed now.
    auto resubmitted = services->sealer_->submit_unsealed(*services->journal_);
    if (!resubmitted) return std::unexpected(resubmitted.error());
  } else {
    log::warn("evidence_sealing_off", {{"reason", "no [evidence] recipient configured"}});
  }

  CertificateServices* self = services.get();
  services->transactions_ = std::make_unique<JournalTransactions>(
      JournalTransactionsConfig{.mode = config.kiosk_mode,
                                .kiosk_id = config.device_id,
                                .terms_version_hash = std::move(terms_hash),
                                .two_staff_mode = false,
                                .on_closed = [self](journal::TxId id) { self->seal(id); }},
      pack, *services->journal_, *services->staff_, clock,
      [&identity](std::uint64_t attempt) { return identity.verified_read(attempt); });

  services->ca_factory_ = ca_client_factory(config.gateway_url, device_tls(config), timeout_of(config));

  hal::token::TokenAllowlist allowlist;
  if (!config.token_allowlist.empty()) {
    auto loaded = hal::token::TokenAllowlist::from_file(config.token_allowlist);
    if (!loaded) return std::unexpected(loaded.error());
    allowlist = std::move(*loaded);
  }
  const auto softhsm_config = simulated_token_config(config);
  if (!softhsm_config.empty() && std::getenv("SOFTHSM2_CONF") == nullptr) {
    // The simulated token's store lives in the kiosk's state, like every other simulated device.
    ::setenv("SOFTHSM2_CONF", softhsm_config.c_str(), 0);
  }
  TokenWorkerConfig worker;
  worker.allowlist = std::move(allowlist);
  // SoftHSM2 shows tokens made after C_Initialize only when reopened (kiosk/app/README.md).
  worker.reopen_module_while_waiting = config.token_module == "sim";
  worker.module_reports_removal = config.token_module != "sim";
  worker.reinsert_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(config.token_reinsert_timeout);
  services->tokens_ = std::make_unique<TokenWorker>(
      std::move(worker), pkcs11_driver_factory(token_module_path(config)), services->ca_factory_,
      [&queue](TokenReport report) { post_report(queue, std::move(report)); });
  return services;
}

void CertificateServices::seal(journal::TxId transaction) {
  if (!sealer_) return;
  auto record = journal_->transaction(transaction);
  const auto* audit = journal_->audit_log();
  auto head = audit != nullptr ? audit->head() : Result<audit::Checkpoint>{};
  if (!record || !head) {
    // The next start finds the unsealed transaction and seals it (submit_unsealed).
    log::error("evidence_not_submitted", {{"code", !record ? record.error().code : head.error().code}});
    return;
  }
  sealer_->submit(std::move(*record), *head);
}

void CertificateServices::submit_staff(std::string& staff_id, std::string& password, std::uint64_t attempt) {
  if (staff_call_.joinable()) staff_call_.join();  // the screen allows one at a time; this returns at once
  std::string id = std::move(staff_id);
  staff_id.clear();
  std::string secret = std::move(password);
  sync::wipe_secret(password);
  staff_call_ = std::jthread([this, id = std::move(id), secret = std::move(secret), attempt]() mutable {
    auto client = sync::HttpsClient::create(config_.gateway_url, device_tls(config_), timeout_of(config_));
    if (!client) {
      sync::wipe_secret(secret);
      queue_.push(event::StaffRefused{attempt, client.error().code});
      return;
    }
    auto verified = sync::verify_staff(*client, id, secret);  // wipes `secret`
    if (!verified) {
      queue_.push(event::StaffRefused{attempt, verified.error().code});
      return;
    }
    queue_.push(event::StaffVerified{attempt, verified->staff_id, verified->display_name, verified->role});
  });
}

void CertificateServices::submit_pin(std::string& pin, std::string& new_pin) {
  if (!tokens_ || !tokens_->submit_pin(pin, new_pin)) {
    sync::wipe_secret(pin);
    sync::wipe_secret(new_pin);
  }
}

std::optional<sync::CaSubjectFields> CertificateServices::verified_subject() const {
  const auto& read = transactions_->verified_read();
  if (!read) return std::nullopt;
  return sync::CaSubjectFields{.investor_type = "natural",
                               .id_type = std::string(to_string(read->document_type)),
                               .id_number = read->id_number,
                               .name = read->name};
}

void CertificateServices::follow(const KioskState& state) {
  if (state.flow_attempt != followed_attempt_) {
    // A new transaction, or the session left the last one: stop its token work.
    if (followed_attempt_ != 0 && tokens_) tokens_->cancel();
    followed_attempt_ = state.flow_attempt;
  }
  const bool at_issue = state.screen == Screen::insert_token || state.screen == Screen::token_working;
  if (at_issue && !state.transaction_id.empty() && issue_started_for_ != state.flow_attempt) {
    issue_started_for_ = state.flow_attempt;
    start_issue(state);
  }
}

void CertificateServices::start_issue(const KioskState& state) {
  const std::uint64_t attempt = state.flow_attempt;
  auto subject = verified_subject();
  if (!subject || !state.operation) {
    queue_.push(event::TokenFailed{attempt, kiosk::TokenProblem::token_fault, "IDENTITY_NOT_VERIFIED"});
    return;
  }
  const std::string request_id = state.transaction_id + "-issue";
  const Operation operation = *state.operation;
  if (ca_call_.joinable()) ca_call_.join();

  if (state.medium == Medium::soft) {
    ca_call_ = std::jthread([this, attempt, request_id, subject = *subject] {
      auto client = ca_factory_();
      if (!client) {
        queue_.push(event::TokenFailed{attempt, problem_of_ca_error(client.error()), client.error().code});
        return;
      }
      auto grant = (*client)->apply_soft(request_id, subject);
      if (!grant) {
        queue_.push(event::TokenFailed{attempt, problem_of_ca_error(grant.error()), grant.error().code});
        return;
      }
      queue_.push(event::SoftGranted{attempt, SoftGrant{.serial = grant->certificate.serial,
                                                        .reference = grant->reference,
                                                        .code = grant->code,
                                                        .expires_at = grant->expires_at}});
    });
    return;
  }

  TokenJob job;
  job.attempt = attempt;
  job.operation = operation;
  job.request_id = request_id;
  job.subject = *subject;
  job.reason = state.reason;
  // The pack gives revoke no reason codes (REQ-37); at the kiosk it is always the holder's request.
  if (operation == Operation::revoke && job.reason.empty()) job.reason = "HOLDER_REQUEST";
  job.key_type = config_.token_key_type == "rsa2048" ? hal::token::KeyType::rsa_2048 : hal::token::KeyType::ec_p256;
  if (operation == Operation::apply || operation == Operation::renew) {
    if (auto started = tokens_->start(job); !started) {
      queue_.push(event::TokenFailed{attempt, kiosk::TokenProblem::token_fault, started.error().code});
    }
    return;
  }
  // Reissue, freeze, unfreeze, revoke: head office's record of this investor's certificates names
  // the one to act on (REQ-38: only the verified subject's own), so a lost token is no obstacle.
  const auto& rule = transactions_->pack().operations[policy::index_of(operation)];
  std::vector<std::string> from_states;
  for (const CertState from : rule.from_states) from_states.emplace_back(to_string(from));
  ca_call_ = std::jthread([this, job = std::move(job), from_states]() mutable {
    auto client = ca_factory_();
    if (!client) {
      queue_.push(event::TokenFailed{job.attempt, problem_of_ca_error(client.error()), client.error().code});
      return;
    }
    auto found = (*client)->lookup(job.subject);
    if (!found) {
      queue_.push(event::TokenFailed{job.attempt, problem_of_ca_error(found.error()), found.error().code});
      return;
    }
    for (const auto& certificate : *found) {  // newest first
      if (std::find(from_states.begin(), from_states.end(), certificate.state) != from_states.end()) {
        job.target_serial = certificate.serial;
        break;
      }
    }
    if (job.target_serial.empty()) {
      queue_.push(event::TokenFailed{job.attempt, kiosk::TokenProblem::no_certificate, "NO_CERTIFICATE_FOR_OPERATION"});
      return;
    }
    const std::uint64_t attempt_of_job = job.attempt;
    if (auto started = tokens_->start(std::move(job)); !started) {
      queue_.push(event::TokenFailed{attempt_of_job, kiosk::TokenProblem::token_fault, started.error().code});
    }
  });
}

}  // namespace kiosk::app
