// local-ca soft certificates (REQ-31, REQ-50) and the lookup by subject (REQ-38): the reservation,
// the code kept only as a keyed hash, expiry and the attempts lock, retried applies and downloads,
// lapsed reservations, and the download / lookup routes through ApiHandler.
#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "kiosk/core/clock.hpp"
#include "sync/gateway/api.hpp"
#include "sync/gateway/ca/ca_routes.hpp"
#include "sync/gateway/ca/local_ca.hpp"
#include "sync/gateway/pki.hpp"
#include "tests/support/test_csr.hpp"

namespace kiosk::gateway::ca {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr std::string_view kCodeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

fs::path fresh_dir(const std::string& name) {
  static std::atomic<int> counter{0};
  const fs::path dir = fs::temp_directory_path() /
                       ("softcert-test-" + std::to_string(::getpid()) + "-" + name + "-" + std::to_string(counter++));
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

std::string name_entry(X509* cert, int nid) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(name, nid, -1);
  if (index < 0) return {};
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index)));
  std::string text(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(std::max(length, 0)));
  OPENSSL_free(utf8);
  return text;
}

std::string id_number_of(int number) { return "1101051949123" + std::to_string(10000 + number); }

CaSubject subject_numbered(int number) {
  CaSubject subject;
  subject.identity.investor_type = InvestorType::natural;
  subject.identity.id_type = DocumentType::prc_id;
  subject.identity.id_number = id_number_of(number);
  subject.common_name = "软证书" + std::to_string(number);
  return subject;
}

std::string all_bytes_under(const fs::path& dir) {
  std::string bytes;
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    bytes += text.str();
  }
  return bytes;
}

class SoftCertTest : public ::testing::Test {
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
    auto opened = LocalCa::open(std::move(options));
    ASSERT_TRUE(opened) << opened.error().to_string();
    ca_ = std::move(*opened);
  }

  std::string next_id() { return "soft-" + std::to_string(++request_counter_); }

  IssuedCertificate soft_apply(int subject_number, std::string request_id = {}) {
    if (request_id.empty()) request_id = next_id();
    auto issued = ca_->apply({request_id, subject_numbered(subject_number), {}, Medium::soft});
    EXPECT_TRUE(issued) << issued.error().to_string();
    return issued.value_or(IssuedCertificate{});
  }

  IssuedCertificate hard_apply(int subject_number) {
    auto key = new_key();
    auto issued = ca_->apply(
        {next_id(), subject_numbered(subject_number), kiosk::testing::test_csr_pem(key.get()), Medium::hard});
    EXPECT_TRUE(issued) << issued.error().to_string();
    return issued.value_or(IssuedCertificate{});
  }

  fs::path dir_;
  ManualClock clock_{std::chrono::system_clock::now()};
  std::unique_ptr<LocalCa> ca_;
  int request_counter_ = 0;
};

TEST_F(SoftCertTest, SoftApplyIsAReservationWithAGrant) {
  const auto start = clock_.now();
  const auto issued = soft_apply(1);
  EXPECT_EQ(issued.status.state, CertState::pending_download);
  EXPECT_EQ(issued.status.medium, Medium::soft);
  EXPECT_FALSE(issued.status.serial.empty());
  EXPECT_TRUE(issued.certificate_pem.empty()) << "no certificate before the download";
  ASSERT_TRUE(issued.download.has_value());
  const auto& grant = *issued.download;
  ASSERT_EQ(grant.reference.size(), 16u);
  EXPECT_EQ(grant.reference.substr(0, 2), "SC");
  EXPECT_TRUE(std::all_of(grant.reference.begin() + 2, grant.reference.end(), ::isdigit));
  ASSERT_EQ(grant.code.size(), 10u);
  for (char c : grant.code) EXPECT_NE(kCodeAlphabet.find(c), std::string_view::npos) << c;
  const auto expected_expiry =
      std::chrono::duration_cast<std::chrono::seconds>((start + 24h).time_since_epoch()).count();
  EXPECT_EQ(grant.expires_at_unix, expected_expiry);
  auto status = ca_->status(issued.status.serial);
  ASSERT_TRUE(status);
  EXPECT_EQ(status->state, CertState::pending_download);

  const auto other = soft_apply(2);
  ASSERT_TRUE(other.download);
  EXPECT_NE(other.download->reference, grant.reference);
  EXPECT_NE(other.download->code, grant.code);
}

TEST_F(SoftCertTest, SoftApplyWithARequestIsRefused) {
  auto key = new_key();
  auto refused = ca_->apply({next_id(), subject_numbered(1), kiosk::testing::test_csr_pem(key.get()), Medium::soft});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().code, "CA_REQUEST_INVALID");
  EXPECT_TRUE(ca_->lookup(subject_numbered(1))->empty()) << "a refused apply reserved something";
}

TEST_F(SoftCertTest, OnlyAKeyedHashOfTheCodeIsStored) {
  const auto issued = soft_apply(1);
  ASSERT_TRUE(issued.download);
  ca_.reset();  // close the index so every page is in the files
  const std::string bytes = all_bytes_under(dir_);
  EXPECT_NE(bytes.find(issued.download->reference), std::string::npos) << "the scan does not see the index";
  EXPECT_EQ(bytes.find(issued.download->code), std::string::npos) << "the code is stored in clear";
  EXPECT_TRUE(fs::exists(dir_ / "ca" / "download-code-hmac.key"));
  EXPECT_EQ(fs::status(dir_ / "ca" / "download-code-hmac.key").permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write);
}

TEST_F(SoftCertTest, DownloadIssuesTheReservedCertificateForTheRequestKey) {
  const auto issued = soft_apply(7);
  auto key = new_key();
  auto downloaded =
      ca_->download_soft(issued.download->reference, issued.download->code, kiosk::testing::test_csr_pem(key.get()));
  ASSERT_TRUE(downloaded) << downloaded.error().to_string();
  EXPECT_EQ(downloaded->status.state, CertState::active);
  EXPECT_EQ(downloaded->status.serial, issued.status.serial) << "the reserved serial";
  EXPECT_EQ(downloaded->status.medium, Medium::soft);
  EXPECT_EQ(ca_->status(issued.status.serial)->state, CertState::active);

  auto cert = parse_pem_certificate(downloaded->certificate_pem);
  ASSERT_TRUE(cert);
  EXPECT_EQ(EVP_PKEY_eq(X509_get0_pubkey(cert.get()), key.get()), 1);
  EXPECT_EQ(certificate_serial_hex(cert.get()), issued.status.serial);
  EXPECT_EQ(name_entry(cert.get(), NID_commonName), "软证书7");
  EXPECT_EQ(name_entry(cert.get(), NID_serialNumber), id_number_of(7));

  // chain_pem = issuing + root, and the certificate verifies against it.
  EXPECT_EQ(downloaded->chain_pem, ca_->issuing_certificate_pem() + ca_->root_certificate_pem());
  X509_STORE* store = X509_STORE_new();
  STACK_OF(X509)* chain = sk_X509_new_null();
  auto root = parse_pem_certificate(ca_->root_certificate_pem());
  auto issuing = parse_pem_certificate(ca_->issuing_certificate_pem());
  X509_STORE_add_cert(store, root.get());
  sk_X509_push(chain, issuing.get());
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(ctx, store, cert.get(), chain);
  EXPECT_EQ(X509_verify_cert(ctx), 1) << X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx));
  X509_STORE_CTX_free(ctx);
  sk_X509_free(chain);
  X509_STORE_free(store);
}

TEST_F(SoftCertTest, RetriedDownloadReturnsTheSameCertificate) {
  const auto issued = soft_apply(1);
  auto key = new_key();
  const std::string csr = kiosk::testing::test_csr_pem(key.get());
  auto first = ca_->download_soft(issued.download->reference, issued.download->code, csr);
  ASSERT_TRUE(first) << first.error().to_string();
  clock_.advance(1h);
  auto again = ca_->download_soft(issued.download->reference, issued.download->code, csr);
  ASSERT_TRUE(again) << again.error().to_string();
  EXPECT_EQ(again->certificate_pem, first->certificate_pem);
  EXPECT_EQ(again->status.serial, first->status.serial);

  auto other_key = new_key();
  auto other = ca_->download_soft(issued.download->reference, issued.download->code,
                                  kiosk::testing::test_csr_pem(other_key.get()));
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().code, "SOFTCERT_ALREADY_DOWNLOADED");
  auto wrong = ca_->download_soft(issued.download->reference, "23456789AB", csr);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, "SOFTCERT_CODE_INVALID");
}

TEST_F(SoftCertTest, UnknownReferenceAndWrongCodeGetOneAnswer) {
  const auto issued = soft_apply(1);
  const std::string csr = kiosk::testing::new_ec_csr_pem();
  auto unknown = ca_->download_soft("SC00000000000000", issued.download->code, csr);
  auto wrong = ca_->download_soft(issued.download->reference, "23456789AB", csr);
  ASSERT_FALSE(unknown);
  ASSERT_FALSE(wrong);
  EXPECT_EQ(unknown.error().code, "SOFTCERT_CODE_INVALID");
  EXPECT_EQ(wrong.error().code, "SOFTCERT_CODE_INVALID");
  EXPECT_EQ(unknown.error().message, wrong.error().message);
  auto bad_csr = ca_->download_soft(issued.download->reference, issued.download->code, "not a request");
  ASSERT_FALSE(bad_csr);
  EXPECT_EQ(bad_csr.error().code, "CA_REQUEST_INVALID");
  // The code works in lower case too (typed by the investor), and the earlier mistakes did not lock.
  std::string lower = issued.download->code;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  auto downloaded = ca_->download_soft(issued.download->reference, lower, csr);
  ASSERT_TRUE(downloaded) << downloaded.error().to_string();
}

TEST_F(SoftCertTest, FiveWrongCodesLockAndTheSubjectMayApplyAgain) {
  const auto issued = soft_apply(1);
  const std::string csr = kiosk::testing::new_ec_csr_pem();
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto wrong = ca_->download_soft(issued.download->reference, "WRONGCODE" + std::to_string(attempt % 10), csr);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code, "SOFTCERT_CODE_INVALID") << "attempt " << attempt;
  }
  auto locked = ca_->download_soft(issued.download->reference, issued.download->code, csr);
  ASSERT_FALSE(locked);
  EXPECT_EQ(locked.error().code, "SOFTCERT_LOCKED") << "the right code after the lock";
  auto status = ca_->status(issued.status.serial);
  EXPECT_EQ(status->state, CertState::revoked);
  EXPECT_EQ(status->revocation_reason, "DOWNLOAD_LAPSED");

  const auto again = soft_apply(1);
  EXPECT_EQ(again.status.state, CertState::pending_download) << "the locked reservation must not trap the investor";
  EXPECT_NE(again.status.serial, issued.status.serial);
}

TEST_F(SoftCertTest, AttemptsLimitComesFromTheProfile) {
  CaProfile profile;
  profile.soft_download_max_attempts = 2;
  open_ca(profile);
  const auto issued = soft_apply(1);
  const std::string csr = kiosk::testing::new_ec_csr_pem();
  EXPECT_EQ(ca_->download_soft(issued.download->reference, "WRONG1", csr).error().code, "SOFTCERT_CODE_INVALID");
  EXPECT_EQ(ca_->download_soft(issued.download->reference, "WRONG2", csr).error().code, "SOFTCERT_CODE_INVALID");
  EXPECT_EQ(ca_->download_soft(issued.download->reference, issued.download->code, csr).error().code, "SOFTCERT_LOCKED");
}

TEST_F(SoftCertTest, ExpiredReservationLapsesAndNoLongerBlocksApply) {
  const auto issued = soft_apply(1);
  clock_.advance(23h);
  auto blocked = ca_->apply({next_id(), subject_numbered(1), {}, Medium::soft});
  ASSERT_FALSE(blocked);
  EXPECT_EQ(blocked.error().code, "CA_DUPLICATE_LIVE") << "a live reservation counts as a live certificate";

  clock_.advance(2h);  // 25 h after the apply: past soft_download_valid_hours
  auto expired =
      ca_->download_soft(issued.download->reference, issued.download->code, kiosk::testing::new_ec_csr_pem());
  ASSERT_FALSE(expired);
  EXPECT_EQ(expired.error().code, "SOFTCERT_EXPIRED");
  auto status = ca_->status(issued.status.serial);
  EXPECT_EQ(status->state, CertState::revoked);
  EXPECT_EQ(status->revocation_reason, "DOWNLOAD_LAPSED");
  EXPECT_EQ(ca_->download_soft(issued.download->reference, issued.download->code, kiosk::testing::new_ec_csr_pem())
                .error()
                .code,
            "SOFTCERT_EXPIRED");

  const auto again = hard_apply(1);
  EXPECT_EQ(again.status.state, CertState::active);
  // The lapsed reservation was never issued: it is not on the CRL.
  auto crl = ca_->crl_pem();
  ASSERT_TRUE(crl);
  BIO* bio = BIO_new_mem_buf(crl->data(), static_cast<int>(crl->size()));
  X509_CRL* parsed = PEM_read_bio_X509_CRL(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(parsed, nullptr);
  const STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(parsed);
  EXPECT_TRUE(revoked == nullptr || sk_X509_REVOKED_num(revoked) == 0);
  X509_CRL_free(parsed);
}

TEST_F(SoftCertTest, ExpiredReservationIsNoticedByANewApplyWithoutADownloadAttempt) {
  const auto issued = soft_apply(1);
  clock_.advance(25h);
  const auto again = soft_apply(1);
  EXPECT_EQ(again.status.state, CertState::pending_download);
  auto status = ca_->status(issued.status.serial);
  EXPECT_EQ(status->state, CertState::revoked);
  EXPECT_EQ(status->revocation_reason, "DOWNLOAD_LAPSED");
}

TEST_F(SoftCertTest, RetriedApplyGivesANewCodeAndTheOldOneStopsWorking) {
  const auto first = soft_apply(1, "same-request");
  const auto retried = soft_apply(1, "same-request");
  ASSERT_TRUE(first.download && retried.download);
  EXPECT_EQ(retried.status.serial, first.status.serial) << "one reservation, not two";
  EXPECT_EQ(retried.download->reference, first.download->reference);
  EXPECT_EQ(retried.download->expires_at_unix, first.download->expires_at_unix);
  EXPECT_NE(retried.download->code, first.download->code);
  EXPECT_EQ(ca_->lookup(subject_numbered(1))->size(), 1u);

  const std::string csr = kiosk::testing::new_ec_csr_pem();
  auto old_code = ca_->download_soft(first.download->reference, first.download->code, csr);
  ASSERT_FALSE(old_code);
  EXPECT_EQ(old_code.error().code, "SOFTCERT_CODE_INVALID");
  auto new_code = ca_->download_soft(retried.download->reference, retried.download->code, csr);
  ASSERT_TRUE(new_code) << new_code.error().to_string();

  // After the download a retried apply cannot hand out a code any more.
  auto late = ca_->apply({"same-request", subject_numbered(1), {}, Medium::soft});
  ASSERT_FALSE(late);
  EXPECT_EQ(late.error().code, "SOFTCERT_ALREADY_DOWNLOADED");
}

TEST_F(SoftCertTest, ACaDirectoryFromBeforeSoftDownloadsGetsItsCodeKey) {
  const auto before = soft_apply(1);
  ca_.reset();
  fs::remove(dir_ / "ca" / "download-code-hmac.key");
  open_ca();
  EXPECT_TRUE(fs::exists(dir_ / "ca" / "download-code-hmac.key"));
  EXPECT_EQ(ca_->status(before.status.serial)->state, CertState::pending_download);
  const auto other = soft_apply(2);
  auto downloaded =
      ca_->download_soft(other.download->reference, other.download->code, kiosk::testing::new_ec_csr_pem());
  EXPECT_TRUE(downloaded) << downloaded.error().to_string();
}

TEST_F(SoftCertTest, LookupListsOnlyTheSubjectsCertificatesThatAreNotRevoked) {
  CaProfile profile;
  profile.allow_second_live_certificate = true;
  open_ca(profile);
  const auto old_hard = hard_apply(1);
  ASSERT_TRUE(ca_->revoke({next_id(), old_hard.status.serial, "HOLDER_REQUEST"}));
  clock_.advance(1h);
  const auto frozen = hard_apply(1);
  ASSERT_TRUE(ca_->freeze({next_id(), frozen.status.serial, "LOST_MEDIUM"}));
  clock_.advance(1h);
  const auto pending = soft_apply(1);
  const auto someone_else = hard_apply(2);
  CaSubject enterprise = subject_numbered(1);
  enterprise.kind = certificate::SubjectKind::enterprise_staff;
  ASSERT_TRUE(ca_->apply({next_id(), enterprise, kiosk::testing::new_ec_csr_pem(), Medium::hard}));

  auto found = ca_->lookup(subject_numbered(1));
  ASSERT_TRUE(found) << found.error().to_string();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].serial, pending.status.serial) << "newest first";
  EXPECT_EQ((*found)[0].state, CertState::pending_download);
  EXPECT_EQ((*found)[1].serial, frozen.status.serial);
  EXPECT_EQ((*found)[1].state, CertState::frozen);

  clock_.advance(std::chrono::days(731));  // the frozen one expires; the reservation lapses
  found = ca_->lookup(subject_numbered(1));
  ASSERT_TRUE(found);
  ASSERT_EQ(found->size(), 1u);
  EXPECT_EQ((*found)[0].serial, frozen.status.serial);
  EXPECT_EQ((*found)[0].state, CertState::expired);
  EXPECT_EQ(ca_->status(pending.status.serial)->revocation_reason, "DOWNLOAD_LAPSED");
  (void)someone_else;

  EXPECT_TRUE(ca_->lookup(subject_numbered(99))->empty());
  CaSubject bad = subject_numbered(1);
  bad.identity.id_number = "11 01";
  EXPECT_EQ(ca_->lookup(bad).error().code, "CA_SUBJECT_INVALID");
}

// ---- routes --------------------------------------------------------------------------------

class SoftCertRoutesTest : public SoftCertTest {
 protected:
  void SetUp() override {
    SoftCertTest::SetUp();
    routes_ = std::make_unique<CaRoutes>(*ca_, [this] { return ca_->crl_pem(); });
    handler_ = std::make_unique<ApiHandler>(
        [](std::string_view) -> Result<std::optional<StaffRecord>> { return std::optional<StaffRecord>(); }, "test",
        kDefaultMaxBodyBytes, 1, NciisCheck{}, [this](const ApiRequest& request) { return routes_->handle(request); });
  }
  void TearDown() override {
    handler_.reset();
    routes_.reset();
    SoftCertTest::TearDown();
  }

  ApiResponse call(std::string method, std::string target, std::string body, Listener listener) {
    return handler_->handle(
        ApiRequest{std::move(method), std::move(target), listener, "SIM-0001", {}, std::move(body)});
  }

  static json subject_json(int number) {
    return json{{"investor_type", "natural"},
                {"id_type", "prc-id"},
                {"id_number", id_number_of(number)},
                {"name", "软证书" + std::to_string(number)}};
  }

  json soft_apply_over_http(const std::string& request_id, int number) {
    const json body{{"request_id", request_id}, {"subject", subject_json(number)}, {"medium", "soft"}};
    const ApiResponse applied = call("POST", "/v1/device/ca/apply", body.dump(), Listener::device);
    EXPECT_EQ(applied.status, 200u) << applied.body;
    return json::parse(applied.body, nullptr, false);
  }

  ApiResponse download(const std::string& reference, const std::string& code, const std::string& csr,
                       Listener listener = Listener::console) {
    const json body{{"reference", reference}, {"code", code}, {"csr_pem", csr}};
    return call("POST", "/v1/softcert/download", body.dump(), listener);
  }

  static std::string code_of(const ApiResponse& response) {
    const json body = json::parse(response.body, nullptr, false);
    return body.is_object() && body.contains("code") ? body["code"].get<std::string>() : std::string();
  }

  std::unique_ptr<CaRoutes> routes_;
  std::unique_ptr<ApiHandler> handler_;
};

TEST_F(SoftCertRoutesTest, SoftApplyAnswersWithTheDownloadGrant) {
  const json answer = soft_apply_over_http("http-soft-1", 1);
  std::set<std::string> keys;
  for (const auto& [key, value] : answer.items()) keys.insert(key);
  EXPECT_EQ(keys, (std::set<std::string>{"certificate", "download"}));
  EXPECT_EQ(answer["certificate"]["state"], "pending_download");
  EXPECT_EQ(answer["certificate"]["medium"], "soft");
  const json& grant = answer["download"];
  EXPECT_EQ(grant["reference"].get<std::string>().size(), 16u);
  EXPECT_EQ(grant["code"].get<std::string>().size(), 10u);
  const std::string expires = grant["expires_at"];
  EXPECT_EQ(expires.size(), 20u) << expires;  // 2026-11-25T00:10:02Z
  EXPECT_EQ(expires.back(), 'Z');

  json with_csr{{"request_id", "http-soft-2"},
                {"subject", subject_json(2)},
                {"medium", "soft"},
                {"csr_pem", kiosk::testing::new_ec_csr_pem()}};
  const ApiResponse refused = call("POST", "/v1/device/ca/apply", with_csr.dump(), Listener::device);
  EXPECT_EQ(refused.status, 400u);
  EXPECT_EQ(code_of(refused), "CA_REQUEST_INVALID");
  json hard_without{{"request_id", "http-hard-3"}, {"subject", subject_json(3)}, {"medium", "hard"}};
  EXPECT_EQ(code_of(call("POST", "/v1/device/ca/apply", hard_without.dump(), Listener::device)), "FIELD_MISSING");
}

TEST_F(SoftCertRoutesTest, DownloadLivesOnTheConsoleListenerOnly) {
  const json applied = soft_apply_over_http("http-soft-1", 1);
  const std::string reference = applied["download"]["reference"];
  const std::string code = applied["download"]["code"];
  const std::string csr = kiosk::testing::new_ec_csr_pem();

  const ApiResponse on_device = download(reference, code, csr, Listener::device);
  EXPECT_EQ(on_device.status, 404u) << on_device.body;
  const ApiResponse wrong_method = call("GET", "/v1/softcert/download", {}, Listener::console);
  EXPECT_EQ(wrong_method.status, 405u);

  const ApiResponse downloaded = download(reference, code, csr);
  ASSERT_EQ(downloaded.status, 200u) << downloaded.body;
  const json answer = json::parse(downloaded.body);
  EXPECT_EQ(answer["certificate"]["state"], "active");
  EXPECT_EQ(answer["certificate"]["serial"], applied["certificate"]["serial"]);
  EXPECT_NE(answer["certificate_pem"].get<std::string>().find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_EQ(answer["chain_pem"], ca_->issuing_certificate_pem() + ca_->root_certificate_pem());
  const ApiResponse retried = download(reference, code, csr);
  ASSERT_EQ(retried.status, 200u);
  EXPECT_EQ(json::parse(retried.body)["certificate_pem"], answer["certificate_pem"]);

  // The lookup is a device route: the console listener does not have it.
  const json lookup{{"subject", subject_json(1)}};
  EXPECT_EQ(call("POST", "/v1/device/ca/lookup", lookup.dump(), Listener::console).status, 404u);
}

TEST_F(SoftCertRoutesTest, DownloadRefusalsHaveTheirHttpStatus) {
  const std::string csr = kiosk::testing::new_ec_csr_pem();
  const json first = soft_apply_over_http("http-soft-1", 1);
  const std::string reference = first["download"]["reference"];
  const std::string code = first["download"]["code"];

  ApiResponse response = download("SC00000000000000", code, csr);
  EXPECT_EQ(response.status, 403u);
  EXPECT_EQ(code_of(response), "SOFTCERT_CODE_INVALID");
  response = download(reference, "23456789AB", csr);
  EXPECT_EQ(response.status, 403u);
  EXPECT_EQ(code_of(response), "SOFTCERT_CODE_INVALID");
  response = download("12345", code, csr);
  EXPECT_EQ(response.status, 400u);
  EXPECT_EQ(code_of(response), "FIELD_INVALID");
  response =
      download(reference, code, "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n");
  EXPECT_EQ(response.status, 400u);
  EXPECT_EQ(code_of(response), "CA_REQUEST_INVALID");
  response =
      call("POST", "/v1/softcert/download", json{{"reference", reference}, {"code", code}}.dump(), Listener::console);
  EXPECT_EQ(code_of(response), "FIELD_MISSING");
  response =
      call("POST", "/v1/softcert/download",
           json{{"reference", reference}, {"code", code}, {"csr_pem", csr}, {"extra", "x"}}.dump(), Listener::console);
  EXPECT_EQ(code_of(response), "FIELD_UNKNOWN");

  ASSERT_EQ(download(reference, code, csr).status, 200u);
  response = download(reference, code, kiosk::testing::new_ec_csr_pem());
  EXPECT_EQ(response.status, 409u);
  EXPECT_EQ(code_of(response), "SOFTCERT_ALREADY_DOWNLOADED");

  const json locked = soft_apply_over_http("http-soft-2", 2);
  for (int attempt = 0; attempt < 5; ++attempt)
    download(locked["download"]["reference"].get<std::string>(), "WRONG", csr);
  response =
      download(locked["download"]["reference"].get<std::string>(), locked["download"]["code"].get<std::string>(), csr);
  EXPECT_EQ(response.status, 423u);
  EXPECT_EQ(code_of(response), "SOFTCERT_LOCKED");

  const json expired = soft_apply_over_http("http-soft-3", 3);
  clock_.advance(25h);
  response = download(expired["download"]["reference"].get<std::string>(),
                      expired["download"]["code"].get<std::string>(), csr);
  EXPECT_EQ(response.status, 410u);
  EXPECT_EQ(code_of(response), "SOFTCERT_EXPIRED");
  for (const auto& id : {id_number_of(1), id_number_of(2), id_number_of(3)}) {
    EXPECT_EQ(response.body.find(id), std::string::npos);
  }
}

TEST_F(SoftCertRoutesTest, LookupRouteAnswersWithTheSubjectsCertificates) {
  const json applied = soft_apply_over_http("http-soft-1", 1);
  hard_apply(2);
  const json lookup{{"subject", subject_json(1)}};
  const ApiResponse response = call("POST", "/v1/device/ca/lookup", lookup.dump(), Listener::device);
  ASSERT_EQ(response.status, 200u) << response.body;
  const json answer = json::parse(response.body);
  ASSERT_TRUE(answer["certificates"].is_array());
  ASSERT_EQ(answer["certificates"].size(), 1u);
  EXPECT_EQ(answer["certificates"][0]["serial"], applied["certificate"]["serial"]);
  EXPECT_EQ(answer["certificates"][0]["state"], "pending_download");
  EXPECT_TRUE(answer["certificates"][0].contains("not_after"));

  const json nobody{{"subject", subject_json(50)}};
  EXPECT_EQ(json::parse(call("POST", "/v1/device/ca/lookup", nobody.dump(), Listener::device).body)["certificates"],
            json::array());
  const json extra{{"subject", subject_json(1)}, {"request_id", "x"}};
  EXPECT_EQ(code_of(call("POST", "/v1/device/ca/lookup", extra.dump(), Listener::device)), "FIELD_UNKNOWN");
  EXPECT_EQ(code_of(call("POST", "/v1/device/ca/lookup", "{}", Listener::device)), "FIELD_MISSING");
  EXPECT_EQ(call("GET", "/v1/device/ca/lookup", {}, Listener::device).status, 405u);
}

}  // namespace
}  // namespace kiosk::gateway::ca
