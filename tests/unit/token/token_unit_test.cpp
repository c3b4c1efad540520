#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <p11-kit/pkcs11.h>

#include <vector>

#include "hal/token/pkcs11_driver.hpp"
#include "hal/token/pkcs11_errors.hpp"
#include "hal/token/token_allowlist.hpp"
#include "hal/token/token_crypto.hpp"

namespace kiosk::hal::token {
namespace {

TEST(TokenCkrTable, NamesCompletionsAndCodes) {
  EXPECT_EQ(ckr_name(CKR_PIN_INCORRECT), "CKR_PIN_INCORRECT");
  EXPECT_EQ(completion_for_ckr(CKR_PIN_INCORRECT), Completion::pin_incorrect);
  EXPECT_EQ(error_code_for_ckr(CKR_PIN_INCORRECT), "TOKEN_PIN_INCORRECT");
  EXPECT_EQ(completion_for_ckr(CKR_PIN_LOCKED), Completion::pin_locked);
  EXPECT_EQ(error_code_for_ckr(CKR_PIN_LOCKED), "TOKEN_PIN_LOCKED");
  EXPECT_EQ(completion_for_ckr(CKR_PIN_LEN_RANGE), Completion::pin_invalid);
  EXPECT_EQ(completion_for_ckr(CKR_TOKEN_NOT_PRESENT), Completion::no_media);
  EXPECT_EQ(completion_for_ckr(CKR_DEVICE_REMOVED), Completion::no_media);
  EXPECT_EQ(completion_for_ckr(CKR_MECHANISM_INVALID), Completion::unsupported);
  EXPECT_EQ(completion_for_ckr(CKR_ATTRIBUTE_SENSITIVE), Completion::refused);
  EXPECT_EQ(completion_for_ckr(CKR_USER_NOT_LOGGED_IN), Completion::not_logged_in);
  EXPECT_EQ(ckr_name(CKR_VENDOR_DEFINED + 5), "CKR_VENDOR_DEFINED");
  EXPECT_EQ(ckr_name(0x7777), "CKR_UNKNOWN");
  EXPECT_EQ(error_code_for_ckr(0x7777), "TOKEN_CALL_FAILED");
}

TEST(TokenCkrTable, ErrorNamesTheFunctionAndValue) {
  const TokenError error = ckr_error("C_Login", CKR_PIN_INCORRECT);
  EXPECT_EQ(error.error.code, "TOKEN_PIN_INCORRECT");
  EXPECT_EQ(error.error.message, "C_Login: CKR_PIN_INCORRECT (0xa0)");
  EXPECT_EQ(error.completion, Completion::pin_incorrect);
  ASSERT_TRUE(error.ckr.has_value());
  EXPECT_EQ(*error.ckr, CKR_PIN_INCORRECT);
}

TEST(TokenPinState, FromTokenFlags) {
  const PinState fresh = user_pin_state_from_flags(CKF_TOKEN_INITIALIZED);
  EXPECT_FALSE(fresh.initialized);
  EXPECT_FALSE(fresh.locked);

  const PinState low = user_pin_state_from_flags(CKF_USER_PIN_INITIALIZED | CKF_USER_PIN_COUNT_LOW);
  EXPECT_TRUE(low.initialized);
  EXPECT_TRUE(low.count_low);
  EXPECT_FALSE(low.final_try);
  EXPECT_FALSE(low.locked);

  const PinState last = user_pin_state_from_flags(CKF_USER_PIN_INITIALIZED | CKF_USER_PIN_FINAL_TRY);
  EXPECT_TRUE(last.final_try);
  EXPECT_FALSE(last.count_low);

  const PinState locked = user_pin_state_from_flags(CKF_USER_PIN_INITIALIZED | CKF_USER_PIN_LOCKED);
  EXPECT_TRUE(locked.locked);
  EXPECT_FALSE(locked.final_try);

  EXPECT_TRUE(user_pin_state_from_flags(CKF_USER_PIN_TO_BE_CHANGED).to_be_changed);
}

constexpr const char* kGoodAllowlist = R"(
[[token_model]]
manufacturer = "SoftHSM project"
model = "SoftHSM v2"
certification_number = "TEST-0001"

[[token_model]]
manufacturer = "Feitian Technologies Co., Ltd."
model = "ePass2003"
certification_number = "SXX2021001"
)";

TokenInfo token_of(std::string manufacturer, std::string model) {
  TokenInfo info;
  info.manufacturer = std::move(manufacturer);
  info.model = std::move(model);
  return info;
}

TEST(TokenAllowlistFile, ParsesAndJudges) {
  auto allowlist = TokenAllowlist::from_string(kGoodAllowlist, "tokens.toml");
  ASSERT_TRUE(allowlist.has_value()) << allowlist.error().to_string();
  ASSERT_EQ(allowlist->models().size(), 2U);
  EXPECT_EQ(allowlist->models()[1].certification_number, "SXX2021001");

  const AllowlistVerdict allowed = allowlist->check(token_of("SoftHSM project", "SoftHSM v2"));
  EXPECT_TRUE(allowed.allowed);
  EXPECT_EQ(allowed.certification_number, "TEST-0001");

  const AllowlistVerdict other = allowlist->check(token_of("SoftHSM project", "ePass2003"));
  EXPECT_FALSE(other.allowed);
  EXPECT_NE(other.reason.find("not on the list"), std::string::npos);
  EXPECT_TRUE(other.certification_number.empty());
}

TEST(TokenAllowlistFile, EmptyFileAllowsNothing) {
  auto allowlist = TokenAllowlist::from_string("", "empty.toml");
  ASSERT_TRUE(allowlist.has_value());
  EXPECT_FALSE(allowlist->check(token_of("SoftHSM project", "SoftHSM v2")).allowed);
}

void expect_error(std::string_view text, std::string_view code, std::string_view where) {
  auto allowlist = TokenAllowlist::from_string(text, "tokens.toml");
  ASSERT_FALSE(allowlist.has_value()) << text;
  EXPECT_EQ(allowlist.error().code, code) << allowlist.error().message;
  EXPECT_NE(allowlist.error().message.find(where), std::string::npos) << allowlist.error().message;
}

TEST(TokenAllowlistFile, EachErrorNamesFileLineAndKey) {
  expect_error("[[token_model]\n", "TOKEN_ALLOWLIST_SYNTAX", "tokens.toml:1");
  expect_error("[[token_model]]\nmanufacturer = \"A\"\ncertification_number = \"1\"\n", "TOKEN_ALLOWLIST_BAD_VALUE",
               "tokens.toml:1: key 'model'");
  expect_error("[[token_model]]\nmanufacturer = \"A\"\nmodel = 7\ncertification_number = \"1\"\n",
               "TOKEN_ALLOWLIST_BAD_VALUE", "tokens.toml:3: key 'model': must be a string");
  expect_error("[[token_model]]\nmanufacturer = \"A \"\nmodel = \"B\"\ncertification_number = \"1\"\n",
               "TOKEN_ALLOWLIST_BAD_VALUE", "tokens.toml:2: key 'manufacturer'");
  expect_error("[[token_model]]\nmanufacturer = \"A\"\nmodel = \"B\"\ncertification_number = \"\"\n",
               "TOKEN_ALLOWLIST_BAD_VALUE", "tokens.toml:4: key 'certification_number'");
  expect_error("[[token_model]]\nmanufacturer = \"A\"\nmodel = \"B\"\ncertification_number = \"1\"\nmodle = \"x\"\n",
               "TOKEN_ALLOWLIST_BAD_VALUE", "tokens.toml:5: key 'modle': unknown key");
  expect_error("token_models = 1\n", "TOKEN_ALLOWLIST_BAD_VALUE", "tokens.toml:1: key 'token_models': unknown key");
  expect_error("token_model = \"x\"\n", "TOKEN_ALLOWLIST_BAD_VALUE", "tokens.toml:1: key 'token_model'");
  expect_error(
      "[[token_model]]\nmanufacturer = \"A\"\nmodel = \"B\"\ncertification_number = \"1\"\n"
      "[[token_model]]\nmanufacturer = \"A\"\nmodel = \"B\"\ncertification_number = \"2\"\n",
      "TOKEN_ALLOWLIST_BAD_VALUE", "listed twice");
}

TEST(TokenAllowlistFile, MissingFileIsUnreadable) {
  auto allowlist = TokenAllowlist::from_file("no-such-dir/tokens.toml");
  ASSERT_FALSE(allowlist.has_value());
  EXPECT_EQ(allowlist.error().code, "TOKEN_ALLOWLIST_UNREADABLE");
}

TEST(TokenEcdsaEncoding, RawToDerRoundTrips) {
  // r has its top bit set (needs a 0x00 pad in DER), s has leading zero bytes (must be stripped).
  std::vector<std::uint8_t> raw(64, 0);
  raw[0] = 0x80;
  raw[31] = 0x01;
  raw[34] = 0x7F;
  raw[63] = 0x02;
  auto der = ecdsa_raw_to_der(raw);
  ASSERT_TRUE(der.has_value()) << der.error().to_string();
  EXPECT_EQ((*der)[0], 0x30);
  EXPECT_EQ((*der)[2], 0x02);
  EXPECT_EQ((*der)[3], 33);    // r: 32 bytes plus the sign pad
  EXPECT_EQ((*der)[4], 0x00);  // the pad
  EXPECT_EQ((*der)[5], 0x80);

  const unsigned char* in = der->data();
  ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &in, static_cast<long>(der->size()));
  ASSERT_NE(parsed, nullptr);
  std::vector<std::uint8_t> back(64);
  ASSERT_EQ(BN_bn2binpad(ECDSA_SIG_get0_r(parsed), back.data(), 32), 32);
  ASSERT_EQ(BN_bn2binpad(ECDSA_SIG_get0_s(parsed), back.data() + 32, 32), 32);
  ECDSA_SIG_free(parsed);
  EXPECT_EQ(back, raw);
}

TEST(TokenEcdsaEncoding, RefusesOddOrEmptyInput) {
  EXPECT_EQ(ecdsa_raw_to_der(std::vector<std::uint8_t>{}).error().code, "TOKEN_SIGNATURE_INVALID");
  EXPECT_EQ(ecdsa_raw_to_der(std::vector<std::uint8_t>(63, 1)).error().code, "TOKEN_SIGNATURE_INVALID");
}

TEST(TokenCertificateParse, GarbageIsNotACertificate) {
  const std::vector<std::uint8_t> garbage{0x30, 0x03, 0x02, 0x01, 0x01};
  EXPECT_EQ(describe_certificate(garbage).error().code, "TOKEN_CERT_INVALID");
}

TEST(TokenPinWipe, EmptiesTheSecret) {
  std::string pin = "123456";
  wipe(pin);
  EXPECT_TRUE(pin.empty());
}

}  // namespace
}  // namespace kiosk::hal::token
