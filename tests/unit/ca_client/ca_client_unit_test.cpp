// sync/client/ca_client: every reply parser on canned JSON, and the refusal mapping.
#include "sync/client/ca_client.hpp"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>

namespace kiosk::sync {
namespace {

using nlohmann::json;

// A self-signed certificate with the given serial (hex), as PEM.
std::string certificate_pem(const char* serial_hex) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  std::unique_ptr<X509, decltype(&X509_free)> certificate(X509_new(), &X509_free);
  BIGNUM* serial = nullptr;
  BN_hex2bn(&serial, serial_hex);
  BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(certificate.get()));
  BN_free(serial);
  X509_set_version(certificate.get(), 2);
  X509_NAME_add_entry_by_txt(X509_get_subject_name(certificate.get()), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("ca client test"), -1, -1, 0);
  X509_set_issuer_name(certificate.get(), X509_get_subject_name(certificate.get()));
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 3600);
  X509_set_pubkey(certificate.get(), key.get());
  X509_sign(certificate.get(), key.get(), EVP_sha256());
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_X509(bio.get(), certificate.get());
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

json status(const char* serial = "0A1B2C3D", const char* state = "active") {
  return json{{"serial", serial},
              {"state", state},
              {"medium", "hard"},
              {"not_before", "2026-11-24T10:00:00Z"},
              {"not_after", "2028-11-24T10:00:00Z"},
              {"superseded_by", ""},
              {"freeze_reason", ""},
              {"revocation_reason", ""}};
}

void expect_invalid(const Result<CertificateState>& result, const std::string& mentions) {
  ASSERT_FALSE(result.has_value());
  EXPECT_EQ(result.error().code, "CA_REPLY_INVALID");
  EXPECT_NE(result.error().message.find(mentions), std::string::npos) << result.error().message;
}

TEST(CaClientParse, StatusReplyKeepsEveryField) {
  json body = status("0A1B2C3D", "frozen");
  body["freeze_reason"] = "LOST_MEDIUM";
  body["extra_field_from_a_newer_gateway"] = 1;
  const auto state = parse_status_reply(body.dump());
  ASSERT_TRUE(state.has_value()) << state.error().to_string();
  EXPECT_EQ(state->serial, "0A1B2C3D");
  EXPECT_EQ(state->state, "frozen");
  EXPECT_EQ(state->medium, "hard");
  EXPECT_EQ(state->not_before, "2026-11-24T10:00:00Z");
  EXPECT_EQ(state->not_after, "2028-11-24T10:00:00Z");
  EXPECT_EQ(state->freeze_reason, "LOST_MEDIUM");
}

TEST(CaClientParse, StatusReplyNamesTheBadField) {
  expect_invalid(parse_status_reply("not json"), "not a JSON object");
  expect_invalid(parse_status_reply("[]"), "not a JSON object");
  json body = status();
  body.erase("not_after");
  expect_invalid(parse_status_reply(body.dump()), "\"not_after\" is missing");
  body = status();
  body["serial"] = "XYZ";
  expect_invalid(parse_status_reply(body.dump()), "serial");
  body = status();
  body["serial"] = std::string(41, 'A');
  expect_invalid(parse_status_reply(body.dump()), "serial");
  body = status();
  body["state"] = "lost";
  expect_invalid(parse_status_reply(body.dump()), "state");
  body = status();
  body["medium"] = "paper";
  expect_invalid(parse_status_reply(body.dump()), "medium");
  body = status();
  body["not_before"] = "2026-13-24T10:00:00Z";
  expect_invalid(parse_status_reply(body.dump()), "not_before");
  body = status();
  body["superseded_by"] = "not-a-serial";
  expect_invalid(parse_status_reply(body.dump()), "superseded_by");
  body = status();
  body["revocation_reason"] = "line\nbreak";
  expect_invalid(parse_status_reply(body.dump()), "revocation_reason");
  body = status();
  body["state"] = 3;
  expect_invalid(parse_status_reply(body.dump()), "\"state\" is not a string");
  expect_invalid(parse_status_reply(std::string(100, '[') + std::string(100, ']')), "nested too deeply");
}

TEST(CaClientParse, IssuedReplyChecksTheCertificateAgainstItsSerial) {
  const json good{{"certificate", status("0A1B2C3D")},
                  {"certificate_pem", certificate_pem("0A1B2C3D")},
                  {"retired_serial", "55AA"}};
  const auto issued = parse_issued_reply(good.dump());
  ASSERT_TRUE(issued.has_value()) << issued.error().to_string();
  EXPECT_EQ(issued->certificate.serial, "0A1B2C3D");
  EXPECT_EQ(issued->retired_serial, "55AA");
  const auto der = certificate_pem_to_der(issued->certificate_pem);
  ASSERT_TRUE(der.has_value());
  EXPECT_FALSE(der->empty());

  json other = good;
  other["certificate_pem"] = certificate_pem("0B");
  auto refused = parse_issued_reply(other.dump());
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, "CA_REPLY_INVALID");
  EXPECT_NE(refused.error().message.find("certificate.serial"), std::string::npos);

  other = good;
  other["certificate_pem"] = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  refused = parse_issued_reply(other.dump());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("not a PEM certificate"), std::string::npos);

  other = good;
  other["certificate_pem"] = certificate_pem("0A1B2C3D") + certificate_pem("0A1B2C3D");
  refused = parse_issued_reply(other.dump());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("more than one"), std::string::npos);

  other = good;
  other.erase("retired_serial");
  refused = parse_issued_reply(other.dump());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("retired_serial"), std::string::npos);

  other = good;
  other["retired_serial"] = "0A1B2C3D";
  refused = parse_issued_reply(other.dump());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("own serial"), std::string::npos);

  other = good;
  other["certificate"]["state"] = "unknown";
  refused = parse_issued_reply(other.dump());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("certificate.state"), std::string::npos);
}

TEST(CaClientParse, SoftApplyReplyNeedsTheDownloadGrant) {
  json body{
      {"certificate", status("77", "pending_download")},
      {"download", {{"reference", "R-2026-0001"}, {"code", "83F2-KQ9M"}, {"expires_at", "2026-12-01T10:00:00Z"}}}};
  body["certificate"]["medium"] = "soft";
  const auto grant = parse_soft_apply_reply(body.dump());
  ASSERT_TRUE(grant.has_value()) << grant.error().to_string();
  EXPECT_EQ(grant->certificate.state, "pending_download");
  EXPECT_EQ(grant->reference, "R-2026-0001");
  EXPECT_EQ(grant->code, "83F2-KQ9M");
  EXPECT_EQ(grant->expires_at, "2026-12-01T10:00:00Z");

  json bad = body;
  bad["download"]["code"] = "";
  auto refused = parse_soft_apply_reply(bad.dump());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("download.code"), std::string::npos);
  bad = body;
  bad["download"]["expires_at"] = "tomorrow";
  refused = parse_soft_apply_reply(bad.dump());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("download.expires_at"), std::string::npos);
  bad = body;
  bad["certificate"]["medium"] = "hard";
  refused = parse_soft_apply_reply(bad.dump());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("not soft"), std::string::npos);
  bad = body;
  bad.erase("download");
  refused = parse_soft_apply_reply(bad.dump());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("\"download\" is missing"), std::string::npos);
}

TEST(CaClientParse, LookupReplyListsEveryCertificate) {
  const json body{{"certificates", json::array({status("01", "revoked"), status("02", "active")})}};
  const auto list = parse_lookup_reply(body.dump());
  ASSERT_TRUE(list.has_value()) << list.error().to_string();
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].state, "revoked");
  EXPECT_EQ((*list)[1].serial, "02");

  const auto empty = parse_lookup_reply(R"({"certificates":[]})");
  ASSERT_TRUE(empty.has_value());
  EXPECT_TRUE(empty->empty());

  json bad = body;
  bad["certificates"][1]["medium"] = "none";
  auto refused = parse_lookup_reply(bad.dump());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("certificates[1].medium"), std::string::npos);
  refused = parse_lookup_reply(R"({"certificates":{}})");
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("not an array"), std::string::npos);
  json many{{"certificates", json::array()}};
  for (std::size_t i = 0; i <= kMaxLookupCertificates; ++i) many["certificates"].push_back(status());
  refused = parse_lookup_reply(many.dump());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().message.find("more than"), std::string::npos);
}

TEST(CaClientRefusal, KeepsTheGatewaysCode) {
  const Error error =
      ca_refusal(409, R"({"code":"CA_ILLEGAL_TRANSITION","message":"freeze is not allowed from revoked"})");
  EXPECT_EQ(error.code, "CA_ILLEGAL_TRANSITION");
  EXPECT_NE(error.message.find("HTTP 409"), std::string::npos);
  EXPECT_NE(error.message.find("freeze is not allowed from revoked"), std::string::npos);
  EXPECT_EQ(ca_refusal(409, R"({"code":"CA_DUPLICATE_LIVE","message":""})").code, "CA_DUPLICATE_LIVE");
  EXPECT_EQ(ca_refusal(502, "<html>bad gateway</html>").code, "CA_REFUSED");
  EXPECT_EQ(ca_refusal(400, R"({"code":"lower case; or worse"})").code, "CA_REFUSED");
  const Error control = ca_refusal(400, "{\"code\":\"BAD_JSON\",\"message\":\"a\\u0007b\"}");
  EXPECT_EQ(control.code, "BAD_JSON");
  EXPECT_EQ(control.message.find('\a'), std::string::npos);
}

}  // namespace
}  // namespace kiosk::sync
