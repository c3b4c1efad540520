// The head-office evidence receipt (FORMAT.md, "Receipt"): what head office signs when it has
// verified and durably stored one evidence package. The kiosk keeps a package until it holds a
// receipt that verifies against the head-office CA it already pins; only then may it purge it.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"

namespace kiosk::sync::package {

inline constexpr int kReceiptFormatVersion = 1;

// The extended key usage a receipt signer's certificate must carry ("kiosk evidence receipt"). It is
// the EKU, not a common name, that makes a signer: the same CA issues device certificates whose CN
// the enrolment request chooses, so a CN could be claimed by a device.
inline constexpr std::string_view kReceiptSignerEkuOid = "1.3.6.1.4.1.99999.1.1";
// The CN the development PKI gives its receipt signer (informative only; never checked).
inline constexpr std::string_view kReceiptSignerDevCommonName = "CSDC Kiosk Dev Receipt Signer";
// Upper bound on the wire JSON: a receipt is a few hundred bytes plus one certificate PEM.
inline constexpr std::size_t kMaxReceiptWireBytes = 64 * 1024;

struct Receipt {
  int format_version = kReceiptFormatVersion;
  std::string receipt_id;      // 32 lowercase hex, random
  std::string device_id;       // CN of the uploading device
  std::string package_id;      // manifest package_id
  std::string transaction_id;  // "tx-NNNNNNNN"
  std::string archive_sha256;  // 64 lowercase hex: the uploaded archive
  std::uint64_t archive_size = 0;
  std::string manifest_sha256;  // 64 lowercase hex: manifest.json
  std::string store;            // "embedded" | "s3-object-lock"
  std::string received_at;      // UTC "YYYY-MM-DDTHH:MM:SS.mmmZ"
  std::string retain_until;     // same form
};

// Canonical JSON (FORMAT.md "Canonical JSON") of the receipt object: the bytes the signature covers.
// RECEIPT_INVALID naming the field when a field breaks its rule.
Result<std::string> serialize_receipt(const Receipt& receipt);

// Accepts only the canonical bytes of a valid receipt object (any other spelling, an unknown or
// missing field, a value outside its rule): RECEIPT_INVALID naming the field.
Result<Receipt> parse_receipt(std::string_view canonical_json);

// Wire form: canonical JSON
//   {"receipt":<the receipt object>,"signature":"<base64 DER ECDSA P-256/SHA-256 over
//    serialize_receipt bytes>","signer_certificate":"<PEM>"}
// RECEIPT_INVALID for an invalid receipt; RECEIPT_SIGNING_FAILED when the key is not EC P-256 or
// signing fails.
Result<std::string> sign_receipt(const Receipt& receipt, EVP_PKEY* signer_key, X509* signer_certificate);

// Checks, in this order: well-formed canonical wire JSON with exactly the three members
// (RECEIPT_INVALID); the signer certificate chains to `trust_anchor` (the head-office CA the kiosk
// pins as gateway.ca_file), is within its validity period now, has an EC P-256 key and is a receipt
// signer — extended key usage kReceiptSignerEkuOid (RECEIPT_SIGNER_UNTRUSTED); the
// signature over the receipt object's canonical bytes (RECEIPT_SIGNATURE_INVALID); the receipt's
// fields (RECEIPT_INVALID).
Result<Receipt> verify_receipt(std::string_view wire_json, X509* trust_anchor);

}  // namespace kiosk::sync::package
