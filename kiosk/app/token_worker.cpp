#include "kiosk/app/token_worker.hpp"

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>

#include "hal/token/pkcs11_driver.hpp"
#include "kiosk/core/log.hpp"

namespace kiosk::app {
namespace {

using namespace kiosk::hal::token;
using SteadyClock = std::chrono::steady_clock;

// The key pair and certificate label on the investor's token.
constexpr std::string_view kTokenObjectLabel = "csdc-investor";
// A PIN buffer that never needs to grow, so assigning a PIN does not leave a copy in a freed block.
constexpr std::size_t kPinCapacity = 256;
// Write attempts on a token that is present but keeps failing, before rolling back.
constexpr int kMaxWriteAttempts = 3;

std::string mask_token_serial(std::string_view serial) {
  if (serial.size() <= 4) return std::string(serial.size(), '*');
  return std::string(serial.size() - 4, '*') + std::string(serial.substr(serial.size() - 4));
}

double milliseconds_since(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::milli>(SteadyClock::now() - start).count();
}

struct X509Free {
  void operator()(X509* certificate) const { X509_free(certificate); }
};

std::unique_ptr<X509, X509Free> parse_der(std::span<const std::uint8_t> der) {
  const unsigned char* cursor = der.data();
  return std::unique_ptr<X509, X509Free>(d2i_X509(nullptr, &cursor, static_cast<long>(der.size())));
}

// The subject's serialNumber attribute (the ID number the CA put there), when there is one.
std::optional<std::string> subject_serial_number(X509* certificate) {
  const X509_NAME* name = X509_get_subject_name(certificate);
  const int index = X509_NAME_get_index_by_NID(name, NID_serialNumber, -1);
  if (index < 0) return std::nullopt;
  const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, value);
  if (length < 0) return std::nullopt;
  std::string text(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return text;
}

// The serial as the CA writes it (BN_bn2hex), so it can be sent back as is.
std::string ca_serial_of(X509* certificate) {
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate), nullptr);
  if (serial == nullptr) return {};
  char* hex = BN_bn2hex(serial);
  BN_free(serial);
  if (hex == nullptr) return {};
  std::string text(hex);
  OPENSSL_free(hex);
  return text;
}

// ID numbers end in a check character that may be 'x' or 'X'.
bool same_id_number(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

bool is_transport_code(std::string_view code) {
  return code == "GATEWAY_UNREACHABLE" || code == "GATEWAY_TIMEOUT" || code == "TLS_HANDSHAKE_FAILED" ||
         code == "GATEWAY_CERT_UNTRUSTED" || code == "CLIENT_CERT_UNREADABLE" || code == "GATEWAY_URL_INVALID" ||
         code == "RESPONSE_TOO_LARGE";
}

// A lost answer is worth asking again; a refusal or a malformed answer is not.
bool is_retryable_transport(std::string_view code) {
  return code == "GATEWAY_UNREACHABLE" || code == "GATEWAY_TIMEOUT";
}

TokenProblem problem_of_ca_error(const Error& error) {
  return is_transport_code(error.code) ? TokenProblem::gateway_unreachable : TokenProblem::ca_refused;
}

TokenProblem problem_of_token_error(const TokenError& error) {
  switch (error.completion) {
    case Completion::no_media: return TokenProblem::token_removed;
    case Completion::pin_locked: return TokenProblem::pin_locked;
    case Completion::pin_incorrect: return TokenProblem::pin_incorrect;
    default: return TokenProblem::token_fault;
  }
}

bool is_valid_request_id(std::string_view id) {
  return !id.empty() && id.size() <= 55 && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '_' || c == ':' || c == '-';
  });
}

// The states a token's certificate must be in for `operation` (used to pick among several
// certificates of the subject on one token, e.g. the superseded one left after a renew).
bool usable_for(Operation operation, std::string_view state) {
  switch (operation) {
    case Operation::renew:
    case Operation::freeze: return state == "active";
    case Operation::unfreeze: return state == "frozen";
    case Operation::reissue:
    case Operation::revoke: return state == "active" || state == "frozen";
    case Operation::apply: return false;
  }
  return false;
}

}  // namespace

std::string_view to_string(TokenProblem problem) {
  switch (problem) {
    case TokenProblem::model_not_allowed: return "model_not_allowed";
    case TokenProblem::pin_incorrect: return "pin_incorrect";
    case TokenProblem::pin_locked: return "pin_locked";
    case TokenProblem::token_removed: return "token_removed";
    case TokenProblem::ca_refused: return "ca_refused";
    case TokenProblem::gateway_unreachable: return "gateway_unreachable";
    case TokenProblem::token_fault: return "token_fault";
    case TokenProblem::not_subjects_certificate: return "not_subjects_certificate";
    case TokenProblem::no_certificate_on_token: return "no_certificate_on_token";
  }
  return "token_fault";
}

std::string_view to_string(TokenStage stage) {
  switch (stage) {
    case TokenStage::keygen: return "keygen";
    case TokenStage::request: return "request";
    case TokenStage::issuance: return "issuance";
    case TokenStage::import: return "import";
    case TokenStage::verify: return "verify";
    case TokenStage::ca_call: return "ca_call";
  }
  return "keygen";
}

TokenDriverFactory pkcs11_driver_factory(std::filesystem::path module_path) {
  return [module_path = std::move(module_path)]() -> TokenResult<std::unique_ptr<TokenDriver>> {
    auto module = Pkcs11Module::load(module_path);
    if (!module) return std::unexpected(module.error());
    return std::make_unique<Pkcs11Driver>(std::move(*module));
  };
}

CaClientFactory ca_client_factory(std::string gateway_url, sync::TlsIdentity identity,
                                  std::chrono::milliseconds timeout) {
  return [gateway_url = std::move(gateway_url), identity = std::move(identity),
          timeout]() -> Result<std::shared_ptr<sync::CaClient>> {
    auto https = sync::HttpsClient::create(gateway_url, identity, timeout);
    if (!https) return std::unexpected(https.error());
    auto owned = std::make_shared<sync::HttpsClient>(std::move(*https));
    // The CaClient borrows the HttpsClient; the deleter keeps it alive as long as the CaClient.
    return std::shared_ptr<sync::CaClient>(new sync::CaClient(*owned),
                                           [owned](sync::CaClient* client) { delete client; });
  };
}

// One job from start to end, on the worker thread.
struct TokenWorker::JobRun {
  struct FoundToken {
    SlotId slot = 0;
    TokenInfo info;
  };
  enum class WaitEnd { found, cancelled, timed_out, driver_failed };
  enum class PinEnd { logged_in, cancelled, removed, locked, token_failed };

  TokenWorker& worker;
  const TokenJob job;
  std::stop_token stop;
  std::shared_ptr<sync::CaClient> ca;
  std::unique_ptr<TokenSession> session;
  std::optional<FoundToken> token;
  std::optional<TokenError> driver_error;  // why the module could not be opened
  std::optional<TokenError> pin_error;     // why obtain_login ended with token_failed
  std::optional<sync::IssuedCertificate> issued;
  std::string watch_serial;  // the token to watch for removal once the job has ended

  JobRun(TokenWorker& owner, TokenJob the_job, std::stop_token stop_token)
      : worker(owner), job(std::move(the_job)), stop(std::move(stop_token)) {}

  void report(TokenReport report) const {
    if (std::holds_alternative<TokenDone>(report) || std::holds_alternative<TokenFailed>(report)) {
      std::lock_guard lock(worker.mutex_);
      worker.job_finished_ = true;
    }
    worker.report_(std::move(report));
  }

  bool cancelled() {
    std::lock_guard lock(worker.mutex_);
    return worker.cancel_requested_ || stop.stop_requested();
  }

  // Waits one poll interval; false when the job was cancelled (or the worker stops).
  bool pause() {
    std::unique_lock lock(worker.mutex_);
    worker.wake_.wait_for(lock, stop, worker.config_.poll_interval, [&] { return worker.cancel_requested_; });
    return !worker.cancel_requested_ && !stop.stop_requested();
  }

  void failed(TokenProblem problem, std::string code, std::string note, const PinState* pin = nullptr) {
    log::warn("token_job_failed", {{"attempt", std::to_string(job.attempt)},
                                   {"operation", std::string(to_string(job.operation))},
                                   {"problem", std::string(to_string(problem))},
                                   {"code", code}});
    TokenFailed failure{job.attempt, problem, std::move(code), true, false, false, std::move(note), {}};
    if (pin != nullptr) {
      failure.count_low = pin->count_low;
      failure.final_try = pin->final_try;
    }
    report(std::move(failure));
  }

  bool reopen_driver() {
    session.reset();
    worker.driver_.reset();  // C_Finalize before the next C_Initialize
    auto opened = worker.driver_factory_();
    if (!opened) {
      driver_error = opened.error();
      return false;
    }
    worker.driver_ = std::move(*opened);
    return true;
  }

  // The first initialised token, or the one with `serial`. A slot whose token does not answer
  // C_GetTokenInfo counts as empty: that is how SoftHSM2 shows a deleted token.
  std::optional<FoundToken> find_token(const std::string& serial) {
    if (!worker.driver_) return std::nullopt;
    auto slots = worker.driver_->slots_with_token();
    if (!slots) return std::nullopt;
    for (const SlotId slot : *slots) {
      auto info = worker.driver_->token_info(slot);
      if (!info || !info->token_initialized) continue;
      if (serial.empty() || info->serial == serial) return FoundToken{slot, std::move(*info)};
    }
    return std::nullopt;
  }

  WaitEnd wait_for_token(const std::string& serial, SteadyClock::time_point deadline) {
    while (true) {
      if (!worker.driver_ || (worker.config_.reopen_module_while_waiting && !session)) {
        if (!reopen_driver()) return WaitEnd::driver_failed;
      }
      if (auto found = find_token(serial)) {
        token = std::move(found);
        return WaitEnd::found;
      }
      if (SteadyClock::now() >= deadline) return WaitEnd::timed_out;
      if (!pause()) return WaitEnd::cancelled;
    }
  }

  bool token_still_present() { return token && find_token(token->info.serial).has_value(); }

  template <class Call>
  auto ca_call(Call call) -> decltype(call()) {
    auto result = call();
    for (int retry = 0; retry < worker.config_.ca_transport_retries && !result &&
                        is_retryable_transport(result.error().code) && !stop.stop_requested();
         ++retry) {
      result = call();  // the same request id: the CA answers a repeated request with its first answer
    }
    return result;
  }

  // Asks for the PIN until the token accepts one. initial_then_new: logs in with the envelope's
  // PIN and sets the investor's new one.
  PinEnd obtain_login(TokenPinKind kind) {
    std::string retry_code;
    std::string pin;
    std::string new_pin;
    pin.reserve(kPinCapacity);
    new_pin.reserve(kPinCapacity);
    while (true) {
      auto info = worker.driver_->token_info(token->slot);
      if (!info) {
        pin_error = info.error();
        return info.error().completion == Completion::no_media ? PinEnd::removed : PinEnd::token_failed;
      }
      if (info->user_pin.locked) return PinEnd::locked;
      {
        std::lock_guard lock(worker.mutex_);
        worker.pin_wanted_ = true;
        worker.pin_ready_ = false;
      }
      report(TokenPinNeeded{job.attempt, kind, info->min_pin_length, info->max_pin_length, info->user_pin.count_low,
                            info->user_pin.final_try, retry_code});
      while (true) {
        std::unique_lock lock(worker.mutex_);
        worker.wake_.wait_for(lock, stop, worker.config_.poll_interval,
                              [&] { return worker.pin_ready_ || worker.cancel_requested_; });
        if (worker.cancel_requested_ || stop.stop_requested()) {
          worker.pin_wanted_ = false;
          return PinEnd::cancelled;
        }
        if (worker.pin_ready_) {
          // Swapping heap buffers moves the PIN without copying its characters.
          pin.swap(worker.pin_);
          new_pin.swap(worker.new_pin_);
          worker.pin_.reserve(kPinCapacity);
          worker.new_pin_.reserve(kPinCapacity);
          worker.pin_wanted_ = false;
          worker.pin_ready_ = false;
          break;
        }
        lock.unlock();
        if (!token_still_present()) {
          std::lock_guard relock(worker.mutex_);
          worker.pin_wanted_ = false;
          return PinEnd::removed;
        }
      }

      TokenResult<void> outcome;
      if (kind == TokenPinKind::initial_then_new) {
        std::string initial;
        initial.reserve(kPinCapacity);
        initial.assign(pin);
        if (new_pin.empty()) {
          wipe(pin);
          wipe(initial);
          retry_code = "TOKEN_PIN_INVALID";
          continue;
        }
        outcome = session->login_user(pin);
        if (outcome) {
          outcome = session->change_pin(initial, new_pin);
          // A refused new PIN must not leave the session logged in with the envelope's PIN.
          if (!outcome) (void)session->logout();
        }
        wipe(initial);
        wipe(new_pin);
      } else {
        wipe(new_pin);
        outcome = session->login_user(pin);
      }
      wipe(pin);
      if (outcome) return PinEnd::logged_in;
      switch (outcome.error().completion) {
        case Completion::pin_incorrect: retry_code = "TOKEN_PIN_INCORRECT"; continue;
        case Completion::pin_invalid: retry_code = "TOKEN_PIN_INVALID"; continue;
        case Completion::pin_locked: return PinEnd::locked;
        case Completion::no_media: pin_error = outcome.error(); return PinEnd::removed;
        default: pin_error = outcome.error(); return PinEnd::token_failed;
      }
    }
  }

  // Reports why a PIN step ended; true when logged in.
  bool login(TokenPinKind kind, const std::string& nothing_note) {
    switch (obtain_login(kind)) {
      case PinEnd::logged_in: return true;
      case PinEnd::cancelled: return false;
      case PinEnd::removed: failed(TokenProblem::token_removed, "TOKEN_NOT_PRESENT", nothing_note); return false;
      case PinEnd::locked: {
        PinState pin;
        pin.locked = true;
        failed(TokenProblem::pin_locked, "TOKEN_PIN_LOCKED",
               nothing_note + "; the PIN is locked: reissue on a new token", &pin);
        return false;
      }
      case PinEnd::token_failed:
        failed(problem_of_token_error(*pin_error), pin_error->error.code, nothing_note);
        return false;
    }
    return false;
  }

  // The certificate on the token this operation acts on, after the REQ-38 check; reports and
  // returns nullopt when there is none.
  std::optional<std::string> read_target_serial() {
    auto certificates = session->read_certificates();
    if (!certificates) {
      failed(problem_of_token_error(certificates.error()), certificates.error().error.code, "nothing was changed");
      return std::nullopt;
    }
    if (certificates->empty()) {
      failed(TokenProblem::no_certificate_on_token, "TOKEN_NO_CERTIFICATE", "nothing was changed");
      return std::nullopt;
    }
    std::vector<std::string> serials;
    for (const auto& certificate : *certificates) {
      auto x509 = parse_der(certificate.der);
      if (!x509) continue;
      const auto id_number = subject_serial_number(x509.get());
      if (id_number && same_id_number(*id_number, job.subject.id_number)) serials.push_back(ca_serial_of(x509.get()));
    }
    if (serials.empty()) {
      failed(TokenProblem::not_subjects_certificate, "CERT_SUBJECT_MISMATCH",
             "nothing was changed: the certificate on this token is not the verified person's (REQ-38)");
      return std::nullopt;
    }
    if (serials.size() == 1) return serials.front();
    // A renewed token keeps the superseded certificate beside the new one: ask the CA which is live.
    for (const auto& serial : serials) {
      auto state = ca_call([&] { return ca->status(serial); });
      if (state && usable_for(job.operation, state->state)) return serial;
    }
    return serials.back();  // none fits: the CA refuses with its own code, which the kiosk explains
  }

  void lifecycle_call(const std::string& serial, bool token_used) {
    report(TokenProgress{job.attempt, TokenStage::ca_call});
    Result<sync::CertificateState> state = fail("CA_REQUEST_INVALID", "not a lifecycle operation");
    if (job.operation == Operation::freeze) {
      state = ca_call([&] { return ca->freeze(job.request_id, serial, job.reason); });
    } else if (job.operation == Operation::unfreeze) {
      state = ca_call([&] { return ca->unfreeze(job.request_id, serial); });
    } else if (job.operation == Operation::revoke) {
      state = ca_call([&] { return ca->revoke(job.request_id, serial, job.reason); });
    }
    if (!state) {
      failed(problem_of_ca_error(state.error()), state.error().code, "nothing was changed");
      return;
    }
    TokenDone done;
    done.attempt = job.attempt;
    done.serial = state->serial;
    done.state = state->state;
    done.not_after = state->not_after;
    done.token_used = token_used;
    done.removal_reported = token_used && worker.config_.module_reports_removal;
    log::info("token_job_done", {{"attempt", std::to_string(job.attempt)},
                                 {"operation", std::string(to_string(job.operation))},
                                 {"serial", done.serial},
                                 {"state", done.state}});
    report(std::move(done));
  }

  static bool holds(const std::vector<TokenCertificate>& certificates, std::span<const std::uint8_t> key_id,
                    const std::vector<std::uint8_t>& der) {
    return std::any_of(certificates.begin(), certificates.end(), [&](const TokenCertificate& certificate) {
      return certificate.der == der &&
             std::equal(certificate.id.begin(), certificate.id.end(), key_id.begin(), key_id.end());
    });
  }

  // Imports the certificate beside its key unless a previous try already did, then reads it back.
  TokenResult<void> write_and_verify(std::span<const std::uint8_t> key_id, const std::vector<std::uint8_t>& der) {
    if (auto before = session->read_certificates(); before && holds(*before, key_id, der)) return {};
    if (auto imported = session->import_certificate(key_id, der, kTokenObjectLabel); !imported) return imported;
    report(TokenProgress{job.attempt, TokenStage::verify});
    auto after = session->read_certificates();
    if (!after) return std::unexpected(after.error());
    if (!holds(*after, key_id, der)) {
      return std::unexpected(TokenError{
          Completion::invalid_data,
          Error{"TOKEN_CERT_NOT_STORED", "the token does not return the imported certificate"}, std::nullopt});
    }
    return {};
  }

  // The CA issued but the token did not keep the certificate: ask for the same token back and
  // write again; if it does not come back in time, revoke what was issued.
  bool recover_write(std::span<const std::uint8_t> key_id, const std::vector<std::uint8_t>& der, TokenError first) {
    log::warn(
        "token_write_interrupted",
        {{"attempt", std::to_string(job.attempt)}, {"serial", issued->certificate.serial}, {"code", first.error.code}});
    const std::string serial = token->info.serial;
    session.reset();
    report(TokenWaiting{job.attempt, mask_token_serial(serial)});
    const auto deadline = SteadyClock::now() + worker.config_.reinsert_timeout;
    int attempts = 1;
    while (attempts < kMaxWriteAttempts + 1) {
      const WaitEnd end = wait_for_token(serial, deadline);
      if (end != WaitEnd::found) break;
      auto opened = worker.driver_->open_session(token->slot);
      if (!opened) {
        if (!pause()) break;
        continue;
      }
      session = std::move(*opened);
      // The certificate is a public object: whether the first try stored it is seen without a login.
      if (auto certificates = session->read_certificates(); certificates && holds(*certificates, key_id, der)) {
        return true;
      }
      // The new session is not logged in, and the private key (which the import checks) is only
      // visible after a login: the investor enters the PIN again (the one just set, for a new token).
      if (obtain_login(TokenPinKind::current) != PinEnd::logged_in) break;
      report(TokenProgress{job.attempt, TokenStage::import});
      auto written = write_and_verify(key_id, der);
      if (written) return true;
      log::warn("token_write_retry_failed",
                {{"attempt", std::to_string(job.attempt)}, {"code", written.error().error.code}});
      ++attempts;
      session.reset();
      if (!pause()) break;
    }
    session.reset();
    rollback(first.error.code);
    return false;
  }

  void rollback(const std::string& code) {
    const std::string serial = issued->certificate.serial;
    auto revoked = ca_call([&] { return ca->revoke(job.request_id + "-rollback", serial, "OTHER"); });
    std::string note;
    if (revoked) {
      note = "rolled back";
      if (!issued->retired_serial.empty()) note += "; the replaced certificate stays retired at the CA";
      log::warn("token_write_rolled_back", {{"attempt", std::to_string(job.attempt)}, {"serial", serial}});
    } else {
      note = "rollback failed (" + revoked.error().code + "): certificate " + serial +
             " is issued but not on the token; revoke it at head office";
      log::error("token_rollback_failed",
                 {{"attempt", std::to_string(job.attempt)}, {"serial", serial}, {"code", revoked.error().code}});
    }
    log::warn("token_job_failed", {{"attempt", std::to_string(job.attempt)},
                                   {"operation", std::string(to_string(job.operation))},
                                   {"problem", "token_removed"},
                                   {"code", code}});
    TokenFailed failure;
    failure.attempt = job.attempt;
    failure.problem = TokenProblem::token_removed;
    failure.code = code == "TOKEN_NOT_PRESENT" ? code : "TOKEN_WRITE_FAILED";
    failure.consistent_note = std::move(note);
    if (revoked) failure.rolled_back_serial = serial;
    report(std::move(failure));
  }

  // Key pair, request, CA call, import, read-back. `target_serial` is the certificate renewed or
  // reissued (empty for apply).
  void enroll(TokenPinKind kind, const std::string& target_serial) {
    if (!login(kind, "nothing was written to the token")) return;
    const auto total_start = SteadyClock::now();
    TokenTimings timings;

    report(TokenProgress{job.attempt, TokenStage::keygen});
    auto start = SteadyClock::now();
    auto key = session->generate_key_pair(job.key_type, kTokenObjectLabel);
    if (!key) {
      failed(problem_of_token_error(key.error()), key.error().error.code, "nothing was issued");
      return;
    }
    timings.keygen_ms = milliseconds_since(start);

    report(TokenProgress{job.attempt, TokenStage::request});
    SubjectName subject;
    subject.country = "CN";
    subject.common_name = job.subject.name;
    subject.serial_number = job.subject.id_number;
    start = SteadyClock::now();
    auto request = session->sign_request(*key, subject);
    if (!request) {
      failed(problem_of_token_error(request.error()), request.error().error.code,
             "nothing was issued; the new key pair stays on the token without a certificate");
      return;
    }
    timings.request_ms = milliseconds_since(start);

    report(TokenProgress{job.attempt, TokenStage::issuance});
    start = SteadyClock::now();
    Result<sync::IssuedCertificate> answer = fail("CA_REQUEST_INVALID", "not an issuing operation");
    if (job.operation == Operation::apply) {
      answer = ca_call([&] { return ca->apply_hard(job.request_id, job.subject, request->pem); });
    } else if (job.operation == Operation::renew) {
      answer = ca_call([&] { return ca->renew(job.request_id, target_serial, request->pem); });
    } else if (job.operation == Operation::reissue) {
      answer = ca_call([&] { return ca->reissue(job.request_id, target_serial, job.reason, request->pem, "hard"); });
    }
    if (!answer) {
      failed(problem_of_ca_error(answer.error()), answer.error().code,
             is_retryable_transport(answer.error().code)
                 ? "the CA's answer was lost; retrying with the same request id returns the same certificate"
                 : "nothing was issued; the new key pair stays on the token without a certificate");
      return;
    }
    timings.issuance_ms = milliseconds_since(start);
    issued = std::move(*answer);
    auto der = sync::certificate_pem_to_der(issued->certificate_pem);
    if (!der) {  // parse_issued_reply already read it; kept for a clear error rather than an assert
      rollback(der.error().code);
      return;
    }

    report(TokenProgress{job.attempt, TokenStage::import});
    start = SteadyClock::now();
    auto written = write_and_verify(key->id, *der);
    if (!written && !recover_write(key->id, *der, written.error())) return;
    timings.import_ms = milliseconds_since(start);
    timings.total_ms = milliseconds_since(total_start);

    TokenDone done;
    done.attempt = job.attempt;
    done.serial = issued->certificate.serial;
    done.state = issued->certificate.state;
    done.not_after = issued->certificate.not_after;
    done.retired_serial = issued->retired_serial;
    done.certificate_der = std::move(*der);
    done.csr_der = request->der;
    done.timings_ms = timings;
    done.token_used = true;
    done.removal_reported = worker.config_.module_reports_removal;
    log::info("token_job_done", {{"attempt", std::to_string(job.attempt)},
                                 {"operation", std::string(to_string(job.operation))},
                                 {"serial", done.serial},
                                 {"state", done.state},
                                 {"token", mask_token_serial(token->info.serial)},
                                 {"keygen_ms", std::to_string(timings.keygen_ms)},
                                 {"request_ms", std::to_string(timings.request_ms)},
                                 {"issuance_ms", std::to_string(timings.issuance_ms)},
                                 {"import_ms", std::to_string(timings.import_ms)}});
    report(std::move(done));
  }

  void execute() {
    auto client = worker.ca_factory_();
    if (!client) {
      failed(TokenProblem::gateway_unreachable, client.error().code, "nothing was done");
      return;
    }
    ca = std::move(*client);
    const bool lifecycle_only = job.operation == Operation::freeze || job.operation == Operation::unfreeze ||
                                job.operation == Operation::revoke;
    if (lifecycle_only && !job.target_serial.empty()) {
      lifecycle_call(job.target_serial, /*token_used=*/false);  // the token is lost: nothing to read
      return;
    }

    report(TokenWaiting{job.attempt, ""});
    switch (wait_for_token("", SteadyClock::time_point::max())) {
      case WaitEnd::found: break;
      case WaitEnd::driver_failed:
        failed(TokenProblem::token_fault, driver_error->error.code, "nothing was done");
        return;
      case WaitEnd::cancelled:
      case WaitEnd::timed_out: return;
    }
    watch_serial = token->info.serial;
    const AllowlistVerdict verdict = worker.config_.allowlist.check(token->info);
    log::info("token_found", {{"attempt", std::to_string(job.attempt)},
                              {"token", mask_token_serial(token->info.serial)},
                              {"model", token->info.model},
                              {"allowed", verdict.allowed ? "true" : "false"}});
    report(TokenFound{job.attempt, token->info.manufacturer, token->info.model, mask_token_serial(token->info.serial),
                      verdict.allowed, verdict.certification_number});
    if (!verdict.allowed) {
      failed(TokenProblem::model_not_allowed, "TOKEN_MODEL_NOT_ALLOWED", "nothing was written to the token");
      return;
    }
    auto opened = worker.driver_->open_session(token->slot);
    if (!opened) {
      failed(problem_of_token_error(opened.error()), opened.error().error.code, "nothing was done");
      return;
    }
    session = std::move(*opened);

    switch (job.operation) {
      case Operation::apply: enroll(TokenPinKind::initial_then_new, ""); break;
      case Operation::reissue:
        if (!job.target_serial.empty()) {
          enroll(TokenPinKind::initial_then_new, job.target_serial);  // a new token for a lost or locked one
        } else if (auto serial = read_target_serial()) {
          enroll(TokenPinKind::current, *serial);  // the same token, its PIN still known
        }
        break;
      case Operation::renew:
        if (auto serial = read_target_serial()) enroll(TokenPinKind::current, *serial);
        break;
      case Operation::freeze:
      case Operation::unfreeze:
      case Operation::revoke:
        if (auto serial = read_target_serial()) lifecycle_call(*serial, /*token_used=*/true);
        break;
    }
    if (session) (void)session->logout();
    session.reset();
  }

  // After the job: TokenRemoved once the token is gone, unless a new job or a cancel comes first.
  void watch_removal() {
    if (watch_serial.empty() || !worker.config_.module_reports_removal) return;
    while (true) {
      {
        std::unique_lock lock(worker.mutex_);
        const auto interrupted = [&] { return worker.cancel_requested_ || worker.pending_job_.has_value(); };
        if (interrupted() || stop.stop_requested()) return;
        worker.wake_.wait_for(lock, stop, worker.config_.poll_interval, interrupted);
        if (interrupted() || stop.stop_requested()) return;
      }
      if (!find_token(watch_serial)) {
        report(TokenRemoved{job.attempt});
        return;
      }
    }
  }
};

TokenWorker::TokenWorker(TokenWorkerConfig config, TokenDriverFactory driver_factory, CaClientFactory ca_factory,
                         Report report)
    : config_(std::move(config)),
      driver_factory_(std::move(driver_factory)),
      ca_factory_(std::move(ca_factory)),
      report_(std::move(report)) {
  pin_.reserve(kPinCapacity);
  new_pin_.reserve(kPinCapacity);
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

TokenWorker::~TokenWorker() {
  thread_.request_stop();
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  wipe(pin_);
  wipe(new_pin_);
}

Result<void> TokenWorker::start(TokenJob job) {
  if (!is_valid_request_id(job.request_id)) {
    return fail("TOKEN_JOB_INVALID", "the request id must be 1-55 letters, digits, '.', '_', ':' or '-'");
  }
  const bool needs_reason =
      job.operation == Operation::freeze || job.operation == Operation::reissue || job.operation == Operation::revoke;
  if (needs_reason && job.reason.empty()) return fail("TOKEN_JOB_INVALID", "this operation needs a reason code");
  if (job.subject.id_number.empty()) return fail("TOKEN_JOB_INVALID", "the verified subject has no ID number");
  const bool issues =
      job.operation == Operation::apply || job.operation == Operation::renew || job.operation == Operation::reissue;
  if (issues && job.subject.name.empty()) return fail("TOKEN_JOB_INVALID", "the verified subject has no name");
  {
    std::lock_guard lock(mutex_);
    if (pending_job_ || (job_running_ && !job_finished_)) {
      return fail("TOKEN_WORKER_BUSY", "a token job is already running");
    }
    cancel_requested_ = false;
    pending_job_ = std::move(job);
  }
  wake_.notify_all();
  return {};
}

bool TokenWorker::submit_pin(std::string& pin, std::string& new_pin) {
  bool taken = false;
  {
    std::lock_guard lock(mutex_);
    if (pin_wanted_ && !pin_ready_) {
      pin_.assign(pin);
      new_pin_.assign(new_pin);
      pin_ready_ = true;
      taken = true;
    }
  }
  hal::token::wipe(pin);
  hal::token::wipe(new_pin);
  if (taken) wake_.notify_all();
  return taken;
}

void TokenWorker::cancel() {
  {
    std::lock_guard lock(mutex_);
    cancel_requested_ = true;
  }
  wake_.notify_all();
}

void TokenWorker::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    std::optional<TokenJob> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, stop, [&] { return pending_job_.has_value(); });
      if (stop.stop_requested()) break;
      job = std::move(pending_job_);
      pending_job_.reset();
      job_running_ = true;
      job_finished_ = false;
    }
    JobRun job_run(*this, std::move(*job), stop);
    job_run.execute();
    {
      std::lock_guard lock(mutex_);
      job_running_ = false;
      pin_wanted_ = false;
      pin_ready_ = false;
      hal::token::wipe(pin_);
      hal::token::wipe(new_pin_);
    }
    job_run.watch_removal();
  }
  driver_.reset();
}

}  // namespace kiosk::app
