// The PKCS#11 driver against SoftHSM2: module loading, slots, token info, allowlist, PIN, on-token
// keys that cannot be exported, a request signed on the token, certificate import and read-back.
#include <gtest/gtest.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "hal/token/token_allowlist.hpp"
#include "softhsm_fixture.hpp"

namespace kiosk::hal::token {
namespace {

using testing::kSoPin;
using testing::kUserPin;

class SoftHsmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hsm_ = std::make_unique<testing::SoftHsmDir>(::testing::TempDir());
    ASSERT_TRUE(hsm_->init_token("kiosk"));
    auto module = Pkcs11Module::load(SOFTHSM2_MODULE);
    ASSERT_TRUE(module.has_value()) << module.error().error.to_string();
    driver_ = std::make_unique<Pkcs11Driver>(*module);
    auto slot = testing::slot_with_label(*driver_, "kiosk");
    ASSERT_TRUE(slot.has_value());
    slot_ = *slot;
  }
  void TearDown() override {
    driver_.reset();  // C_Finalize before the token directory goes
    hsm_.reset();
  }

  std::unique_ptr<Pkcs11Session> logged_in_session() {
    auto session = driver_->open_pkcs11_session(slot_);
    EXPECT_TRUE(session.has_value());
    if (!session) return nullptr;
    std::string pin = kUserPin;
    auto login = (*session)->login_user(pin);
    EXPECT_TRUE(login.has_value()) << login.error().error.to_string();
    EXPECT_TRUE(pin.empty()) << "the driver must wipe the PIN after use";
    return std::move(*session);
  }

  std::unique_ptr<testing::SoftHsmDir> hsm_;
  std::unique_ptr<Pkcs11Driver> driver_;
  SlotId slot_ = 0;
};

TEST(Pkcs11ModuleLoad, MissingModuleIsNotFound) {
  auto module = Pkcs11Module::load("no-such-dir/libnothing.so");
  ASSERT_FALSE(module.has_value());
  EXPECT_EQ(module.error().error.code, "TOKEN_MODULE_NOT_FOUND");
  EXPECT_EQ(module.error().completion, Completion::device_not_ready);
}

TEST(Pkcs11ModuleLoad, NonModuleFileIsInvalid) {
  const auto path = std::filesystem::path(::testing::TempDir()) / "not-a-module.so";
  std::ofstream(path) << "this is not a shared object\n";
  auto module = Pkcs11Module::load(path);
  ASSERT_FALSE(module.has_value());
  EXPECT_EQ(module.error().error.code, "TOKEN_MODULE_INVALID");
  std::filesystem::remove(path);
}

TEST_F(SoftHsmTest, ListsTheTokenWithItsInfo) {
  auto slots = driver_->slots_with_token();
  ASSERT_TRUE(slots.has_value());
  EXPECT_NE(std::find(slots->begin(), slots->end(), slot_), slots->end());

  auto info = driver_->token_info(slot_);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->label, "kiosk");  // trimmed from the 32-byte padded field
  EXPECT_EQ(info->manufacturer, "SoftHSM project");
  EXPECT_EQ(info->model, "SoftHSM v2");
  EXPECT_FALSE(info->serial.empty());
  EXPECT_NE(info->serial.back(), ' ');
  EXPECT_TRUE(info->token_initialized);
  EXPECT_TRUE(info->user_pin.initialized);
  EXPECT_FALSE(info->user_pin.locked);
}

TEST_F(SoftHsmTest, SecondLoadInTheSameProcessIsRefusedUntilTheFirstIsReleased) {
  auto second = Pkcs11Module::load(SOFTHSM2_MODULE);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().error.code, "TOKEN_MODULE_INIT");
  EXPECT_NE(second.error().error.message.find("CKR_CRYPTOKI_ALREADY_INITIALIZED"), std::string::npos);

  driver_.reset();  // C_Finalize
  auto again = Pkcs11Module::load(SOFTHSM2_MODULE);
  ASSERT_TRUE(again.has_value()) << again.error().error.to_string();
  driver_ = std::make_unique<Pkcs11Driver>(*again);
  EXPECT_TRUE(testing::slot_with_label(*driver_, "kiosk").has_value());
}

TEST_F(SoftHsmTest, AllowlistVerdictFromTokenInfo) {
  auto info = driver_->token_info(slot_);
  ASSERT_TRUE(info.has_value());
  auto listed = TokenAllowlist::from_string(
      "[[token_model]]\nmanufacturer = \"SoftHSM project\"\nmodel = \"SoftHSM v2\"\ncertification_number = "
      "\"TEST-0001\"\n",
      "allow.toml");
  ASSERT_TRUE(listed.has_value());
  const AllowlistVerdict allowed = listed->check(*info);
  EXPECT_TRUE(allowed.allowed) << allowed.reason;
  EXPECT_EQ(allowed.certification_number, "TEST-0001");

  auto other = TokenAllowlist::from_string(
      "[[token_model]]\nmanufacturer = \"Feitian Technologies Co., Ltd.\"\nmodel = \"ePass2003\"\n"
      "certification_number = \"SXX\"\n",
      "allow.toml");
  ASSERT_TRUE(other.has_value());
  const AllowlistVerdict refused = other->check(*info);
  EXPECT_FALSE(refused.allowed);
  EXPECT_NE(refused.reason.find("SoftHSM v2"), std::string::npos);
}

TEST_F(SoftHsmTest, WrongPinIsReportedWithItsCodeAndNoPin) {
  auto session = driver_->open_session(slot_);
  ASSERT_TRUE(session.has_value());
  std::string wrong = "000000";
  auto login = (*session)->login_user(wrong);
  ASSERT_FALSE(login.has_value());
  EXPECT_EQ(login.error().error.code, "TOKEN_PIN_INCORRECT");
  EXPECT_EQ(login.error().completion, Completion::pin_incorrect);
  EXPECT_NE(login.error().error.message.find("CKR_PIN_INCORRECT"), std::string::npos);
  EXPECT_EQ(login.error().error.message.find("000000"), std::string::npos);
  EXPECT_TRUE(wrong.empty());
  // SoftHSM counts the failure and says so in the token flags, which the PIN screen shows.
  auto info = driver_->token_info(slot_);
  ASSERT_TRUE(info.has_value());
  EXPECT_TRUE(info->user_pin.count_low);
  EXPECT_FALSE(info->user_pin.locked);

  std::string right = kUserPin;
  EXPECT_TRUE((*session)->login_user(right).has_value());
}

TEST_F(SoftHsmTest, PinChangeThenLoginWithTheNewPin) {
  {
    auto session = logged_in_session();
    ASSERT_NE(session, nullptr);
    std::string old_pin = kUserPin;
    std::string new_pin = "654321";
    auto changed = session->change_pin(old_pin, new_pin);
    ASSERT_TRUE(changed.has_value()) << changed.error().error.to_string();
    EXPECT_TRUE(old_pin.empty());
    EXPECT_TRUE(new_pin.empty());
  }
  auto session = driver_->open_session(slot_);
  ASSERT_TRUE(session.has_value());
  std::string old_pin = kUserPin;
  EXPECT_EQ((*session)->login_user(old_pin).error().error.code, "TOKEN_PIN_INCORRECT");
  std::string new_pin = "654321";
  EXPECT_TRUE((*session)->login_user(new_pin).has_value());
}

TEST_F(SoftHsmTest, FreshTokenGetsItsFirstPinFromTheSecurityOfficer) {
  auto slots = driver_->slots_with_token();
  ASSERT_TRUE(slots.has_value());
  std::optional<SlotId> free_slot;
  for (const SlotId slot : *slots) {
    auto info = driver_->token_info(slot);
    if (info && !info->token_initialized) free_slot = slot;
  }
  ASSERT_TRUE(free_slot.has_value()) << "SoftHSM always offers one uninitialised slot";
  std::string so_pin = kSoPin;
  auto initialised = driver_->init_token(*free_slot, so_pin, "fresh");
  ASSERT_TRUE(initialised.has_value()) << initialised.error().error.to_string();
  EXPECT_TRUE(so_pin.empty());

  auto fresh = testing::slot_with_label(*driver_, "fresh");
  ASSERT_TRUE(fresh.has_value());
  EXPECT_FALSE(driver_->token_info(*fresh)->user_pin.initialized);
  {
    auto session = driver_->open_session(*fresh);
    ASSERT_TRUE(session.has_value());
    std::string user_pin = "111111";
    EXPECT_EQ((*session)->login_user(user_pin).error().error.code, "TOKEN_PIN_NOT_SET");
    so_pin = kSoPin;
    ASSERT_TRUE((*session)->login_security_officer(so_pin).has_value());
    user_pin = "111111";
    auto set = (*session)->init_user_pin(user_pin);
    ASSERT_TRUE(set.has_value()) << set.error().error.to_string();
    ASSERT_TRUE((*session)->logout().has_value());
    user_pin = "111111";
    EXPECT_TRUE((*session)->login_user(user_pin).has_value());
  }
  EXPECT_TRUE(driver_->token_info(*fresh)->user_pin.initialized);
}

// The acceptance test of issue 5: a key made by the kiosk on a token cannot be exported.
class KeyTest : public SoftHsmTest, public ::testing::WithParamInterface<KeyType> {};

TEST_P(KeyTest, GeneratedKeyIsSensitiveAndCannotBeExported) {
  auto session = logged_in_session();
  ASSERT_NE(session, nullptr);
  auto key = session->generate_key_pair(GetParam(), "investor key");
  ASSERT_TRUE(key.has_value()) << key.error().error.to_string();
  EXPECT_EQ(key->id.size(), 16U);
  ASSERT_NE(key->public_key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key->public_key.get()), GetParam() == KeyType::rsa_2048 ? EVP_PKEY_RSA : EVP_PKEY_EC);
  EXPECT_EQ(EVP_PKEY_get_bits(key->public_key.get()), GetParam() == KeyType::rsa_2048 ? 2048 : 256);

  CK_FUNCTION_LIST* f = driver_->module()->functions();
  const CK_SESSION_HANDLE handle = session->handle();
  auto private_key = session->find_object(CKO_PRIVATE_KEY, key->id);
  ASSERT_TRUE(private_key.has_value());

  // The attributes the token reports for the key.
  CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, never_extractable = CK_FALSE, always_sensitive = CK_FALSE;
  CK_BBOOL on_token = CK_FALSE, is_private = CK_FALSE;
  CK_ATTRIBUTE flags[] = {{CKA_SENSITIVE, &sensitive, sizeof sensitive},
                          {CKA_EXTRACTABLE, &extractable, sizeof extractable},
                          {CKA_NEVER_EXTRACTABLE, &never_extractable, sizeof never_extractable},
                          {CKA_ALWAYS_SENSITIVE, &always_sensitive, sizeof always_sensitive},
                          {CKA_TOKEN, &on_token, sizeof on_token},
                          {CKA_PRIVATE, &is_private, sizeof is_private}};
  ASSERT_EQ(f->C_GetAttributeValue(handle, *private_key, flags, 6), CKR_OK);
  EXPECT_EQ(sensitive, CK_TRUE);
  EXPECT_EQ(extractable, CK_FALSE);
  EXPECT_EQ(never_extractable, CK_TRUE);
  EXPECT_EQ(always_sensitive, CK_TRUE);
  EXPECT_EQ(on_token, CK_TRUE);
  EXPECT_EQ(is_private, CK_TRUE);

  // Try to read the secret parts directly.
  std::vector<CK_ATTRIBUTE_TYPE> secrets{CKA_VALUE};
  if (GetParam() == KeyType::rsa_2048) secrets = {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_COEFFICIENT};
  for (const CK_ATTRIBUTE_TYPE secret : secrets) {
    std::vector<std::uint8_t> buffer(4096);
    CK_ATTRIBUTE read{secret, buffer.data(), static_cast<CK_ULONG>(buffer.size())};
    EXPECT_EQ(f->C_GetAttributeValue(handle, *private_key, &read, 1), CKR_ATTRIBUTE_SENSITIVE)
        << "attribute 0x" << std::hex << secret;
    EXPECT_EQ(read.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  }

  // Try to wrap it out under a key we hold, with each key-wrapping mechanism the module offers. As a
  // control, the same wrapping key and mechanism do wrap an extractable key pair made for the purpose:
  // the refusal is about our key, not about the mechanism.
  CK_ULONG mechanism_count = 0;
  ASSERT_EQ(f->C_GetMechanismList(slot_, nullptr, &mechanism_count), CKR_OK);
  std::vector<CK_MECHANISM_TYPE> mechanisms(mechanism_count);
  ASSERT_EQ(f->C_GetMechanismList(slot_, mechanisms.data(), &mechanism_count), CKR_OK);
  CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
  CK_ULONG key_length = 32;
  CK_ATTRIBUTE wrapping_template[] = {
      {CKA_VALUE_LEN, &key_length, sizeof key_length}, {CKA_WRAP, &yes, sizeof yes}, {CKA_TOKEN, &no, sizeof no}};
  CK_MECHANISM generate_aes{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE wrapping_key = CK_INVALID_HANDLE;
  ASSERT_EQ(f->C_GenerateKey(handle, &generate_aes, wrapping_template, 3, &wrapping_key), CKR_OK);

  const std::uint8_t p256_oid[] = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
  CK_ATTRIBUTE control_public[] = {{CKA_TOKEN, &no, sizeof no},
                                   {CKA_EC_PARAMS, const_cast<std::uint8_t*>(p256_oid), sizeof p256_oid}};
  CK_ATTRIBUTE control_private[] = {
      {CKA_TOKEN, &no, sizeof no}, {CKA_EXTRACTABLE, &yes, sizeof yes}, {CKA_SENSITIVE, &yes, sizeof yes}};
  CK_MECHANISM generate_ec{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_OBJECT_HANDLE control_public_key = CK_INVALID_HANDLE, control_private_key = CK_INVALID_HANDLE;
  ASSERT_EQ(f->C_GenerateKeyPair(handle, &generate_ec, control_public, 2, control_private, 3, &control_public_key,
                                 &control_private_key),
            CKR_OK);

  int wrap_attempts = 0;
  for (const CK_MECHANISM_TYPE wrap : {CKM_AES_KEY_WRAP_PAD, CKM_AES_KEY_WRAP}) {
    if (std::find(mechanisms.begin(), mechanisms.end(), wrap) == mechanisms.end()) continue;
    CK_MECHANISM mechanism{wrap, nullptr, 0};
    std::vector<std::uint8_t> wrapped(8192);
    CK_ULONG wrapped_length = wrapped.size();
    const CK_RV control =
        f->C_WrapKey(handle, &mechanism, wrapping_key, control_private_key, wrapped.data(), &wrapped_length);
    if (control != CKR_OK) continue;  // this mechanism cannot wrap private keys at all: no evidence either way
    wrapped_length = wrapped.size();
    const CK_RV rv = f->C_WrapKey(handle, &mechanism, wrapping_key, *private_key, wrapped.data(), &wrapped_length);
    EXPECT_TRUE(rv == CKR_KEY_UNEXTRACTABLE || rv == CKR_KEY_NOT_WRAPPABLE)
        << "C_WrapKey with mechanism 0x" << std::hex << wrap << " returned 0x" << rv;
    ++wrap_attempts;
  }
  EXPECT_GT(wrap_attempts, 0) << "SoftHSM wraps extractable private keys with AES key wrap; the attempt must run";

  // And the key cannot be made extractable after the fact.
  CK_BBOOL make_extractable = CK_TRUE;
  CK_ATTRIBUTE loosen{CKA_EXTRACTABLE, &make_extractable, sizeof make_extractable};
  EXPECT_NE(f->C_SetAttributeValue(handle, *private_key, &loosen, 1), CKR_OK);
}

TEST_P(KeyTest, RequestSignedOnTheTokenVerifiesWithOpenSsl) {
  auto session = logged_in_session();
  ASSERT_NE(session, nullptr);
  auto key = session->generate_key_pair(GetParam(), "investor key");
  ASSERT_TRUE(key.has_value()) << key.error().error.to_string();
  SubjectName subject;
  subject.country = "CN";
  subject.organization = "Test Securities";
  subject.common_name = "Test Investor";
  auto request = session->sign_request(*key, subject);
  ASSERT_TRUE(request.has_value()) << request.error().error.to_string();

  const unsigned char* in = request->der.data();
  X509_REQ* parsed = d2i_X509_REQ(nullptr, &in, static_cast<long>(request->der.size()));
  ASSERT_NE(parsed, nullptr);
  EXPECT_EQ(X509_REQ_verify(parsed, key->public_key.get()), 1);
  EXPECT_EQ(X509_REQ_get_signature_nid(parsed),
            GetParam() == KeyType::rsa_2048 ? NID_sha256WithRSAEncryption : NID_ecdsa_with_SHA256);
  X509_REQ_free(parsed);

  // The command-line tool agrees.
  const auto pem_path = hsm_->dir() / "request.pem";
  std::ofstream(pem_path) << request->pem;
  const std::string command = std::string(OPENSSL_PROGRAM) + " req -in " + pem_path.string() + " -noout -verify 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output(256, '\0');
  output.resize(fread(output.data(), 1, output.size(), pipe));
  EXPECT_EQ(pclose(pipe), 0) << output;
  EXPECT_NE(output.find("verify OK"), std::string::npos) << output;
}

TEST_P(KeyTest, CertificateImportedAndReadBackByteIdentical) {
  auto session = logged_in_session();
  ASSERT_NE(session, nullptr);
  auto key = session->generate_key_pair(GetParam(), "investor key");
  ASSERT_TRUE(key.has_value()) << key.error().error.to_string();
  SubjectName subject;
  subject.common_name = "Test Investor";
  auto request = session->sign_request(*key, subject);
  ASSERT_TRUE(request.has_value()) << request.error().error.to_string();

  const testing::ThrowawayCa ca;
  const std::vector<std::uint8_t> certificate = ca.issue(request->der, 0x1234ABCD);
  ASSERT_FALSE(certificate.empty());
  auto imported = session->import_certificate(key->id, certificate, "investor certificate");
  ASSERT_TRUE(imported.has_value()) << imported.error().error.to_string();

  // Read back in a new session, as renew/revoke would.
  session.reset();
  auto reader = driver_->open_session(slot_);
  ASSERT_TRUE(reader.has_value());
  auto certificates = (*reader)->read_certificates();
  ASSERT_TRUE(certificates.has_value()) << certificates.error().error.to_string();
  ASSERT_EQ(certificates->size(), 1U);
  const TokenCertificate& back = certificates->front();
  EXPECT_EQ(back.der, certificate);
  EXPECT_EQ(back.id, key->id);
  EXPECT_EQ(back.label, "investor certificate");
  EXPECT_EQ(back.serial_hex, "1234ABCD");
  EXPECT_EQ(back.subject, "CN=Test Investor");
  EXPECT_EQ(back.not_after.size(), 20U);
  EXPECT_EQ(back.not_after.back(), 'Z');
}

TEST_F(SoftHsmTest, CertificateWithoutItsKeyOrGarbageIsRefused) {
  auto session = logged_in_session();
  ASSERT_NE(session, nullptr);
  const std::vector<std::uint8_t> unknown_id(16, 0xAB);
  const std::vector<std::uint8_t> garbage{0x30, 0x00};
  EXPECT_EQ(session->import_certificate(unknown_id, garbage, "x").error().error.code, "TOKEN_CERT_INVALID");

  auto key = session->generate_key_pair(KeyType::ec_p256, "k");
  ASSERT_TRUE(key.has_value());
  SubjectName subject;
  subject.common_name = "x";
  auto request = session->sign_request(*key, subject);
  ASSERT_TRUE(request.has_value());
  const testing::ThrowawayCa ca;
  EXPECT_EQ(session->import_certificate(unknown_id, ca.issue(request->der, 7), "x").error().error.code,
            "TOKEN_CERT_NO_KEY");
}

TEST_F(SoftHsmTest, KeyGenerationNeedsALogin) {
  auto session = driver_->open_session(slot_);
  ASSERT_TRUE(session.has_value());
  auto key = (*session)->generate_key_pair(KeyType::ec_p256, "k");
  ASSERT_FALSE(key.has_value());
  EXPECT_EQ(key.error().completion, Completion::not_logged_in);
}

INSTANTIATE_TEST_SUITE_P(OnSoftHsm, KeyTest, ::testing::Values(KeyType::rsa_2048, KeyType::ec_p256),
                         [](const auto& param_info) {
                           return param_info.param == KeyType::rsa_2048 ? "Rsa2048" : "EcP256";
                         });

}  // namespace
}  // namespace kiosk::hal::token
