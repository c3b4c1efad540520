// The token worker end to end: SoftHSM2 tokens (each test in its own token directory) and the real
// `gateway` on loopback with its embedded local-ca. Every operation is checked at the CA afterwards.
#include "kiosk/app/token_worker.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "hal/token/pkcs11_driver.hpp"
#include "softhsm_fixture.hpp"

namespace kiosk::app {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using hal::token::Completion;
using hal::token::TokenDriver;
using hal::token::TokenError;
using hal::token::TokenResult;
using hal::token::TokenSession;

constexpr const char* kNewPin = "24681357";
constexpr const char* kIdNumber = "11010519491231002X";

// The real gateway with a CA profile whose renewal window is open from the first day (validity 20
// days, window 30), so renew can run right after apply. tests/integration/token_cli's
// GatewayProcess writes a fixed gateway.toml, hence this sibling.
class CaGateway {
 public:
  CaGateway() {
    std::string pattern = (fs::temp_directory_path() / "token-worker-gw-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) return;
    root_ = pattern;
    const std::string data = (root_ / "data").string();
    const std::string enrol = std::string(GATEWAY_BINARY) + " enrol-dev --data-dir " + data +
                              " --device-id SIM-0102 --out " + (root_ / "device").string() + " > /dev/null 2>&1";
    if (std::system(enrol.c_str()) != 0) return;
    std::ofstream(root_ / "gateway.toml") << "[device_listener]\nport = 0\n[console_listener]\nport = 0\n"
                                             "[ca]\nvalidity_days = 20\nrenewal_window_days = 30\n";
    pid_ = ::fork();
    if (pid_ == 0) {
      const int log = ::open((root_ / "gateway.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      ::dup2(log, STDERR_FILENO);
      ::dup2(log, STDOUT_FILENO);
      const std::string config = (root_ / "gateway.toml").string();
      ::execl(GATEWAY_BINARY, GATEWAY_BINARY, "serve", "--config", config.c_str(), "--data-dir", data.c_str(),
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    for (int attempt = 0; attempt < 500 && port_ == 0; ++attempt) {
      std::ifstream in(root_ / "data" / "run" / "ports.json");
      std::stringstream text;
      text << in.rdbuf();
      const auto ports = nlohmann::json::parse(text.str(), nullptr, false);
      if (ports.is_object() && ports.contains("device")) port_ = ports["device"].get<int>();
      if (port_ == 0) std::this_thread::sleep_for(20ms);
    }
  }
  ~CaGateway() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
    std::error_code ignored;
    if (!root_.empty()) fs::remove_all(root_, ignored);
  }
  [[nodiscard]] bool started() const { return port_ != 0; }
  [[nodiscard]] std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] sync::TlsIdentity identity() const {
    return {root_ / "device" / "ca.crt", root_ / "device" / "device.crt", root_ / "device" / "device.key"};
  }

 private:
  fs::path root_;
  pid_t pid_ = -1;
  int port_ = 0;
};

// The reports, in order, as the app's queue would get them.
class Reports {
 public:
  void push(TokenReport report) {
    {
      std::lock_guard lock(mutex_);
      reports_.push_back(std::move(report));
    }
    changed_.notify_all();
  }
  // The next report that is not progress, or nullopt after `timeout`.
  std::optional<TokenReport> next(std::chrono::milliseconds timeout = 60s) {
    std::unique_lock lock(mutex_);
    while (true) {
      if (!changed_.wait_for(lock, timeout, [&] { return !reports_.empty(); })) return std::nullopt;
      TokenReport report = std::move(reports_.front());
      reports_.pop_front();
      if (std::holds_alternative<TokenProgress>(report)) {
        stages_.push_back(std::get<TokenProgress>(report).stage);
        continue;
      }
      return report;
    }
  }
  template <class T>
  std::optional<T> expect(std::chrono::milliseconds timeout = 60s) {
    auto report = next(timeout);
    if (!report) {
      ADD_FAILURE() << "no report within the time limit";
      return std::nullopt;
    }
    if (auto* wanted = std::get_if<T>(&*report)) return *wanted;
    if (auto* failure = std::get_if<TokenFailed>(&*report)) {
      ADD_FAILURE() << "TokenFailed " << to_string(failure->problem) << " " << failure->code << ": "
                    << failure->consistent_note;
    } else {
      ADD_FAILURE() << "unexpected report, variant index " << report->index();
    }
    return std::nullopt;
  }
  std::vector<TokenStage> stages() {
    std::lock_guard lock(mutex_);
    return stages_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  std::deque<TokenReport> reports_;
  std::vector<TokenStage> stages_;
};

std::string subject_serial_number(const std::vector<std::uint8_t>& der) {
  const unsigned char* cursor = der.data();
  X509* certificate = d2i_X509(nullptr, &cursor, static_cast<long>(der.size()));
  if (certificate == nullptr) return {};
  const X509_NAME* name = X509_get_subject_name(certificate);
  const int index = X509_NAME_get_index_by_NID(name, NID_serialNumber, -1);
  std::string text;
  if (index >= 0) {
    const ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
    text.assign(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                static_cast<std::size_t>(ASN1_STRING_length(value)));
  }
  X509_free(certificate);
  return text;
}

// A test-only wrapper around the SoftHSM2 driver: the first certificate import reports the token
// gone (no_media) and the token then stays hidden from slot listings for `hidden_polls` polls, or
// for good when `comes_back` is false, as a token pulled out of the reader would.
struct PullState {
  std::atomic<bool> import_failed{false};
  std::atomic<int> hidden_polls{0};
  bool comes_back = true;
};

class PullingSession final : public TokenSession {
 public:
  PullingSession(std::unique_ptr<TokenSession> inner, std::shared_ptr<PullState> state)
      : inner_(std::move(inner)), state_(std::move(state)) {}
  TokenResult<void> login_user(std::string& pin) override { return inner_->login_user(pin); }
  TokenResult<void> login_security_officer(std::string& so_pin) override {
    return inner_->login_security_officer(so_pin);
  }
  TokenResult<void> logout() override { return inner_->logout(); }
  TokenResult<void> change_pin(std::string& old_pin, std::string& new_pin) override {
    return inner_->change_pin(old_pin, new_pin);
  }
  TokenResult<void> init_user_pin(std::string& new_pin) override { return inner_->init_user_pin(new_pin); }
  TokenResult<hal::token::TokenKey> generate_key_pair(hal::token::KeyType type, std::string_view label) override {
    return inner_->generate_key_pair(type, label);
  }
  TokenResult<hal::token::CertificateRequest> sign_request(const hal::token::TokenKey& key,
                                                           const hal::token::SubjectName& subject) override {
    return inner_->sign_request(key, subject);
  }
  TokenResult<void> import_certificate(std::span<const std::uint8_t> key_id, std::span<const std::uint8_t> der,
                                       std::string_view label) override {
    if (!state_->import_failed.exchange(true)) {
      state_->hidden_polls = state_->comes_back ? 3 : 1'000'000;
      return std::unexpected(TokenError{Completion::no_media,
                                        Error{"TOKEN_NOT_PRESENT", "C_CreateObject: CKR_DEVICE_REMOVED (0x32)"}, 0x32});
    }
    return inner_->import_certificate(key_id, der, label);
  }
  TokenResult<std::vector<hal::token::TokenCertificate>> read_certificates() override {
    return inner_->read_certificates();
  }

 private:
  std::unique_ptr<TokenSession> inner_;
  std::shared_ptr<PullState> state_;
};

class PullingDriver final : public TokenDriver {
 public:
  PullingDriver(std::unique_ptr<TokenDriver> inner, std::shared_ptr<PullState> state)
      : inner_(std::move(inner)), state_(std::move(state)) {}
  TokenResult<std::vector<hal::token::SlotId>> slots_with_token() override {
    if (state_->hidden_polls > 0) {
      --state_->hidden_polls;
      return std::vector<hal::token::SlotId>{};
    }
    return inner_->slots_with_token();
  }
  TokenResult<hal::token::TokenInfo> token_info(hal::token::SlotId slot) override { return inner_->token_info(slot); }
  TokenResult<void> init_token(hal::token::SlotId slot, std::string& so_pin, std::string_view label) override {
    return inner_->init_token(slot, so_pin, label);
  }
  TokenResult<std::unique_ptr<TokenSession>> open_session(hal::token::SlotId slot) override {
    auto session = inner_->open_session(slot);
    if (!session) return std::unexpected(session.error());
    return std::make_unique<PullingSession>(std::move(*session), state_);
  }

 private:
  std::unique_ptr<TokenDriver> inner_;
  std::shared_ptr<PullState> state_;
};

// Sends this process's stderr (where kiosk/core/log writes) to a file while alive, to scan it.
class StderrCapture {
 public:
  StderrCapture() : file_(fs::temp_directory_path() / ("token-worker-log-" + std::to_string(::getpid()))) {
    std::fflush(stderr);
    saved_ = ::dup(STDERR_FILENO);
    const int fd = ::open(file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~StderrCapture() {
    restore();
    std::error_code ignored;
    fs::remove(file_, ignored);
  }
  std::string text() {
    restore();
    std::ifstream in(file_);
    std::stringstream content;
    content << in.rdbuf();
    return content.str();
  }

 private:
  void restore() {
    if (saved_ < 0) return;
    std::fflush(stderr);
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
    saved_ = -1;
  }
  fs::path file_;
  int saved_ = -1;
};

class TokenWorkerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hsm_ = std::make_unique<hal::token::testing::SoftHsmDir>(fs::temp_directory_path());
    ASSERT_TRUE(hsm_->init_token("investor-a"));
    gateway_ = std::make_unique<CaGateway>();
    ASSERT_TRUE(gateway_->started()) << "the gateway did not start";
    auto https = sync::HttpsClient::create(gateway_->url(), gateway_->identity(), 10s);
    ASSERT_TRUE(https.has_value()) << https.error().to_string();
    https_ = std::make_unique<sync::HttpsClient>(std::move(*https));
    ca_ = std::make_unique<sync::CaClient>(*https_);
  }
  void TearDown() override {
    worker_.reset();  // before the module's token directory goes
    ca_.reset();
    https_.reset();
    gateway_.reset();
    hsm_.reset();
  }

  static hal::token::TokenAllowlist allowlist(const std::string& model) {
    auto list =
        hal::token::TokenAllowlist::from_string("[[token_model]]\nmanufacturer = \"SoftHSM project\"\nmodel = \"" +
                                                    model + "\"\ncertification_number = \"TEST-0001\"\n",
                                                "test-allowlist");
    EXPECT_TRUE(list.has_value());
    return *list;
  }

  void start_worker(TokenDriverFactory factory = nullptr, std::string allowed_model = "SoftHSM v2") {
    TokenWorkerConfig config;
    config.allowlist = allowlist(allowed_model);
    config.poll_interval = 50ms;
    config.reopen_module_while_waiting = true;  // SoftHSM2 shows a new token only to a fresh C_Initialize
    config.reinsert_timeout = 2s;
    if (!factory) factory = pkcs11_driver_factory(SOFTHSM2_MODULE);
    worker_ = std::make_unique<TokenWorker>(config, std::move(factory),
                                            ca_client_factory(gateway_->url(), gateway_->identity(), 10s),
                                            [this](TokenReport report) { reports_.push(std::move(report)); });
  }

  TokenJob job(std::uint64_t attempt, Operation operation, std::string request_id) const {
    TokenJob made;
    made.attempt = attempt;
    made.operation = operation;
    made.request_id = std::move(request_id);
    made.subject = {"natural", "prc-id", kIdNumber, "测试一"};
    return made;
  }

  void submit(const char* pin, const char* new_pin = "") {
    std::string pin_buffer = pin;
    std::string new_pin_buffer = new_pin;
    EXPECT_TRUE(worker_->submit_pin(pin_buffer, new_pin_buffer));
    EXPECT_TRUE(pin_buffer.empty());  // wiped: the UI's copy is gone
    EXPECT_TRUE(new_pin_buffer.empty());
  }

  // Runs an apply with a fresh token's PINs and returns its report.
  std::optional<TokenDone> apply(std::uint64_t attempt, const std::string& request_id, hal::token::KeyType key_type) {
    auto apply_job = job(attempt, Operation::apply, request_id);
    apply_job.key_type = key_type;
    EXPECT_TRUE(worker_->start(apply_job).has_value());
    reports_.expect<TokenWaiting>();
    const auto found = reports_.expect<TokenFound>();
    if (!found || !found->allowed) return std::nullopt;
    const auto pin = reports_.expect<TokenPinNeeded>();
    if (!pin) return std::nullopt;
    EXPECT_EQ(pin->kind, TokenPinKind::initial_then_new);
    submit(hal::token::testing::kUserPin, kNewPin);
    return reports_.expect<TokenDone>();
  }

  std::string ca_state(const std::string& serial) const {
    auto state = ca_->status(serial);
    EXPECT_TRUE(state.has_value()) << state.error().to_string();
    return state ? state->state : "";
  }

  std::unique_ptr<hal::token::testing::SoftHsmDir> hsm_;
  std::unique_ptr<CaGateway> gateway_;
  std::unique_ptr<sync::HttpsClient> https_;
  std::unique_ptr<sync::CaClient> ca_;
  Reports reports_;
  std::unique_ptr<TokenWorker> worker_;
};

TEST_F(TokenWorkerTest, SixOperationsThroughTheWorker) {
  StderrCapture log;
  start_worker();

  // apply (EC P-256) on token A.
  const auto applied = apply(1, "tw-apply-1", hal::token::KeyType::ec_p256);
  ASSERT_TRUE(applied.has_value());
  EXPECT_EQ(applied->state, "active");
  EXPECT_TRUE(applied->token_used);
  EXPECT_TRUE(applied->removal_reported);
  EXPECT_EQ(subject_serial_number(applied->certificate_der), kIdNumber);
  EXPECT_FALSE(applied->csr_der.empty());
  EXPECT_GT(applied->timings_ms.total_ms, 0.0);
  EXPECT_EQ(ca_state(applied->serial), "active");
  const auto stages = reports_.stages();
  EXPECT_EQ(stages, (std::vector<TokenStage>{TokenStage::keygen, TokenStage::request, TokenStage::issuance,
                                             TokenStage::import, TokenStage::verify}));

  // renew: the certificate is read from the token, the investor's new PIN logs in.
  ASSERT_TRUE(worker_->start(job(2, Operation::renew, "tw-renew-2")).has_value());
  reports_.expect<TokenWaiting>();
  reports_.expect<TokenFound>();
  const auto renew_pin = reports_.expect<TokenPinNeeded>();
  ASSERT_TRUE(renew_pin.has_value());
  EXPECT_EQ(renew_pin->kind, TokenPinKind::current);
  submit(kNewPin);
  const auto renewed = reports_.expect<TokenDone>();
  ASSERT_TRUE(renewed.has_value());
  EXPECT_EQ(renewed->retired_serial, applied->serial);
  EXPECT_NE(renewed->serial, applied->serial);
  EXPECT_EQ(ca_state(applied->serial), "revoked");
  EXPECT_EQ(ca_state(renewed->serial), "active");

  // freeze: no PIN; the token holds the superseded and the renewed certificate, the live one is taken.
  auto freeze = job(3, Operation::freeze, "tw-freeze-3");
  freeze.reason = "HOLDER_REQUEST";
  ASSERT_TRUE(worker_->start(freeze).has_value());
  reports_.expect<TokenWaiting>();
  reports_.expect<TokenFound>();
  const auto frozen = reports_.expect<TokenDone>();
  ASSERT_TRUE(frozen.has_value());
  EXPECT_EQ(frozen->serial, renewed->serial);
  EXPECT_EQ(frozen->state, "frozen");
  EXPECT_EQ(ca_state(renewed->serial), "frozen");

  // unfreeze.
  ASSERT_TRUE(worker_->start(job(4, Operation::unfreeze, "tw-unfreeze-4")).has_value());
  reports_.expect<TokenWaiting>();
  reports_.expect<TokenFound>();
  const auto unfrozen = reports_.expect<TokenDone>();
  ASSERT_TRUE(unfrozen.has_value());
  EXPECT_EQ(unfrozen->state, "active");
  EXPECT_EQ(ca_state(renewed->serial), "active");

  // Token A is lost: SoftHSM2 shows the deleted token as gone, so the worker reports the removal.
  ASSERT_EQ(std::system((std::string(SOFTHSM2_UTIL) + " --delete-token --token investor-a > /dev/null").c_str()), 0);
  const auto removed = reports_.expect<TokenRemoved>(10s);
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(removed->attempt, 4u);

  // reissue onto a new token B (RSA-2048), the lost certificate chosen by serial.
  ASSERT_TRUE(hsm_->init_token("investor-b"));
  auto reissue = job(5, Operation::reissue, "tw-reissue-5");
  reissue.reason = "LOST";
  reissue.target_serial = renewed->serial;
  reissue.key_type = hal::token::KeyType::rsa_2048;
  ASSERT_TRUE(worker_->start(reissue).has_value());
  reports_.expect<TokenWaiting>();
  reports_.expect<TokenFound>();
  const auto reissue_pin = reports_.expect<TokenPinNeeded>();
  ASSERT_TRUE(reissue_pin.has_value());
  EXPECT_EQ(reissue_pin->kind, TokenPinKind::initial_then_new);
  submit(hal::token::testing::kUserPin, kNewPin);
  const auto reissued = reports_.expect<TokenDone>();
  ASSERT_TRUE(reissued.has_value());
  EXPECT_EQ(reissued->retired_serial, renewed->serial);
  EXPECT_EQ(ca_state(renewed->serial), "revoked");
  EXPECT_EQ(ca_state(reissued->serial), "active");

  // revoke by serial (no token needed).
  auto revoke = job(6, Operation::revoke, "tw-revoke-6");
  revoke.reason = "HOLDER_REQUEST";
  revoke.target_serial = reissued->serial;
  ASSERT_TRUE(worker_->start(revoke).has_value());
  const auto revoked = reports_.expect<TokenDone>();
  ASSERT_TRUE(revoked.has_value());
  EXPECT_FALSE(revoked->token_used);
  EXPECT_EQ(revoked->state, "revoked");
  EXPECT_EQ(ca_state(reissued->serial), "revoked");

  // A second revoke is refused by the CA with its own code.
  auto again = job(7, Operation::revoke, "tw-revoke-7");
  again.reason = "HOLDER_REQUEST";
  again.target_serial = reissued->serial;
  ASSERT_TRUE(worker_->start(again).has_value());
  const auto refused = reports_.expect<TokenFailed>();
  ASSERT_TRUE(refused.has_value());
  EXPECT_EQ(refused->problem, TokenProblem::ca_refused);
  EXPECT_EQ(refused->code, "CA_ILLEGAL_TRANSITION");

  // The worker logged every job, and never the ID number, the name or a PIN.
  worker_.reset();
  const std::string logged = log.text();
  EXPECT_NE(logged.find("token_job_done"), std::string::npos);
  for (const char* secret : {kIdNumber, "1231002X", "测试一", kNewPin}) {
    EXPECT_EQ(logged.find(secret), std::string::npos) << secret;
  }
}

TEST_F(TokenWorkerTest, RefusesATokenModelNotOnTheAllowlist) {
  start_worker(nullptr, "Some Certified Model");
  ASSERT_TRUE(worker_->start(job(1, Operation::apply, "tw-model-1")).has_value());
  reports_.expect<TokenWaiting>();
  const auto found = reports_.expect<TokenFound>();
  ASSERT_TRUE(found.has_value());
  EXPECT_FALSE(found->allowed);
  EXPECT_EQ(found->model, "SoftHSM v2");
  const auto failed = reports_.expect<TokenFailed>();
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->problem, TokenProblem::model_not_allowed);
  EXPECT_EQ(failed->code, "TOKEN_MODEL_NOT_ALLOWED");
  std::string pin = "123456";
  std::string none;
  EXPECT_FALSE(worker_->submit_pin(pin, none));  // no PIN was asked for
  EXPECT_TRUE(pin.empty());
}

TEST_F(TokenWorkerTest, WrongPinIsAskedAgainThenTheRightOneWorks) {
  start_worker();
  ASSERT_TRUE(worker_->start(job(1, Operation::apply, "tw-pin-1")).has_value());
  reports_.expect<TokenWaiting>();
  reports_.expect<TokenFound>();
  const auto first = reports_.expect<TokenPinNeeded>();
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->retry_code.empty());
  EXPECT_GT(first->max_len, 0u);
  submit("999999", kNewPin);
  const auto second = reports_.expect<TokenPinNeeded>();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->retry_code, "TOKEN_PIN_INCORRECT");
  EXPECT_EQ(second->kind, TokenPinKind::initial_then_new);
  submit(hal::token::testing::kUserPin, kNewPin);
  const auto done = reports_.expect<TokenDone>();
  ASSERT_TRUE(done.has_value());
  EXPECT_EQ(ca_state(done->serial), "active");
}

TEST_F(TokenWorkerTest, TokenPulledAtImportAndPutBackIsWrittenAgain) {
  auto state = std::make_shared<PullState>();
  start_worker([state]() -> TokenResult<std::unique_ptr<TokenDriver>> {
    auto inner = pkcs11_driver_factory(SOFTHSM2_MODULE)();
    if (!inner) return std::unexpected(inner.error());
    return std::make_unique<PullingDriver>(std::move(*inner), state);
  });
  ASSERT_TRUE(worker_->start(job(1, Operation::apply, "tw-pull-1")).has_value());
  reports_.expect<TokenWaiting>();
  reports_.expect<TokenFound>();
  reports_.expect<TokenPinNeeded>();
  submit(hal::token::testing::kUserPin, kNewPin);
  const auto reinsert = reports_.expect<TokenWaiting>();
  ASSERT_TRUE(reinsert.has_value());
  EXPECT_FALSE(reinsert->reinsert_serial_masked.empty());
  // Back in: a fresh session must log in again before the import (the PIN just set).
  const auto again = reports_.expect<TokenPinNeeded>();
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->kind, TokenPinKind::current);
  submit(kNewPin);
  const auto done = reports_.expect<TokenDone>();
  ASSERT_TRUE(done.has_value());
  EXPECT_TRUE(state->import_failed);
  EXPECT_EQ(ca_state(done->serial), "active");
  EXPECT_EQ(subject_serial_number(done->certificate_der), kIdNumber);
}

TEST_F(TokenWorkerTest, TokenPulledAtImportAndNotBackIsRolledBackAtTheCa) {
  auto state = std::make_shared<PullState>();
  state->comes_back = false;
  start_worker([state]() -> TokenResult<std::unique_ptr<TokenDriver>> {
    auto inner = pkcs11_driver_factory(SOFTHSM2_MODULE)();
    if (!inner) return std::unexpected(inner.error());
    return std::make_unique<PullingDriver>(std::move(*inner), state);
  });
  ASSERT_TRUE(worker_->start(job(1, Operation::apply, "tw-gone-1")).has_value());
  reports_.expect<TokenWaiting>();
  reports_.expect<TokenFound>();
  reports_.expect<TokenPinNeeded>();
  submit(hal::token::testing::kUserPin, kNewPin);
  reports_.expect<TokenWaiting>();
  const auto failed = reports_.expect<TokenFailed>(30s);
  ASSERT_TRUE(failed.has_value());
  EXPECT_EQ(failed->problem, TokenProblem::token_removed);
  EXPECT_EQ(failed->code, "TOKEN_NOT_PRESENT");
  EXPECT_EQ(failed->consistent_note, "rolled back");
  ASSERT_FALSE(failed->rolled_back_serial.empty());
  EXPECT_EQ(ca_state(failed->rolled_back_serial), "revoked");
}

TEST_F(TokenWorkerTest, StartRefusesAnInvalidJobAndASecondJob) {
  start_worker();
  auto bad = job(1, Operation::freeze, "tw-bad-1");
  EXPECT_EQ(worker_->start(bad).error().code, "TOKEN_JOB_INVALID");  // no reason
  bad = job(1, Operation::apply, std::string(56, 'a'));
  EXPECT_EQ(worker_->start(bad).error().code, "TOKEN_JOB_INVALID");  // no room for "-rollback"
  ASSERT_TRUE(worker_->start(job(2, Operation::apply, "tw-busy-2")).has_value());
  EXPECT_EQ(worker_->start(job(3, Operation::apply, "tw-busy-3")).error().code, "TOKEN_WORKER_BUSY");
  reports_.expect<TokenWaiting>();
  reports_.expect<TokenFound>();
  reports_.expect<TokenPinNeeded>();
  worker_->cancel();
  // After a cancel the worker takes a new job.
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(worker_->start(job(4, Operation::apply, "tw-busy-4")).has_value());
  reports_.expect<TokenWaiting>();
}

// The CA client on its own against the same gateway: soft apply, lookup and the refusal codes.
TEST_F(TokenWorkerTest, CaClientSoftApplyLookupAndRefusals) {
  const sync::CaSubjectFields subject{"natural", "prc-id", kIdNumber, "测试一"};
  const auto grant = ca_->apply_soft("tw-soft-1", subject);
  ASSERT_TRUE(grant.has_value()) << grant.error().to_string();
  EXPECT_EQ(grant->certificate.state, "pending_download");
  EXPECT_EQ(grant->certificate.medium, "soft");
  EXPECT_FALSE(grant->reference.empty());
  EXPECT_FALSE(grant->code.empty());
  const auto again = ca_->apply_soft("tw-soft-1", subject);  // the same request id: the same answer
  ASSERT_TRUE(again.has_value()) << again.error().to_string();
  EXPECT_EQ(again->certificate.serial, grant->certificate.serial);

  const auto found = ca_->lookup(subject);
  ASSERT_TRUE(found.has_value()) << found.error().to_string();
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ(found->front().serial, grant->certificate.serial);
  const auto nobody = ca_->lookup({"natural", "prc-id", "110105194912310021", "测试二"});
  ASSERT_TRUE(nobody.has_value()) << nobody.error().to_string();
  EXPECT_TRUE(nobody->empty());

  const auto duplicate = ca_->apply_soft("tw-soft-2", subject);
  ASSERT_FALSE(duplicate.has_value());
  EXPECT_EQ(duplicate.error().code, "CA_DUPLICATE_LIVE");
  EXPECT_EQ(duplicate.error().message.find(kIdNumber), std::string::npos);
  const auto unknown = ca_->status("ABCDEF0123");
  ASSERT_FALSE(unknown.has_value());
  EXPECT_EQ(unknown.error().code, "CA_UNKNOWN_SERIAL");
  EXPECT_EQ(ca_->status("../healthz").error().code, "CA_SERIAL_INVALID");
  const auto illegal = ca_->unfreeze("tw-unfreeze-x", grant->certificate.serial);
  ASSERT_FALSE(illegal.has_value());
  EXPECT_EQ(illegal.error().code, "CA_ILLEGAL_TRANSITION");
}

}  // namespace
}  // namespace kiosk::app
