#include "sync/package/receipt.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <optional>
#include <span>
#include <vector>

#include "kiosk/core/hex_text.hpp"
#include "kiosk/core/openssl_handles.hpp"
#include "kiosk/core/time_text.hpp"
#include "sync/package/manifest.hpp"

namespace kiosk::sync::package {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kStoreEmbedded = "embedded";
constexpr std::string_view kStoreObjectLock = "s3-object-lock";

// Thrown inside this file only, turned into RECEIPT_INVALID before any function returns.
struct InvalidReceipt {
  std::string message;
};

[[noreturn]] void reject(const std::string& message) { throw InvalidReceipt{message}; }

// Device ids as the gateway enrols them: letters, digits, '.', '_', '-'; 1..64 characters.
bool is_device_id(std::string_view text) {
  return !text.empty() && text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
           c == '.';
  });
}

// "tx-" and the journal id printed with at least 8 digits ("tx-%08lld"); ids go up to 2^53-1 (16 digits).
bool is_transaction_id(std::string_view text) {
  if (!text.starts_with("tx-")) return false;
  const auto digits = text.substr(3);
  if (digits.size() < 8 || digits.size() > 16) return false;
  if (!std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
  // Only "%08lld" spelling: no leading zero beyond the padding to 8 digits.
  return digits.size() == 8 || digits.front() != '0';
}

void check_receipt(const Receipt& receipt) {
  if (receipt.format_version != kReceiptFormatVersion) reject("field `format_version` must be 1");
  if (!is_lower_hex(receipt.receipt_id, 32)) reject("field `receipt_id` must be 32 lowercase hex digits");
  if (!is_device_id(receipt.device_id)) reject("field `device_id` must be 1-64 characters of [A-Za-z0-9._-]");
  if (!is_lower_hex(receipt.package_id, 32)) reject("field `package_id` must be 32 lowercase hex digits");
  if (!is_transaction_id(receipt.transaction_id)) reject("field `transaction_id` must be tx-NNNNNNNN");
  if (!is_lower_hex(receipt.archive_sha256, 64)) reject("field `archive_sha256` must be 64 lowercase hex digits");
  if (receipt.archive_size == 0 || receipt.archive_size > static_cast<std::uint64_t>(kMaxJsonInteger)) {
    reject("field `archive_size` must be 1 to 2^53-1");
  }
  if (!is_lower_hex(receipt.manifest_sha256, 64)) reject("field `manifest_sha256` must be 64 lowercase hex digits");
  if (receipt.store != kStoreEmbedded && receipt.store != kStoreObjectLock) {
    reject("field `store` must be embedded or s3-object-lock");
  }
  if (!is_utc_millis_text(receipt.received_at)) reject("field `received_at` must be YYYY-MM-DDTHH:MM:SS.mmmZ");
  if (!is_utc_millis_text(receipt.retain_until)) reject("field `retain_until` must be YYYY-MM-DDTHH:MM:SS.mmmZ");
  // Same fixed-width form, so text order is time order.
  if (receipt.retain_until < receipt.received_at) reject("field `retain_until` is before `received_at`");
}

Json to_json(const Receipt& receipt) {
  return Json{{"format_version", receipt.format_version},
              {"receipt_id", receipt.receipt_id},
              {"device_id", receipt.device_id},
              {"package_id", receipt.package_id},
              {"transaction_id", receipt.transaction_id},
              {"archive_sha256", receipt.archive_sha256},
              {"archive_size", receipt.archive_size},
              {"manifest_sha256", receipt.manifest_sha256},
              {"store", receipt.store},
              {"received_at", receipt.received_at},
              {"retain_until", receipt.retain_until}};
}

const Json& member(const Json& object, const char* key) {
  const auto found = object.find(key);
  if (found == object.end()) reject(std::string("field `") + key + "` is missing");
  return *found;
}

std::string text_member(const Json& object, const char* key) {
  const Json& value = member(object, key);
  if (!value.is_string()) reject(std::string("field `") + key + "` must be a string");
  return value.get<std::string>();
}

std::uint64_t unsigned_member(const Json& object, const char* key) {
  const Json& value = member(object, key);
  if (!value.is_number_unsigned()) reject(std::string("field `") + key + "` must be a non-negative integer");
  return value.get<std::uint64_t>();
}

void require_exact_keys(const Json& object, std::initializer_list<std::string_view> keys, const char* what) {
  if (!object.is_object()) reject(std::string(what) + " must be a JSON object");
  for (const auto& [key, value] : object.items()) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      reject(std::string(what) + " has an unknown field");  // the key is outside data: not echoed
    }
  }
}

Receipt receipt_from_json(const Json& object) {
  require_exact_keys(object,
                     {"format_version", "receipt_id", "device_id", "package_id", "transaction_id", "archive_sha256",
                      "archive_size", "manifest_sha256", "store", "received_at", "retain_until"},
                     "the receipt");
  Receipt receipt;
  const auto version = unsigned_member(object, "format_version");
  if (version != static_cast<std::uint64_t>(kReceiptFormatVersion)) reject("field `format_version` must be 1");
  receipt.format_version = kReceiptFormatVersion;
  receipt.receipt_id = text_member(object, "receipt_id");
  receipt.device_id = text_member(object, "device_id");
  receipt.package_id = text_member(object, "package_id");
  receipt.transaction_id = text_member(object, "transaction_id");
  receipt.archive_sha256 = text_member(object, "archive_sha256");
  receipt.archive_size = unsigned_member(object, "archive_size");
  receipt.manifest_sha256 = text_member(object, "manifest_sha256");
  receipt.store = text_member(object, "store");
  receipt.received_at = text_member(object, "received_at");
  receipt.retain_until = text_member(object, "retain_until");
  check_receipt(receipt);
  return receipt;
}

// Parses outside text, accepting only its canonical spelling (canonicalize_json also refuses
// duplicate keys, fractions, bad UTF-8 and deep nesting).
Json parse_canonical(std::string_view text, const char* what) {
  if (text.size() > kMaxReceiptWireBytes) reject(std::string(what) + " is larger than 64 KiB");
  const auto canonical = canonicalize_json(text);
  if (!canonical) reject(std::string(what) + " is not valid JSON: " + canonical.error().message);
  if (*canonical != text) reject(std::string(what) + " is not canonical JSON (FORMAT.md \"Canonical JSON\")");
  Json parsed = Json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) reject(std::string(what) + " is not well-formed JSON");
  return parsed;
}

std::string base64_encode(std::span<const std::uint8_t> bytes) {
  std::string text(4 * ((bytes.size() + 2) / 3), '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(text.data()), bytes.data(), static_cast<int>(bytes.size()));
  text.resize(static_cast<std::size_t>(std::max(written, 0)));
  return text;
}

// Standard base64 with padding; only the one spelling base64_encode gives back is accepted.
std::optional<std::vector<std::uint8_t>> base64_decode(std::string_view text) {
  if (text.empty() || text.size() % 4 != 0 || text.size() > 4096) return std::nullopt;
  std::vector<std::uint8_t> bytes(text.size() / 4 * 3);
  const int decoded =
      EVP_DecodeBlock(bytes.data(), reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  ERR_clear_error();
  if (decoded < 0) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(decoded);
  // EVP_DecodeBlock counts padding as zero bytes; drop them.
  if (text.ends_with("=="))
    size -= 2;
  else if (text.ends_with("="))
    size -= 1;
  bytes.resize(size);
  if (base64_encode(bytes) != text) return std::nullopt;
  return bytes;
}

std::optional<std::string> pem_of(X509* certificate) {
  openssl::Bio bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), certificate) != 1) {
    ERR_clear_error();
    return std::nullopt;
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  if (size <= 0 || data == nullptr) return std::nullopt;
  return std::string(data, static_cast<std::size_t>(size));
}

bool has_receipt_signer_usage(X509* certificate) {
  auto* usages = static_cast<EXTENDED_KEY_USAGE*>(X509_get_ext_d2i(certificate, NID_ext_key_usage, nullptr, nullptr));
  if (usages == nullptr) {
    ERR_clear_error();
    return false;
  }
  bool found = false;
  for (int i = 0; i < sk_ASN1_OBJECT_num(usages); ++i) {
    std::array<char, 80> oid{};
    const int length = OBJ_obj2txt(oid.data(), static_cast<int>(oid.size()), sk_ASN1_OBJECT_value(usages, i), 1);
    if (length > 0 && std::string_view(oid.data(), static_cast<std::size_t>(length)) == kReceiptSignerEkuOid) {
      found = true;
    }
  }
  EXTENDED_KEY_USAGE_free(usages);
  return found;
}

Result<void> check_signer(X509* signer, X509* trust_anchor) {
  if (trust_anchor == nullptr) return fail("RECEIPT_SIGNER_UNTRUSTED", "no trust anchor to check the receipt signer");
  openssl::Store store(X509_STORE_new());
  openssl::StoreContext context(X509_STORE_CTX_new());
  const bool chained = store && context && X509_STORE_add_cert(store.get(), trust_anchor) == 1 &&
                       X509_STORE_CTX_init(context.get(), store.get(), signer, nullptr) == 1 &&
                       X509_verify_cert(context.get()) == 1;
  const int reason = context ? X509_STORE_CTX_get_error(context.get()) : X509_V_ERR_UNSPECIFIED;
  ERR_clear_error();
  if (!chained) {
    return fail("RECEIPT_SIGNER_UNTRUSTED", std::string("the receipt signer's certificate is not trusted: ") +
                                                X509_verify_cert_error_string(reason));
  }
  if (!has_receipt_signer_usage(signer)) {
    return fail("RECEIPT_SIGNER_UNTRUSTED", "the certificate is not a receipt signer (extended key usage " +
                                                std::string(kReceiptSignerEkuOid) + " missing)");
  }
  if (!is_p256_key(X509_get0_pubkey(signer))) {
    return fail("RECEIPT_SIGNER_UNTRUSTED", "the receipt signer's key is not EC P-256");
  }
  return {};
}

}  // namespace

Result<std::string> serialize_receipt(const Receipt& receipt) {
  try {
    check_receipt(receipt);
  } catch (const InvalidReceipt& invalid) {
    return fail("RECEIPT_INVALID", "receipt " + invalid.message);
  }
  auto canonical = canonicalize_json(to_json(receipt).dump());
  if (!canonical) return fail("RECEIPT_INVALID", "cannot encode the receipt: " + canonical.error().message);
  return *canonical;
}

Result<Receipt> parse_receipt(std::string_view canonical_json) {
  try {
    return receipt_from_json(parse_canonical(canonical_json, "the receipt"));
  } catch (const InvalidReceipt& invalid) {
    return fail("RECEIPT_INVALID", "receipt " + invalid.message);
  } catch (const nlohmann::json::exception&) {
    // Not expected after the checks above; kept so that no exception leaves the module.
    return fail("RECEIPT_INVALID", "the receipt could not be read");
  }
}

Result<std::string> sign_receipt(const Receipt& receipt, EVP_PKEY* signer_key, X509* signer_certificate) {
  auto body = serialize_receipt(receipt);
  if (!body) return std::unexpected(body.error());
  if (!is_p256_key(signer_key) || signer_certificate == nullptr ||
      X509_check_private_key(signer_certificate, signer_key) != 1) {
    ERR_clear_error();
    return fail("RECEIPT_SIGNING_FAILED", "the receipt signer key must be EC P-256 and match the signer certificate");
  }
  auto signature = sign_manifest(*body, signer_key);  // the same ECDSA P-256/SHA-256 over exact bytes
  if (!signature) return fail("RECEIPT_SIGNING_FAILED", "the receipt key could not sign the receipt");
  const auto pem = pem_of(signer_certificate);
  if (!pem) return fail("RECEIPT_SIGNING_FAILED", "the receipt signer certificate could not be encoded");
  // The receipt object goes in as its canonical text so the wire form embeds exactly the signed bytes.
  const std::string wire = std::string(R"({"receipt":)") + *body + R"(,"signature":")" + base64_encode(*signature) +
                           R"(","signer_certificate":)" + Json(*pem).dump() + "}";
  auto canonical = canonicalize_json(wire);
  if (!canonical) return fail("RECEIPT_SIGNING_FAILED", "cannot encode the receipt: " + canonical.error().message);
  return *canonical;
}

Result<Receipt> verify_receipt(std::string_view wire_json, X509* trust_anchor) {
  std::string body;
  std::vector<std::uint8_t> signature;
  openssl::Certificate signer;
  try {
    const Json wire = parse_canonical(wire_json, "the receipt wire form");
    require_exact_keys(wire, {"receipt", "signature", "signer_certificate"}, "the receipt wire form");
    const Json& receipt_object = member(wire, "receipt");
    if (!receipt_object.is_object()) reject("field `receipt` must be an object");
    body = receipt_object.dump();  // canonical, because the whole wire text is
    const auto encoded_signature = text_member(wire, "signature");
    auto decoded = base64_decode(encoded_signature);
    if (!decoded || decoded->size() > 72) reject("field `signature` must be base64 of a DER ECDSA signature");
    signature = std::move(*decoded);
    const auto pem = text_member(wire, "signer_certificate");
    openssl::Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
    signer.reset(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
    ERR_clear_error();
    // Exactly one certificate, in the one PEM spelling OpenSSL writes: nothing else rides along.
    if (!signer || pem_of(signer.get()) != pem) reject("field `signer_certificate` must be one PEM certificate");
  } catch (const InvalidReceipt& invalid) {
    return fail("RECEIPT_INVALID", invalid.message);
  } catch (const nlohmann::json::exception&) {
    return fail("RECEIPT_INVALID", "the receipt wire form could not be read");
  }
  if (auto trusted = check_signer(signer.get(), trust_anchor); !trusted) return std::unexpected(trusted.error());
  if (!verify_manifest_signature(body, signature, X509_get0_pubkey(signer.get()))) {
    return fail("RECEIPT_SIGNATURE_INVALID", "the receipt's signature does not verify with its signer's key");
  }
  return parse_receipt(body);
}

}  // namespace kiosk::sync::package
