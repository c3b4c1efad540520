// The kiosk's token thread (issue 5 item 4, REQ-04, REQ-30..38): owns the PKCS#11 token driver and
// a CA client, runs one certificate operation at a time (apply, renew, reissue, freeze, unfreeze,
// revoke with a hard token) and reports each step through a callback that only posts to the app's
// queue. The PIN goes from the UI's buffer straight to this thread and is wiped after use: it never
// enters a report, a log or the session state.
//
// Never reports TokenDone unless the certificate read back from the token is byte-identical to the
// one the CA issued. A token pulled out after the CA issued is asked back (the same token serial)
// for `reinsert_timeout`; if it does not come back the new certificate is revoked at the CA
// (request id "<request_id>-rollback", reason OTHER) and the job fails with "rolled back".
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "hal/token/token_allowlist.hpp"
#include "hal/token/token_driver.hpp"
#include "kiosk/core/error.hpp"
#include "kiosk/core/operation.hpp"
#include "sync/client/ca_client.hpp"

namespace kiosk::app {

struct TokenJob {
  std::uint64_t attempt = 0;
  Operation operation = Operation::apply;
  std::string request_id;         // the CA request id (1-55 of A-Z a-z 0-9 . _ : -: "-rollback" must still fit in 64)
  sync::CaSubjectFields subject;  // the verified subject (REQ-38 is checked against its id_number)
  std::string reason;             // freeze, reissue, revoke: the CA's reason code
  // The certificate to act on when already known (chosen from a lookup: the token is lost), for
  // freeze/unfreeze/revoke/reissue; empty = read it from the token. Renew always reads the token.
  std::string target_serial;
  hal::token::KeyType key_type = hal::token::KeyType::ec_p256;
};

enum class TokenPinKind {
  current,           // the investor's PIN of a token already in use (renew, reissue onto the same token)
  initial_then_new,  // the initial PIN from the token's envelope, then the investor's new PIN (twice, UI-checked)
};
enum class TokenStage { keygen, request, issuance, import, verify, ca_call };
enum class TokenProblem {
  model_not_allowed,         // REQ-04: not a certified model (TOKEN_MODEL_NOT_ALLOWED)
  pin_incorrect,             // reserved for a PIN the worker cannot ask again for
  pin_locked,                // the kiosk offers reissue
  token_removed,             // pulled out: nothing written, or rolled back (see consistent_note)
  ca_refused,                // the CA said no; `code` is its own (CA_ILLEGAL_TRANSITION, ...)
  gateway_unreachable,       // transport failure to head office (GATEWAY_UNREACHABLE, GATEWAY_TIMEOUT, ...)
  token_fault,               // the token or its module failed
  not_subjects_certificate,  // REQ-38: the token's certificate belongs to someone else
  no_certificate_on_token,   // renew/freeze/... needed a certificate and the token has none
};
std::string_view to_string(TokenProblem problem);
std::string_view to_string(TokenStage stage);

struct TokenWaiting {
  std::uint64_t attempt = 0;
  // Empty: "insert your token". Set: the token was pulled mid-write, "put token ****1234 back".
  std::string reinsert_serial_masked;
};
struct TokenFound {
  std::uint64_t attempt = 0;
  std::string manufacturer;  // as the token reports it (C_GetTokenInfo)
  std::string model;
  std::string serial_masked;
  bool allowed = false;
  std::string certification_number;  // when allowed
};
struct TokenPinNeeded {
  std::uint64_t attempt = 0;
  TokenPinKind kind = TokenPinKind::current;
  unsigned long min_len = 0;
  unsigned long max_len = 0;
  bool count_low = false;  // a wrong PIN was entered since the last good one
  bool final_try = false;  // one more wrong PIN locks the token
  std::string retry_code;  // empty the first time; TOKEN_PIN_INCORRECT / TOKEN_PIN_INVALID when asked again
};
struct TokenProgress {
  std::uint64_t attempt = 0;
  TokenStage stage = TokenStage::keygen;
};
struct TokenTimings {
  double keygen_ms = 0;
  double request_ms = 0;
  double issuance_ms = 0;
  double import_ms = 0;
  double total_ms = 0;
};
struct TokenDone {
  std::uint64_t attempt = 0;
  std::string serial;  // the certificate acted on (new one for apply/renew/reissue)
  std::string state;   // its CA state afterwards
  std::string not_after;
  std::string retired_serial;                 // renew/reissue: the replaced certificate
  std::vector<std::uint8_t> certificate_der;  // new certificate, as read back from the token
  std::vector<std::uint8_t> csr_der;          // the request signed on the token
  TokenTimings timings_ms;
  bool token_used = false;  // false: a CA-only operation on a chosen serial (the token is lost)
  // true: TokenRemoved follows when the token is pulled; false: this module cannot report removal,
  // so the "remove your token" screen continues on a touch.
  bool removal_reported = false;
};
struct TokenFailed {
  std::uint64_t attempt = 0;
  TokenProblem problem = TokenProblem::token_fault;
  std::string code;                  // stable: TOKEN_*, CA_*, GATEWAY_*
  bool retries_left_unknown = true;  // the token does not say how many PIN tries are left
  bool count_low = false;
  bool final_try = false;
  std::string consistent_note;     // what state things were left in ("nothing was issued", "rolled back", ...)
  std::string rolled_back_serial;  // the certificate issued and then revoked because the token did not keep it
};
struct TokenRemoved {
  std::uint64_t attempt = 0;
};
using TokenReport =
    std::variant<TokenWaiting, TokenFound, TokenPinNeeded, TokenProgress, TokenDone, TokenFailed, TokenRemoved>;

// Opens the token driver (Pkcs11Driver over a module path in the kiosk; a wrapper in tests).
using TokenDriverFactory = std::function<hal::token::TokenResult<std::unique_ptr<hal::token::TokenDriver>>()>;
// Opens the CA client; the returned pointer keeps its HttpsClient alive.
using CaClientFactory = std::function<Result<std::shared_ptr<sync::CaClient>>()>;

TokenDriverFactory pkcs11_driver_factory(std::filesystem::path module_path);
CaClientFactory ca_client_factory(std::string gateway_url, sync::TlsIdentity identity,
                                  std::chrono::milliseconds timeout);

struct TokenWorkerConfig {
  hal::token::TokenAllowlist allowlist;  // REQ-04: an empty list allows nothing
  std::chrono::milliseconds poll_interval{300};
  // Some modules (SoftHSM2) do not show a token that appeared after C_Initialize: reopen the module
  // on each poll while waiting for a token (no session is open then). See kiosk/app/README.md.
  bool reopen_module_while_waiting = false;
  // Whether the module reports a pulled token (C_GetSlotList / C_GetTokenInfo); see TokenDone.
  bool module_reports_removal = true;
  std::chrono::milliseconds reinsert_timeout{std::chrono::seconds(60)};
  int ca_transport_retries = 2;  // a lost answer is retried with the same request id (idempotent)
};

class TokenWorker {
 public:
  using Report = std::function<void(TokenReport)>;
  TokenWorker(TokenWorkerConfig config, TokenDriverFactory driver_factory, CaClientFactory ca_factory, Report report);
  TokenWorker(const TokenWorker&) = delete;
  TokenWorker& operator=(const TokenWorker&) = delete;
  ~TokenWorker();  // cancels (rolling back an issued but unwritten certificate) and joins

  // TOKEN_JOB_INVALID (bad request id, missing reason or subject), TOKEN_WORKER_BUSY (a job runs
  // and has not sent TokenDone or TokenFailed yet, or another job is queued). Watching for the
  // removal of the last job's token does not count as busy: the new job ends the watch.
  Result<void> start(TokenJob job);
  // The PIN(s) for the pending TokenPinNeeded; both strings are wiped before this returns. `new_pin`
  // is the investor's new PIN for initial_then_new (ignored and wiped otherwise). False when no PIN
  // was asked for.
  bool submit_pin(std::string& pin, std::string& new_pin);
  // Abandons the job (or the removal watch). An issued certificate not yet on the token is revoked.
  void cancel();

 private:
  struct JobRun;
  void run(std::stop_token stop);

  TokenWorkerConfig config_;
  TokenDriverFactory driver_factory_;
  CaClientFactory ca_factory_;
  Report report_;

  std::mutex mutex_;
  std::condition_variable_any wake_;
  std::optional<TokenJob> pending_job_;
  bool job_running_ = false;
  bool job_finished_ = false;  // the running job has sent TokenDone or TokenFailed: a new one may queue
  bool cancel_requested_ = false;
  bool pin_wanted_ = false;
  bool pin_ready_ = false;
  std::string pin_;                                  // guarded by mutex_ until taken by the job
  std::string new_pin_;                              // idem
  std::unique_ptr<hal::token::TokenDriver> driver_;  // worker thread only
  std::jthread thread_;                              // last: starts after every member above exists
};

}  // namespace kiosk::app
