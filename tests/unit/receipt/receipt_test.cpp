#include "sync/package/receipt.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <chrono>
#include <string>

#include "sync/gateway/pki.hpp"

namespace {

using namespace kiosk::sync::package;
using kiosk::gateway::CertProfile;
using kiosk::gateway::CertPtr;
using kiosk::gateway::CertSpec;
using kiosk::gateway::KeyPtr;

struct Issued {
  KeyPtr key;
  CertPtr cert;
};

Issued issue(const std::string& cn, CertProfile profile, X509* issuer, EVP_PKEY* issuer_key,
             std::chrono::seconds not_after = std::chrono::hours(24)) {
  auto key = kiosk::gateway::generate_p256_key();
  EXPECT_TRUE(key.has_value());
  CertSpec spec{cn, profile, {}, std::chrono::seconds(-3600), not_after};
  auto cert = kiosk::gateway::issue_certificate(spec, key->get(), issuer, issuer_key);
  EXPECT_TRUE(cert.has_value()) << cert.error().to_string();
  return {std::move(*key), std::move(*cert)};
}

Receipt sample_receipt() {
  Receipt receipt;
  receipt.receipt_id = "0123456789abcdef0123456789abcdef";
  receipt.device_id = "KIOSK-0001";
  receipt.package_id = "5f0c6a7e9b1d4c3a8e2f7a6b5c4d3e2f";
  receipt.transaction_id = "tx-00000042";
  receipt.archive_sha256 = std::string(64, 'a');
  receipt.archive_size = 123456;
  receipt.manifest_sha256 = std::string(64, 'b');
  receipt.store = "embedded";
  receipt.received_at = "2026-11-24T10:08:00.000Z";
  receipt.retain_until = "2046-11-24T10:08:00.000Z";
  return receipt;
}

// Replaces the first occurrence of `from` in `text` (which must contain it).
std::string replaced(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

class ReceiptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ca_ = issue("CSDC Kiosk Dev CA", CertProfile::certificate_authority, nullptr, nullptr, std::chrono::hours(48));
    signer_ =
        issue(std::string(kReceiptSignerDevCommonName), CertProfile::receipt_signer, ca_.cert.get(), ca_.key.get());
  }

  std::string signed_wire(const Receipt& receipt, const Issued& signer) {
    auto wire = sign_receipt(receipt, signer.key.get(), signer.cert.get());
    EXPECT_TRUE(wire.has_value()) << wire.error().to_string();
    return wire.value_or("");
  }

  Issued ca_;
  Issued signer_;
};

TEST_F(ReceiptTest, SerializeParseRoundTripIsCanonical) {
  const Receipt receipt = sample_receipt();
  auto text = serialize_receipt(receipt);
  ASSERT_TRUE(text.has_value()) << text.error().to_string();
  EXPECT_EQ(*text,
            R"({"archive_sha256":")" + std::string(64, 'a') +
                R"(","archive_size":123456,"device_id":"KIOSK-0001",)"
                R"("format_version":1,"manifest_sha256":")" +
                std::string(64, 'b') +
                R"(","package_id":"5f0c6a7e9b1d4c3a8e2f7a6b5c4d3e2f","receipt_id":"0123456789abcdef0123456789abcdef",)"
                R"("received_at":"2026-11-24T10:08:00.000Z","retain_until":"2046-11-24T10:08:00.000Z",)"
                R"("store":"embedded","transaction_id":"tx-00000042"})");
  auto parsed = parse_receipt(*text);
  ASSERT_TRUE(parsed.has_value()) << parsed.error().to_string();
  EXPECT_EQ(parsed->package_id, receipt.package_id);
  EXPECT_EQ(parsed->archive_size, receipt.archive_size);
  EXPECT_EQ(parsed->retain_until, receipt.retain_until);
}

TEST_F(ReceiptTest, SignedReceiptVerifiesAgainstTheCa) {
  const std::string wire = signed_wire(sample_receipt(), signer_);
  auto verified = verify_receipt(wire, ca_.cert.get());
  ASSERT_TRUE(verified.has_value()) << verified.error().to_string();
  EXPECT_EQ(verified->device_id, "KIOSK-0001");
  EXPECT_EQ(verified->transaction_id, "tx-00000042");
  EXPECT_EQ(verified->store, "embedded");
  EXPECT_EQ(verified->archive_sha256, std::string(64, 'a'));
}

TEST_F(ReceiptTest, InvalidFieldsAreRefusedWhenSerializing) {
  auto check = [](auto change, const char* field) {
    Receipt receipt = sample_receipt();
    change(receipt);
    auto text = serialize_receipt(receipt);
    ASSERT_FALSE(text.has_value()) << field;
    EXPECT_EQ(text.error().code, "RECEIPT_INVALID");
    EXPECT_NE(text.error().message.find(field), std::string::npos) << text.error().message;
  };
  check([](Receipt& r) { r.store = "tape"; }, "store");
  check([](Receipt& r) { r.receipt_id = "XYZ"; }, "receipt_id");
  check([](Receipt& r) { r.transaction_id = "tx-42"; }, "transaction_id");
  check([](Receipt& r) { r.archive_sha256 = std::string(64, 'A'); }, "archive_sha256");
  check([](Receipt& r) { r.received_at = "2026-11-24 10:08:00"; }, "received_at");
  check([](Receipt& r) { r.retain_until = "2020-01-01T00:00:00.000Z"; }, "retain_until");
  check([](Receipt& r) { r.device_id = "bad/id"; }, "device_id");
  check([](Receipt& r) { r.format_version = 2; }, "format_version");
}

TEST_F(ReceiptTest, ChangedFieldBreaksTheSignature) {
  const std::string wire = signed_wire(sample_receipt(), signer_);
  for (const auto& [from, to] :
       std::vector<std::pair<std::string, std::string>>{{"\"archive_size\":123456", "\"archive_size\":123457"},
                                                        {"2046-11-24T10:08:00.000Z", "2026-11-24T10:08:00.000Z"},
                                                        {"tx-00000042", "tx-00000043"},
                                                        {"\"store\":\"embedded\"", "\"store\":\"s3-object-lock\""}}) {
    auto verified = verify_receipt(replaced(wire, from, to), ca_.cert.get());
    ASSERT_FALSE(verified.has_value()) << to;
    EXPECT_EQ(verified.error().code, "RECEIPT_SIGNATURE_INVALID") << to;
  }
}

TEST_F(ReceiptTest, FlippedSignatureByteIsRefused) {
  const std::string wire = signed_wire(sample_receipt(), signer_);
  const auto start = wire.find("\"signature\":\"") + 13;
  // Change one base64 character in the middle of the signature (another valid base64 digit).
  std::string tampered = wire;
  char& c = tampered[start + 20];
  c = c == 'A' ? 'B' : 'A';
  auto verified = verify_receipt(tampered, ca_.cert.get());
  ASSERT_FALSE(verified.has_value());
  EXPECT_TRUE(verified.error().code == "RECEIPT_SIGNATURE_INVALID") << verified.error().to_string();
}

TEST_F(ReceiptTest, SignatureOfAnotherSignerIsRefused) {
  const Issued other =
      issue(std::string(kReceiptSignerDevCommonName), CertProfile::receipt_signer, ca_.cert.get(), ca_.key.get());
  const std::string wire = signed_wire(sample_receipt(), signer_);
  const std::string other_wire = signed_wire(sample_receipt(), other);
  // The signature of `signer_` presented with the certificate of `other` (trusted, a receipt signer).
  const auto cert_at = wire.find("\"signer_certificate\":");
  const auto other_cert_at = other_wire.find("\"signer_certificate\":");
  const std::string swapped = wire.substr(0, cert_at) + other_wire.substr(other_cert_at);
  auto verified = verify_receipt(swapped, ca_.cert.get());
  ASSERT_FALSE(verified.has_value());
  EXPECT_EQ(verified.error().code, "RECEIPT_SIGNATURE_INVALID");
}

TEST_F(ReceiptTest, SignerKeyMustMatchItsCertificate) {
  const Issued other = issue("x", CertProfile::receipt_signer, ca_.cert.get(), ca_.key.get());
  auto wire = sign_receipt(sample_receipt(), other.key.get(), signer_.cert.get());
  ASSERT_FALSE(wire.has_value());
  EXPECT_EQ(wire.error().code, "RECEIPT_SIGNING_FAILED");
}

TEST_F(ReceiptTest, CertificateWithoutReceiptUsageIsUntrusted) {
  // A device (TLS client) certificate of the same CA, even one claiming the signer's CN.
  const Issued device =
      issue(std::string(kReceiptSignerDevCommonName), CertProfile::tls_client, ca_.cert.get(), ca_.key.get());
  auto verified = verify_receipt(signed_wire(sample_receipt(), device), ca_.cert.get());
  ASSERT_FALSE(verified.has_value());
  EXPECT_EQ(verified.error().code, "RECEIPT_SIGNER_UNTRUSTED");
  EXPECT_NE(verified.error().message.find("1.3.6.1.4.1.99999.1.1"), std::string::npos);
}

TEST_F(ReceiptTest, ExpiredSignerIsUntrusted) {
  const Issued expired = issue(std::string(kReceiptSignerDevCommonName), CertProfile::receipt_signer, ca_.cert.get(),
                               ca_.key.get(), std::chrono::seconds(-60));
  auto verified = verify_receipt(signed_wire(sample_receipt(), expired), ca_.cert.get());
  ASSERT_FALSE(verified.has_value());
  EXPECT_EQ(verified.error().code, "RECEIPT_SIGNER_UNTRUSTED");
  EXPECT_NE(verified.error().message.find("expired"), std::string::npos) << verified.error().message;
}

TEST_F(ReceiptTest, SignerOfAnotherCaIsUntrusted) {
  const Issued other_ca =
      issue("CSDC Kiosk Dev CA", CertProfile::certificate_authority, nullptr, nullptr, std::chrono::hours(48));
  const Issued foreign = issue(std::string(kReceiptSignerDevCommonName), CertProfile::receipt_signer,
                               other_ca.cert.get(), other_ca.key.get());
  auto verified = verify_receipt(signed_wire(sample_receipt(), foreign), ca_.cert.get());
  ASSERT_FALSE(verified.has_value());
  EXPECT_EQ(verified.error().code, "RECEIPT_SIGNER_UNTRUSTED");
  // A self-signed signer (its own anchor) is not trusted either.
  const Issued self_signed = issue("self", CertProfile::receipt_signer, nullptr, nullptr);
  auto self = verify_receipt(signed_wire(sample_receipt(), self_signed), ca_.cert.get());
  ASSERT_FALSE(self.has_value());
  EXPECT_EQ(self.error().code, "RECEIPT_SIGNER_UNTRUSTED");
  auto no_anchor = verify_receipt(signed_wire(sample_receipt(), signer_), nullptr);
  ASSERT_FALSE(no_anchor.has_value());
  EXPECT_EQ(no_anchor.error().code, "RECEIPT_SIGNER_UNTRUSTED");
}

TEST_F(ReceiptTest, NonCanonicalWireFormIsInvalid) {
  const std::string wire = signed_wire(sample_receipt(), signer_);
  const std::vector<std::string> variants = {
      wire + "\n",                                                             // trailing whitespace
      replaced(wire, "{\"receipt\":", "{ \"receipt\":"),                       // inner whitespace
      replaced(wire, "\"archive_size\":123456", "\"archive_size\":123456.0"),  // a fraction
      replaced(wire, "{\"receipt\":", "{\"extra\":1,\"receipt\":"),            // an unknown member
      "",
      "[]",
      "{\"receipt\":{},\"receipt\":{}}",
  };
  for (const auto& variant : variants) {
    auto verified = verify_receipt(variant, ca_.cert.get());
    ASSERT_FALSE(verified.has_value()) << variant.substr(0, 60);
    EXPECT_EQ(verified.error().code, "RECEIPT_INVALID") << variant.substr(0, 60);
  }
  // A receipt object with a missing field or an unknown one, canonical otherwise.
  const std::string body = serialize_receipt(sample_receipt()).value();
  for (const auto& changed : {replaced(body, "\"device_id\":\"KIOSK-0001\",", ""),
                              replaced(body, "{\"archive_sha256\"", "{\"a\":1,\"archive_sha256\""),
                              replaced(body, "\"archive_size\":123456", "\"archive_size\":\"123456\""),
                              replaced(body, "\"archive_size\":123456", "\"archive_size\":-1")}) {
    auto parsed = parse_receipt(changed);
    ASSERT_FALSE(parsed.has_value()) << changed;
    EXPECT_EQ(parsed.error().code, "RECEIPT_INVALID");
  }
  // Key order: the same members in another order are not canonical.
  const auto sig_at = wire.find(",\"signature\":");
  const std::string reordered =
      "{" + wire.substr(sig_at + 1, wire.size() - sig_at - 2) + "," + wire.substr(1, sig_at - 1) + "}";
  auto verified = verify_receipt(reordered, ca_.cert.get());
  ASSERT_FALSE(verified.has_value());
  EXPECT_EQ(verified.error().code, "RECEIPT_INVALID");
  // A non-canonical signature spelling (padding removed) and extra bytes after the PEM.
  auto padded =
      verify_receipt(replaced(wire, "=\",\"signer_certificate\"", "\",\"signer_certificate\""), ca_.cert.get());
  if (wire.find("=\",\"signer_certificate\"") != std::string::npos) {
    ASSERT_FALSE(padded.has_value());
    EXPECT_EQ(padded.error().code, "RECEIPT_INVALID");
  }
  auto trailing_pem =
      verify_receipt(replaced(wire, "-----END CERTIFICATE-----\\n", "-----END CERTIFICATE-----\\nx"), ca_.cert.get());
  ASSERT_FALSE(trailing_pem.has_value());
  EXPECT_EQ(trailing_pem.error().code, "RECEIPT_INVALID");
}

}  // namespace
