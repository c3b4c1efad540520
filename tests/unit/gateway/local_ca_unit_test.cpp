// local-ca: the lifecycle table over all states x operations, idempotent retries, reissue
// atomicity under injected failure, CSR checks, the issued chain, the CRL and a restart.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <string>

#include "kiosk/core/clock.hpp"
#include "sync/gateway/ca/local_ca.hpp"
#include "sync/gateway/pki.hpp"
#include "tests/support/test_csr.hpp"

namespace kiosk::gateway::ca {
namespace {

// The CN in test requests is deliberately not the subject's: the CA must take the subject from the kiosk.
std::string make_csr(EVP_PKEY* key, EVP_PKEY* signer = nullptr) {
  return kiosk::testing::test_csr_pem(key, signer, "from-the-csr");
}

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::chrono::days kDay{1};

fs::path fresh_dir(const std::string& name) {
  static std::atomic<int> counter{0};
  const fs::path dir = fs::temp_directory_path() /
                       ("local-ca-test-" + std::to_string(::getpid()) + "-" + name + "-" + std::to_string(counter++));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

KeyPtr new_key() { return KeyPtr(EVP_EC_gen("P-256")); }

CertPtr parse_pem_certificate(const std::string& pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  CertPtr cert(PEM_read_bio_X509(bio, nullptr, nullptr, nullptr));
  BIO_free(bio);
  return cert;
}

CaSubject subject_numbered(int number) {
  CaSubject subject;
  subject.identity.investor_type = InvestorType::natural;
  subject.identity.id_type = DocumentType::prc_id;
  subject.identity.id_number = "1101051949123" + std::to_string(10000 + number);
  subject.common_name = "测试" + std::to_string(number);
  return subject;
}

class LocalCaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    open_ca();
  }
  void TearDown() override {
    ca_.reset();
    fs::remove_all(dir_);
  }

  void open_ca(CaProfile profile = {}) {
    ca_.reset();
    LocalCaOptions options;
    options.data_dir = dir_;
    options.profile = std::move(profile);
    options.clock = &clock_;
    options.fault_hook = [this](std::string_view step) -> Result<void> {
      if (step == fail_at_) return fail("TEST_INJECTED_FAILURE", "injected at " + std::string(step));
      return {};
    };
    auto opened = LocalCa::open(std::move(options));
    ASSERT_TRUE(opened) << opened.error().to_string();
    ca_ = std::move(*opened);
  }

  std::string next_id() { return "req-" + std::to_string(++request_counter_); }

  IssuedCertificate apply_ok(int subject_number, Medium medium = Medium::hard) {
    auto key = new_key();
    // A soft apply carries no request: the investor's software sends one at download.
    const std::string csr = medium == Medium::soft ? std::string() : make_csr(key.get());
    auto issued = ca_->apply({next_id(), subject_numbered(subject_number), csr, medium});
    EXPECT_TRUE(issued) << issued.error().to_string();
    return issued.value_or(IssuedCertificate{});
  }

  std::int64_t certificate_rows() {
    sqlite3* db = nullptr;
    sqlite3_open((dir_ / "index.sqlite").c_str(), &db);
    sqlite3_stmt* statement = nullptr;
    sqlite3_prepare_v2(db, "SELECT count(*) FROM ca_certificates", -1, &statement, nullptr);
    sqlite3_step(statement);
    const std::int64_t count = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return count;
  }

  fs::path dir_;
  ManualClock clock_{std::chrono::system_clock::now()};
  std::unique_ptr<LocalCa> ca_;
  std::string fail_at_;
  int request_counter_ = 0;
};

// ---- the transition table --------------------------------------------------------------

// Brings a fresh certificate (of its own subject) into `state`.
std::string certificate_in_state(LocalCaTest& test, LocalCa& ca, ManualClock& clock, CertState state, int subject,
                                 int& counter) {
  auto id = [&] { return "table-" + std::to_string(++counter); };
  auto key = new_key();
  const Medium medium = state == CertState::pending_download ? Medium::soft : Medium::hard;
  auto issued =
      ca.apply({id(), subject_numbered(subject), medium == Medium::soft ? std::string() : make_csr(key.get()), medium});
  EXPECT_TRUE(issued) << issued.error().to_string();
  const std::string serial = issued->status.serial;
  switch (state) {
    case CertState::frozen: EXPECT_TRUE(ca.freeze({id(), serial, "LOST_MEDIUM"})); break;
    case CertState::revoked: EXPECT_TRUE(ca.revoke({id(), serial, "HOLDER_REQUEST"})); break;
    case CertState::expired: clock.advance(731 * kDay); break;
    default: break;
  }
  (void)test;
  return serial;
}

TEST_F(LocalCaTest, EveryStateAndOperationFollowsM3) {
  CaProfile profile;
  profile.renewal_window_days = 10000;  // renewal window always open: this test is about states
  open_ca(profile);
  const std::map<std::pair<CertState, Operation>, CertState> legal{
      {{CertState::active, Operation::renew}, CertState::revoked},  // old one superseded
      {{CertState::active, Operation::freeze}, CertState::frozen},
      {{CertState::active, Operation::reissue}, CertState::revoked},
      {{CertState::active, Operation::revoke}, CertState::revoked},
      {{CertState::frozen, Operation::unfreeze}, CertState::active},
      {{CertState::frozen, Operation::reissue}, CertState::revoked},
      {{CertState::frozen, Operation::revoke}, CertState::revoked},
  };
  int subject = 0;
  int counter = 0;
  for (CertState from :
       {CertState::pending_download, CertState::active, CertState::frozen, CertState::revoked, CertState::expired}) {
    for (Operation op :
         {Operation::renew, Operation::freeze, Operation::unfreeze, Operation::reissue, Operation::revoke}) {
      SCOPED_TRACE(std::string(to_string(from)) + " x " + std::string(to_string(op)));
      const auto start = clock_.now();
      const std::string serial = certificate_in_state(*this, *ca_, clock_, from, ++subject, counter);
      ASSERT_EQ(ca_->status(serial)->state, from);
      auto key = new_key();
      const std::string csr = make_csr(key.get());
      const std::string id = "op-" + std::to_string(subject);
      Result<CertState> outcome = fail("UNSET", "");
      std::string successor;
      switch (op) {
        case Operation::renew: {
          auto r = ca_->renew({id, serial, csr});
          if (r) successor = r->status.serial;
          outcome = r ? Result<CertState>(r->status.state) : std::unexpected(r.error());
          break;
        }
        case Operation::freeze: {
          auto r = ca_->freeze({id, serial, "HOLDER_REQUEST"});
          outcome = r ? Result<CertState>(r->state) : std::unexpected(r.error());
          break;
        }
        case Operation::unfreeze: {
          auto r = ca_->unfreeze({id, serial});
          outcome = r ? Result<CertState>(r->state) : std::unexpected(r.error());
          break;
        }
        case Operation::reissue: {
          auto r = ca_->reissue({id, serial, "LOST", csr, Medium::hard});
          if (r) successor = r->status.serial;
          outcome = r ? Result<CertState>(r->status.state) : std::unexpected(r.error());
          break;
        }
        case Operation::revoke: {
          auto r = ca_->revoke({id, serial, "HOLDER_REQUEST"});
          outcome = r ? Result<CertState>(r->state) : std::unexpected(r.error());
          break;
        }
        case Operation::apply: break;
      }
      const auto expected = legal.find({from, op});
      if (expected != legal.end()) {
        ASSERT_TRUE(outcome) << outcome.error().to_string();
        EXPECT_EQ(ca_->status(serial)->state, expected->second);
        if (!successor.empty()) {
          EXPECT_EQ(*outcome, CertState::active);
          EXPECT_EQ(ca_->status(serial)->superseded_by, successor);
        }
      } else {
        ASSERT_FALSE(outcome);
        EXPECT_EQ(outcome.error().code, "CA_ILLEGAL_TRANSITION");
        EXPECT_NE(outcome.error().message.find(std::string(to_string(op))), std::string::npos);
        EXPECT_NE(outcome.error().message.find(std::string(to_string(from))), std::string::npos);
        EXPECT_EQ(ca_->status(serial)->state, from) << "a refused operation changed the state";
      }
      if (from == CertState::expired) clock_ = ManualClock(start);  // back to "now" for the next row
    }
  }
}

TEST_F(LocalCaTest, ApplyRefusesASecondLiveCertificateButNotAfterRevocation) {
  const auto first = apply_ok(1);
  auto key = new_key();
  auto second = ca_->apply({next_id(), subject_numbered(1), make_csr(key.get()), Medium::hard});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, "CA_DUPLICATE_LIVE");
  ASSERT_TRUE(ca_->freeze({next_id(), first.status.serial, "LOST_MEDIUM"}));
  second = ca_->apply({next_id(), subject_numbered(1), make_csr(key.get()), Medium::hard});
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().code, "CA_DUPLICATE_LIVE");
  ASSERT_TRUE(ca_->revoke({next_id(), first.status.serial, "HOLDER_REQUEST"}));
  second = ca_->apply({next_id(), subject_numbered(1), make_csr(key.get()), Medium::hard});
  ASSERT_TRUE(second) << second.error().to_string();
  EXPECT_EQ(second->status.state, CertState::active);
}

TEST_F(LocalCaTest, SoftApplyWaitsForDownload) {
  const auto issued = apply_ok(1, Medium::soft);
  EXPECT_EQ(issued.status.state, CertState::pending_download);
  EXPECT_EQ(issued.status.medium, Medium::soft);
}

TEST_F(LocalCaTest, UnknownSerialIsRefused) {
  auto frozen = ca_->freeze({next_id(), "0123ABCD", "LOST_MEDIUM"});
  ASSERT_FALSE(frozen);
  EXPECT_EQ(frozen.error().code, "CA_UNKNOWN_SERIAL");
  EXPECT_EQ(ca_->status("0123ABCD").error().code, "CA_UNKNOWN_SERIAL");
}

TEST_F(LocalCaTest, ReasonCodesAreMandatory) {
  const auto issued = apply_ok(1);
  EXPECT_EQ(ca_->freeze({next_id(), issued.status.serial, ""}).error().code, "CA_REASON_INVALID");
  EXPECT_EQ(ca_->revoke({next_id(), issued.status.serial, "BORED"}).error().code, "CA_REASON_INVALID");
  auto key = new_key();
  EXPECT_EQ(ca_->reissue({next_id(), issued.status.serial, "", make_csr(key.get()), Medium::hard}).error().code,
            "CA_REASON_INVALID");
  EXPECT_EQ(ca_->status(issued.status.serial)->state, CertState::active);
}

// ---- renew -------------------------------------------------------------------------------

TEST_F(LocalCaTest, RenewOnlyInsideTheWindowAndWithANewKey) {
  auto old_key = new_key();
  auto issued = ca_->apply({next_id(), subject_numbered(1), make_csr(old_key.get()), Medium::hard});
  ASSERT_TRUE(issued);
  auto new_key_pair = new_key();
  auto early = ca_->renew({next_id(), issued->status.serial, make_csr(new_key_pair.get())});
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().code, "CA_OUTSIDE_RENEWAL_WINDOW");

  clock_.advance((730 - 10) * kDay);  // 10 days before expiry: inside the default 30-day window
  auto same_key = ca_->renew({next_id(), issued->status.serial, make_csr(old_key.get())});
  ASSERT_FALSE(same_key);
  EXPECT_EQ(same_key.error().code, "CA_KEY_REUSED");

  auto renewed = ca_->renew({next_id(), issued->status.serial, make_csr(new_key_pair.get())});
  ASSERT_TRUE(renewed) << renewed.error().to_string();
  EXPECT_EQ(renewed->retired_serial, issued->status.serial);
  EXPECT_NE(renewed->status.serial, issued->status.serial);
  const auto old_status = ca_->status(issued->status.serial);
  EXPECT_EQ(old_status->state, CertState::revoked);
  EXPECT_EQ(old_status->revocation_reason, "SUPERSEDED");
  EXPECT_EQ(old_status->superseded_by, renewed->status.serial);
  // The new certificate keeps the subject of the old one.
  auto old_cert = parse_pem_certificate(issued->certificate_pem);
  auto new_cert = parse_pem_certificate(renewed->certificate_pem);
  EXPECT_EQ(X509_NAME_cmp(X509_get_subject_name(old_cert.get()), X509_get_subject_name(new_cert.get())), 0);
}

// ---- idempotency -------------------------------------------------------------------------

TEST_F(LocalCaTest, RetriedApplyReturnsTheStoredAnswerAndIssuesOnce) {
  auto key = new_key();
  const ApplyRequest request{"apply-once", subject_numbered(1), make_csr(key.get()), Medium::hard};
  auto first = ca_->apply(request);
  ASSERT_TRUE(first) << first.error().to_string();
  auto again = ca_->apply(request);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->status.serial, first->status.serial);
  EXPECT_EQ(again->certificate_pem, first->certificate_pem);
  EXPECT_EQ(certificate_rows(), 1);
}

TEST_F(LocalCaTest, SameRequestIdWithOtherContentIsRefused) {
  auto key = new_key();
  ASSERT_TRUE(ca_->apply({"shared-id", subject_numbered(1), make_csr(key.get()), Medium::hard}));
  auto other_key = new_key();
  auto other_body = ca_->apply({"shared-id", subject_numbered(2), make_csr(other_key.get()), Medium::hard});
  ASSERT_FALSE(other_body);
  EXPECT_EQ(other_body.error().code, "CA_REQUEST_ID_REUSED");
  // The same id for another operation is just as wrong.
  const auto issued = apply_ok(3);
  auto other_operation = ca_->freeze({"shared-id", issued.status.serial, "LOST_MEDIUM"});
  ASSERT_FALSE(other_operation);
  EXPECT_EQ(other_operation.error().code, "CA_REQUEST_ID_REUSED");
  EXPECT_EQ(certificate_rows(), 2);
}

TEST_F(LocalCaTest, RetriedFreezeAnswersAsTheFirstTimeInsteadOfRefusing) {
  const auto issued = apply_ok(1);
  const FreezeRequest request{"freeze-1", issued.status.serial, "LOST_MEDIUM"};
  ASSERT_TRUE(ca_->freeze(request));
  auto retried = ca_->freeze(request);  // a second freeze with a new id would be CA_ILLEGAL_TRANSITION
  ASSERT_TRUE(retried) << retried.error().to_string();
  EXPECT_EQ(retried->state, CertState::frozen);
  EXPECT_EQ(ca_->freeze({"freeze-2", issued.status.serial, "LOST_MEDIUM"}).error().code, "CA_ILLEGAL_TRANSITION");
}

TEST_F(LocalCaTest, RetriedReissueIssuesOnce) {
  const auto issued = apply_ok(1);
  auto key = new_key();
  const ReissueRequest request{"reissue-1", issued.status.serial, "LOST", make_csr(key.get()), Medium::hard};
  auto first = ca_->reissue(request);
  ASSERT_TRUE(first) << first.error().to_string();
  auto again = ca_->reissue(request);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->status.serial, first->status.serial);
  EXPECT_EQ(certificate_rows(), 2);
}

TEST_F(LocalCaTest, MalformedRequestIdIsRefused) {
  auto key = new_key();
  auto refused = ca_->apply({"bad id with spaces", subject_numbered(1), make_csr(key.get()), Medium::hard});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "CA_REQUEST_INVALID");
}

// ---- reissue atomicity -------------------------------------------------------------------

class ReissueFailure : public LocalCaTest, public ::testing::WithParamInterface<std::tuple<std::string, bool>> {};

TEST_P(ReissueFailure, LeavesTheOldCertificateLiveAndIssuesNothing) {
  const auto& [step, start_frozen] = GetParam();
  const auto issued = apply_ok(1);
  if (start_frozen) {
    ASSERT_TRUE(ca_->freeze({next_id(), issued.status.serial, "LOST_MEDIUM"}));
  }
  const CertState before = start_frozen ? CertState::frozen : CertState::active;
  const auto rows_before = certificate_rows();

  fail_at_ = step;
  auto key = new_key();
  const ReissueRequest request{"reissue-under-fault", issued.status.serial, "DAMAGED", make_csr(key.get()),
                               Medium::hard};
  auto failed = ca_->reissue(request);
  ASSERT_FALSE(failed);
  EXPECT_EQ(failed.error().code, "TEST_INJECTED_FAILURE");
  const auto after = ca_->status(issued.status.serial);
  EXPECT_EQ(after->state, before);
  EXPECT_TRUE(after->superseded_by.empty());
  EXPECT_TRUE(after->revocation_reason.empty());
  EXPECT_EQ(certificate_rows(), rows_before);
  auto crl = ca_->crl_pem();
  ASSERT_TRUE(crl);

  // The failed attempt left no request row: the retry runs for real.
  fail_at_.clear();
  auto retried = ca_->reissue(request);
  ASSERT_TRUE(retried) << retried.error().to_string();
  EXPECT_EQ(ca_->status(issued.status.serial)->state, CertState::revoked);
  EXPECT_EQ(certificate_rows(), rows_before + 1);
}

INSTANTIATE_TEST_SUITE_P(Steps, ReissueFailure,
                         ::testing::Combine(::testing::Values("reissue:after-revoke", "reissue:after-issue"),
                                            ::testing::Bool()));

// ---- CSR and the issued certificate ----------------------------------------------------

TEST_F(LocalCaTest, CsrWithABadSignatureIsRefused) {
  auto key = new_key();
  auto other = new_key();
  auto refused = ca_->apply({next_id(), subject_numbered(1), make_csr(key.get(), other.get()), Medium::hard});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "CA_REQUEST_INVALID");
  auto garbage = ca_->apply({next_id(), subject_numbered(1), "not a request", Medium::hard});
  ASSERT_FALSE(garbage);
  EXPECT_EQ(garbage.error().code, "CA_REQUEST_INVALID");
  EXPECT_EQ(certificate_rows(), 0);
}

TEST_F(LocalCaTest, SmallRsaKeyIsRefused) {
  EVP_PKEY* small = EVP_RSA_gen(1024);
  ASSERT_NE(small, nullptr);
  auto refused = ca_->apply({next_id(), subject_numbered(1), make_csr(small), Medium::hard});
  EVP_PKEY_free(small);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "CA_REQUEST_INVALID");
}

TEST_F(LocalCaTest, IssuedCertificateChainsToTheRootWithTheInvestorProfile) {
  const auto issued = apply_ok(7);
  auto cert = parse_pem_certificate(issued.certificate_pem);
  auto root = parse_pem_certificate(ca_->root_certificate_pem());
  auto issuing = parse_pem_certificate(ca_->issuing_certificate_pem());
  ASSERT_TRUE(cert && root && issuing);

  EVP_PKEY* issuing_key = X509_get0_pubkey(issuing.get());
  EXPECT_EQ(X509_verify(cert.get(), issuing_key), 1);

  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, root.get());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  sk_X509_push(untrusted, issuing.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert.get(), untrusted);
  X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT);
  EXPECT_EQ(X509_verify_cert(ctx), 1) << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  sk_X509_free(untrusted);
  X509_STORE_free(store);

  EXPECT_EQ(X509_get_key_usage(cert.get()), static_cast<uint32_t>(KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION));
  EXPECT_EQ(X509_get_extended_key_usage(cert.get()), static_cast<uint32_t>(XKU_SMIME | XKU_SSL_CLIENT));
  EXPECT_EQ(certificate_common_name(cert.get()), subject_numbered(7).common_name);  // not the CSR's CN
  EXPECT_EQ(certificate_serial_hex(cert.get()), issued.status.serial);
  const ASN1_INTEGER* serial = X509_get0_serialNumber(cert.get());
  EXPECT_EQ(ASN1_STRING_type(serial), V_ASN1_INTEGER);  // positive
  EXPECT_GE(issued.status.serial.size(), 24u);          // ~128 random bits
  EXPECT_EQ(issued.status.not_after_unix - issued.status.not_before_unix, 730 * 86400 + 300);
}

TEST_F(LocalCaTest, CrlListsRevokedAndHeldSerialsOnly) {
  const auto revoked = apply_ok(1);
  const auto held = apply_ok(2);
  const auto live = apply_ok(3);
  ASSERT_TRUE(ca_->revoke({next_id(), revoked.status.serial, "KEY_COMPROMISE"}));
  ASSERT_TRUE(ca_->freeze({next_id(), held.status.serial, "LOST_MEDIUM"}));

  auto pem = ca_->crl_pem();
  ASSERT_TRUE(pem) << pem.error().to_string();
  BIO* bio = BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size()));
  X509_CRL* crl = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(crl, nullptr);
  auto issuing = parse_pem_certificate(ca_->issuing_certificate_pem());
  EXPECT_EQ(X509_CRL_verify(crl, X509_get0_pubkey(issuing.get())), 1);

  std::map<std::string, int> reasons;
  STACK_OF(X509_REVOKED)* entries = X509_CRL_get_REVOKED(crl);
  for (int i = 0; i < sk_X509_REVOKED_num(entries); ++i) {
    X509_REVOKED* entry = sk_X509_REVOKED_value(entries, i);
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_REVOKED_get0_serialNumber(entry), nullptr);
    char* hex = BN_bn2hex(bn);
    auto* reason = static_cast<ASN1_ENUMERATED*>(X509_REVOKED_get_ext_d2i(entry, NID_crl_reason, nullptr, nullptr));
    reasons[hex] = reason != nullptr ? static_cast<int>(ASN1_ENUMERATED_get(reason)) : -1;
    ASN1_ENUMERATED_free(reason);
    OPENSSL_free(hex);
    BN_free(bn);
  }
  X509_CRL_free(crl);
  EXPECT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons[revoked.status.serial], CRL_REASON_KEY_COMPROMISE);
  EXPECT_EQ(reasons[held.status.serial], CRL_REASON_CERTIFICATE_HOLD);
  EXPECT_EQ(reasons.count(live.status.serial), 0u);
}

// ---- files and restart ------------------------------------------------------------------

TEST_F(LocalCaTest, RestartKeepsStatesCaAndStoredAnswers) {
  const auto first = apply_ok(1);
  const auto second = apply_ok(2);
  const FreezeRequest freeze{"freeze-before-restart", first.status.serial, "HOLDER_REQUEST"};
  ASSERT_TRUE(ca_->freeze(freeze));
  ASSERT_TRUE(ca_->revoke({next_id(), second.status.serial, "OTHER"}));
  const std::string root_before = ca_->root_certificate_pem();

  open_ca();  // a new process would do the same: reopen files and index
  EXPECT_EQ(ca_->root_certificate_pem(), root_before);
  EXPECT_EQ(ca_->status(first.status.serial)->state, CertState::frozen);
  EXPECT_EQ(ca_->status(first.status.serial)->freeze_reason, "HOLDER_REQUEST");
  EXPECT_EQ(ca_->status(second.status.serial)->state, CertState::revoked);
  auto retried = ca_->freeze(freeze);
  ASSERT_TRUE(retried) << retried.error().to_string();
  EXPECT_EQ(retried->state, CertState::frozen);
}

TEST_F(LocalCaTest, KeysArePrivateAndAnIncompleteCaIsRefused) {
  const CaFiles files = ca_->files();
  for (const auto& key : {files.root_key, files.issuing_key, files.subject_key}) {
    struct stat info {};
    ASSERT_EQ(::stat(key.c_str(), &info), 0) << key;
    EXPECT_EQ(info.st_mode & 0777, 0600u) << key;
  }
  ca_.reset();
  fs::remove(files.issuing_key);
  LocalCaOptions options;
  options.data_dir = dir_;
  auto broken = LocalCa::open(options);
  ASSERT_FALSE(broken);
  EXPECT_EQ(broken.error().code, "CA_BROKEN");
}

}  // namespace
}  // namespace kiosk::gateway::ca
