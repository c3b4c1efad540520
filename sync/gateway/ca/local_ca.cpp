#include "sync/gateway/ca/local_ca.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "kiosk/core/log.hpp"
#include "kiosk/core/openssl_handles.hpp"
#include "sync/gateway/nciis.hpp"
#include "sync/gateway/pki.hpp"

namespace kiosk::gateway::ca {
namespace {

using nlohmann::json;

using BioPtr = openssl::Bio;
using ReqPtr = openssl::CertificateRequest;
using CrlPtr = openssl::Crl;
using NamePtr = openssl::Name;

constexpr std::string_view kRootName = "CSDC Kiosk Local Root CA";
constexpr std::string_view kIssuingName = "CSDC Kiosk Local Issuing CA";
constexpr std::size_t kMaxCommonNameBytes = 64;

std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail from OpenSSL";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

bool file_exists(const std::filesystem::path& file) {
  std::error_code ignored;
  return std::filesystem::exists(file, ignored);
}

std::int64_t unix_seconds(TimePoint when) {
  return std::chrono::duration_cast<std::chrono::seconds>(when.time_since_epoch()).count();
}

Result<std::string> pem_of(X509* cert) { return certificate_pem(cert); }

Result<CertPtr> certificate_from_pem(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  CertPtr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) return fail("CA_STORAGE_FAILED", "a stored certificate is not readable PEM: " + openssl_error());
  return cert;
}

Result<void> add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* extension = X509V3_EXT_nconf_nid(nullptr, ctx, nid, value);
  if (extension == nullptr) return fail("CA_ISSUE_FAILED", std::string("bad extension ") + value);
  const int added = X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  if (added != 1) return fail("CA_ISSUE_FAILED", "cannot add certificate extension: " + openssl_error());
  return {};
}

// A random positive serial of 128 bits (RFC 5280 allows up to 20 octets; unpredictable serials
// keep chosen-prefix collisions out of reach), in BN_bn2hex form.
Result<std::string> random_serial_hex() {
  unsigned char bytes[16];
  do {
    if (RAND_bytes(bytes, sizeof bytes) != 1) return fail("RANDOM_UNAVAILABLE", "the system random generator failed");
  } while (std::all_of(std::begin(bytes), std::end(bytes), [](unsigned char b) { return b == 0; }));
  BIGNUM* serial = BN_bin2bn(bytes, sizeof bytes, nullptr);
  char* hex = serial != nullptr ? BN_bn2hex(serial) : nullptr;
  BN_free(serial);
  if (hex == nullptr) return fail("CA_ISSUE_FAILED", "cannot make a serial: " + openssl_error());
  std::string text(hex);
  OPENSSL_free(hex);
  return text;
}

// `serial_hex` empty: a new random serial; otherwise the one reserved earlier (soft download).
Result<void> set_serial(X509* cert, std::string serial_hex) {
  if (serial_hex.empty()) {
    auto fresh = random_serial_hex();
    if (!fresh) return std::unexpected(fresh.error());
    serial_hex = std::move(*fresh);
  }
  BIGNUM* serial = nullptr;
  ASN1_INTEGER* set =
      BN_hex2bn(&serial, serial_hex.c_str()) > 0 ? BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert)) : nullptr;
  BN_free(serial);
  if (set == nullptr) return fail("CA_ISSUE_FAILED", "cannot set serial: " + openssl_error());
  return {};
}

// `length` characters of `alphabet`, uniformly: bytes at or above the largest multiple of the
// alphabet's size are thrown away (rejection sampling) so no character is more likely than another.
Result<std::string> random_text(std::string_view alphabet, std::size_t length) {
  const unsigned limit = 256 - 256 % static_cast<unsigned>(alphabet.size());
  std::string text;
  unsigned char bytes[32];
  while (text.size() < length) {
    if (RAND_bytes(bytes, sizeof bytes) != 1) return fail("RANDOM_UNAVAILABLE", "the system random generator failed");
    for (unsigned char byte : bytes) {
      if (byte < limit && text.size() < length) text += alphabet[byte % alphabet.size()];
    }
  }
  return text;
}

// No 0/O, 1/I/L: the investor copies the code from paper or a screen.
constexpr std::string_view kCodeAlphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
constexpr std::size_t kCodeLength = 10;
constexpr std::string_view kReferencePrefix = "SC";
constexpr std::size_t kReferenceDigits = 14;
constexpr std::string_view kLapsedReason = "DOWNLOAD_LAPSED";

struct CertBody {
  X509_NAME* subject = nullptr;  // copied
  EVP_PKEY* public_key = nullptr;
  X509* issuer = nullptr;  // null: self-signed
  EVP_PKEY* signing_key = nullptr;
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
  std::vector<std::pair<int, std::string>> extensions;
  std::string serial_hex;  // empty: random
};

Result<CertPtr> build_certificate(const CertBody& body) {
  CertPtr cert(X509_new());
  if (!cert) return fail("CA_ISSUE_FAILED", "out of memory creating a certificate");
  X509_set_version(cert.get(), 2);  // X.509 v3
  if (auto serial = set_serial(cert.get(), body.serial_hex); !serial) return std::unexpected(serial.error());
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), static_cast<time_t>(body.not_before)) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), static_cast<time_t>(body.not_after)) == nullptr) {
    return fail("CA_ISSUE_FAILED", "cannot set validity: " + openssl_error());
  }
  X509* issuer = body.issuer != nullptr ? body.issuer : cert.get();
  if (X509_set_subject_name(cert.get(), body.subject) != 1 ||
      X509_set_issuer_name(cert.get(), body.issuer != nullptr ? X509_get_subject_name(body.issuer) : body.subject) !=
          1 ||
      X509_set_pubkey(cert.get(), body.public_key) != 1) {
    return fail("CA_ISSUE_FAILED", "cannot set names or public key: " + openssl_error());
  }
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert.get(), nullptr, nullptr, 0);
  for (const auto& [nid, value] : body.extensions) {
    if (auto added = add_extension(cert.get(), &ctx, nid, value.c_str()); !added) return std::unexpected(added.error());
  }
  if (X509_sign(cert.get(), body.signing_key, EVP_sha256()) <= 0) {
    return fail("CA_ISSUE_FAILED", "cannot sign certificate: " + openssl_error());
  }
  return cert;
}

NamePtr name_with_common_name(std::string_view common_name) {
  NamePtr name(X509_NAME_new());
  if (name) {
    X509_NAME_add_entry_by_txt(name.get(), "C", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("CN"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name.get(), "CN", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(common_name.data()),
                               static_cast<int>(common_name.size()), -1, 0);
  }
  return name;
}

Result<CertPtr> make_ca_certificate(std::string_view common_name, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key,
                                    int path_length, int years, std::int64_t now) {
  NamePtr name = name_with_common_name(common_name);
  if (!name) return fail("CA_ISSUE_FAILED", "out of memory creating a name");
  CertBody body;
  body.subject = name.get();
  body.public_key = key;
  body.issuer = issuer;
  body.signing_key = issuer != nullptr ? issuer_key : key;
  body.not_before = now - 300;
  body.not_after = now + static_cast<std::int64_t>(years) * 365 * 86400;
  body.extensions = {{NID_basic_constraints, "critical,CA:TRUE,pathlen:" + std::to_string(path_length)},
                     {NID_key_usage, "critical,keyCertSign,cRLSign"},
                     {NID_subject_key_identifier, "hash"}};
  if (issuer != nullptr) body.extensions.emplace_back(NID_authority_key_identifier, "keyid:always");
  return build_certificate(body);
}

Result<void> verify_chain(X509* cert, X509* root, X509* intermediate) {
  X509_STORE* store = X509_STORE_new();
  STACK_OF(X509)* chain = sk_X509_new_null();
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  Result<void> outcome;
  if (store == nullptr || chain == nullptr || ctx == nullptr || X509_STORE_add_cert(store, root) != 1 ||
      (intermediate != nullptr && sk_X509_push(chain, intermediate) <= 0) ||
      X509_STORE_CTX_init(ctx, store, cert, chain) != 1) {
    outcome = fail("CA_BROKEN", "cannot set up certificate verification: " + openssl_error());
  } else if (X509_verify_cert(ctx) != 1) {
    outcome = fail("CA_BROKEN", std::string("the CA certificates do not chain: ") +
                                    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
  }
  X509_STORE_CTX_free(ctx);
  sk_X509_free(chain);
  X509_STORE_free(store);
  return outcome;
}

// ---- CSR -----------------------------------------------------------------------------------

struct ParsedCsr {
  ReqPtr request;
  KeyPtr public_key;
  std::string der;
  std::string spki_sha256;
};

Result<void> check_key_type(EVP_PKEY* key) {
  const int type = EVP_PKEY_get_base_id(key);
  if (type == EVP_PKEY_RSA) {
    if (EVP_PKEY_get_bits(key) < 2048) return fail("CA_REQUEST_INVALID", "RSA keys must have at least 2048 bits");
    return {};
  }
  if (type == EVP_PKEY_EC) {
    char group[64] = {};
    std::size_t length = 0;
    if (EVP_PKEY_get_group_name(key, group, sizeof group, &length) == 1 &&
        (std::string_view(group) == "prime256v1" || std::string_view(group) == "P-256")) {
      return {};
    }
    return fail("CA_REQUEST_INVALID", "EC keys must be on the P-256 curve");
  }
  return fail("CA_REQUEST_INVALID", "the request's key type is not supported; use RSA-2048 or EC P-256");
}

Result<ParsedCsr> parse_csr(std::string_view text) {
  if (text.empty()) return fail("CA_REQUEST_INVALID", "the certificate request (PKCS#10) is missing");
  ParsedCsr parsed;
  if (text.find("-----BEGIN") != std::string_view::npos) {
    BioPtr bio(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
    parsed.request.reset(bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  } else {
    const auto* data = reinterpret_cast<const unsigned char*>(text.data());
    parsed.request.reset(d2i_X509_REQ(nullptr, &data, static_cast<long>(text.size())));
  }
  ERR_clear_error();
  if (!parsed.request) return fail("CA_REQUEST_INVALID", "the certificate request is not a PKCS#10 request");
  parsed.public_key.reset(X509_REQ_get_pubkey(parsed.request.get()));
  if (!parsed.public_key) return fail("CA_REQUEST_INVALID", "the certificate request has no usable public key");
  if (X509_REQ_verify(parsed.request.get(), parsed.public_key.get()) != 1) {
    ERR_clear_error();
    return fail("CA_REQUEST_INVALID", "the certificate request's signature does not verify with its own key");
  }
  if (auto type = check_key_type(parsed.public_key.get()); !type) return std::unexpected(type.error());
  unsigned char* der = nullptr;
  const int der_length = i2d_X509_REQ(parsed.request.get(), &der);
  unsigned char* spki = nullptr;
  const int spki_length = i2d_PUBKEY(parsed.public_key.get(), &spki);
  if (der_length <= 0 || spki_length <= 0) {
    OPENSSL_free(der);
    OPENSSL_free(spki);
    return fail("CA_REQUEST_INVALID", "the certificate request cannot be re-encoded");
  }
  parsed.der.assign(reinterpret_cast<const char*>(der), static_cast<std::size_t>(der_length));
  parsed.spki_sha256 =
      sha256_hex_of(std::string_view(reinterpret_cast<const char*>(spki), static_cast<std::size_t>(spki_length)));
  OPENSSL_free(der);
  OPENSSL_free(spki);
  return parsed;
}

// ---- SQLite ----------------------------------------------------------------------------------

struct Statement {
  sqlite3_stmt* handle = nullptr;
  Statement() = default;
  Statement(Statement&& other) noexcept : handle(std::exchange(other.handle, nullptr)) {}
  Statement& operator=(Statement&&) = delete;
  Statement(const Statement&) = delete;
  ~Statement() { sqlite3_finalize(handle); }
};

std::string column_text(sqlite3_stmt* statement, int index) {
  const unsigned char* text = sqlite3_column_text(statement, index);
  return text == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(text));
}

// One row of ca_certificates. subject_key is an HMAC of the subject's identity, never the number.
struct CertRow {
  std::string serial;
  std::string subject_key;
  std::string kind;
  Medium medium = Medium::hard;
  CertState state = CertState::active;
  std::int64_t not_before = 0;
  std::int64_t not_after = 0;
  std::string superseded_by;
  std::string freeze_reason;
  std::string revocation_reason;
  std::int64_t changed_at = 0;  // when it was last frozen or revoked (CRL dates)
  std::string spki_sha256;
  std::string certificate_pem;
};

constexpr const char* kRowColumns =
    "serial, subject_key, kind, medium, state, not_before, not_after, superseded_by, freeze_reason, "
    "revocation_reason, changed_at, spki_sha256, certificate_pem";

CertRow read_row(sqlite3_stmt* statement) {
  CertRow row;
  row.serial = column_text(statement, 0);
  row.subject_key = column_text(statement, 1);
  row.kind = column_text(statement, 2);
  row.medium = parse_enum<Medium>(column_text(statement, 3)).value_or(Medium::hard);
  row.state = parse_enum<CertState>(column_text(statement, 4)).value_or(CertState::revoked);
  row.not_before = sqlite3_column_int64(statement, 5);
  row.not_after = sqlite3_column_int64(statement, 6);
  row.superseded_by = column_text(statement, 7);
  row.freeze_reason = column_text(statement, 8);
  row.revocation_reason = column_text(statement, 9);
  row.changed_at = sqlite3_column_int64(statement, 10);
  row.spki_sha256 = column_text(statement, 11);
  row.certificate_pem = column_text(statement, 12);
  return row;
}

CertState effective(const CertRow& row, std::int64_t now) {
  certificate::CertificateRecord record;
  record.state = row.state;
  record.not_after = TimePoint{std::chrono::seconds{row.not_after}};
  return certificate::effective_state(record, TimePoint{std::chrono::seconds{now}});
}

CertificateStatus status_of(const CertRow& row, std::int64_t now) {
  return CertificateStatus{row.serial,    effective(row, now), row.medium,        row.not_before,
                           row.not_after, row.superseded_by,   row.freeze_reason, row.revocation_reason};
}

json to_json(const CertificateStatus& status) {
  return json{{"serial", status.serial},
              {"state", std::string(to_string(status.state))},
              {"medium", std::string(to_string(status.medium))},
              {"not_before", status.not_before_unix},
              {"not_after", status.not_after_unix},
              {"superseded_by", status.superseded_by},
              {"freeze_reason", status.freeze_reason},
              {"revocation_reason", status.revocation_reason}};
}

CertificateStatus status_from_json(const json& value) {
  CertificateStatus status;
  status.serial = value.at("serial").get<std::string>();
  status.state = parse_enum<CertState>(value.at("state").get<std::string>()).value_or(CertState::revoked);
  status.medium = parse_enum<Medium>(value.at("medium").get<std::string>()).value_or(Medium::hard);
  status.not_before_unix = value.at("not_before").get<std::int64_t>();
  status.not_after_unix = value.at("not_after").get<std::int64_t>();
  status.superseded_by = value.at("superseded_by").get<std::string>();
  status.freeze_reason = value.at("freeze_reason").get<std::string>();
  status.revocation_reason = value.at("revocation_reason").get<std::string>();
  return status;
}

json to_json(const IssuedCertificate& issued) {
  return json{{"status", to_json(issued.status)},
              {"certificate_pem", issued.certificate_pem},
              {"retired_serial", issued.retired_serial}};
}

IssuedCertificate issued_from_json(const json& value) {
  return IssuedCertificate{status_from_json(value.at("status")), value.at("certificate_pem").get<std::string>(),
                           value.at("retired_serial").get<std::string>(), std::nullopt};
}

// Length-prefixed fields, so that ("ab","c") and ("a","bc") hash differently.
std::string request_hash(std::initializer_list<std::string_view> fields) {
  std::string canonical;
  for (std::string_view field : fields) {
    canonical += std::to_string(field.size());
    canonical += ':';
    canonical += field;
  }
  return sha256_hex_of(canonical);
}

Result<void> check_reason(std::string_view reason, const std::vector<std::string>& allowed, std::string_view op) {
  if (std::find(allowed.begin(), allowed.end(), reason) != allowed.end()) return {};
  std::string list;
  for (const auto& code : allowed) list += (list.empty() ? "" : ", ") + code;
  return fail("CA_REASON_INVALID", std::string(op) + " needs a reason code from: " + list);
}

bool is_printable_id(std::string_view text) {
  return !text.empty() && text.size() <= 64 && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-';
  });
}

bool is_clean_utf8_name(std::string_view text) {
  if (text.empty() || text.size() > kMaxCommonNameBytes) return false;
  return std::none_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
}

std::string normalised_id(std::string_view id) {
  std::string out(id);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

// CRL reason codes (RFC 5280 5.3.1) for the reasons this CA records.
int crl_reason_of(std::string_view reason) {
  if (reason == "KEY_COMPROMISE" || reason == "SUSPECTED_COMPROMISE") return CRL_REASON_KEY_COMPROMISE;
  if (reason == certificate::kSupersededReason || reason == "LOST" || reason == "DAMAGED" || reason == "LOCKED") {
    return CRL_REASON_SUPERSEDED;
  }
  if (reason == "HOLDER_REQUEST") return CRL_REASON_CESSATION_OF_OPERATION;
  return CRL_REASON_UNSPECIFIED;
}

}  // namespace

bool is_valid_request_id(std::string_view request_id) {
  return !request_id.empty() && request_id.size() <= 64 &&
         std::all_of(request_id.begin(), request_id.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '.' || c == '_' ||
                  c == ':' || c == '-';
         });
}

CaFiles ca_files(const std::filesystem::path& data_dir) {
  const auto dir = data_dir / "ca";
  return {dir,
          dir / "root.crt",
          dir / "root.key",
          dir / "issuing.crt",
          dir / "issuing.key",
          dir / "subject-hmac.key",
          dir / "download-code-hmac.key"};
}

struct LocalCa::Impl {
  LocalCaOptions options;
  SystemClock system_clock;
  CertPtr root;
  CertPtr issuing;
  KeyPtr issuing_key;
  std::string subject_hmac_key;
  std::string download_code_key;
  sqlite3* db = nullptr;
  std::mutex mutex;  // one connection; every operation is one transaction

  ~Impl() { sqlite3_close(db); }

  [[nodiscard]] std::int64_t now() const {
    return unix_seconds(options.clock != nullptr ? options.clock->now() : system_clock.now());
  }

  Result<void> exec(const char* sql) {
    char* message = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &message) != SQLITE_OK) {
      std::string text = message != nullptr ? message : "unknown";
      sqlite3_free(message);
      return fail("CA_STORAGE_FAILED", std::string("CA index: ") + text);
    }
    return {};
  }

  Result<Statement> prepare(const char* sql) {
    Statement statement;
    if (sqlite3_prepare_v2(db, sql, -1, &statement.handle, nullptr) != SQLITE_OK) {
      return fail("CA_STORAGE_FAILED", std::string("CA index: ") + sqlite3_errmsg(db));
    }
    return statement;
  }

  Result<void> step_done(Statement& statement) {
    if (sqlite3_step(statement.handle) != SQLITE_DONE) {
      return fail("CA_STORAGE_FAILED", std::string("CA index write failed: ") + sqlite3_errmsg(db));
    }
    return {};
  }

  Result<std::optional<CertRow>> find(std::string_view serial) {
    const std::string sql = std::string("SELECT ") + kRowColumns + " FROM ca_certificates WHERE serial = ?";
    auto statement = prepare(sql.c_str());
    if (!statement) return std::unexpected(statement.error());
    sqlite3_bind_text(statement->handle, 1, serial.data(), static_cast<int>(serial.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(statement->handle);
    if (rc == SQLITE_ROW) return std::optional<CertRow>(read_row(statement->handle));
    if (rc == SQLITE_DONE) return std::optional<CertRow>();
    return fail("CA_STORAGE_FAILED", std::string("CA index read failed: ") + sqlite3_errmsg(db));
  }

  Result<CertRow> require(std::string_view serial) {
    auto row = find(normalised_id(serial));
    if (!row) return std::unexpected(row.error());
    if (!*row) return fail("CA_UNKNOWN_SERIAL", "no certificate with serial " + normalised_id(serial) + " at this CA");
    return **row;
  }

  Result<void> insert(const CertRow& row) {
    const std::string sql =
        std::string("INSERT INTO ca_certificates (") + kRowColumns + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    auto statement = prepare(sql.c_str());
    if (!statement) return std::unexpected(statement.error());
    sqlite3_stmt* s = statement->handle;
    auto text = [s](int index, std::string_view value) {
      sqlite3_bind_text(s, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    };
    text(1, row.serial);
    text(2, row.subject_key);
    text(3, row.kind);
    text(4, to_string(row.medium));
    text(5, to_string(row.state));
    sqlite3_bind_int64(s, 6, row.not_before);
    sqlite3_bind_int64(s, 7, row.not_after);
    text(8, row.superseded_by);
    text(9, row.freeze_reason);
    text(10, row.revocation_reason);
    sqlite3_bind_int64(s, 11, row.changed_at);
    text(12, row.spki_sha256);
    text(13, row.certificate_pem);
    return step_done(*statement);
  }

  Result<void> update_state(const CertRow& row) {
    auto statement = prepare(
        "UPDATE ca_certificates SET state = ?, superseded_by = ?, freeze_reason = ?, revocation_reason = ?, "
        "changed_at = ? WHERE serial = ?");
    if (!statement) return std::unexpected(statement.error());
    sqlite3_stmt* s = statement->handle;
    auto text = [s](int index, std::string_view value) {
      sqlite3_bind_text(s, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
    };
    text(1, to_string(row.state));
    text(2, row.superseded_by);
    text(3, row.freeze_reason);
    text(4, row.revocation_reason);
    sqlite3_bind_int64(s, 5, row.changed_at);
    text(6, row.serial);
    if (auto done = step_done(*statement); !done) return done;
    if (sqlite3_changes(db) != 1) return fail("CA_STORAGE_FAILED", "CA index: certificate row vanished");
    return {};
  }

  Result<void> hook(std::string_view step) {
    if (options.fault_hook) return options.fault_hook(step);
    return {};
  }

  // Checks the transition table of the core domain (REQ-31, M3) on the certificate's state now.
  static Result<CertState> admit(const CertRow& row, Operation op, std::int64_t now) {
    const CertState from = effective(row, now);
    auto next = certificate::next_state(from, op);
    if (!next) {
      return fail("CA_ILLEGAL_TRANSITION", std::string(to_string(op)) + " is not allowed on a certificate in state " +
                                               std::string(to_string(from)));
    }
    return next;
  }

  std::string subject_key_of(const CaSubject& subject) const {
    const std::string identity = std::string(to_string(subject.identity.investor_type)) + "|" +
                                 std::string(to_string(subject.identity.id_type)) + "|" +
                                 normalised_id(subject.identity.id_number);
    return id_number_hmac_hex(subject_hmac_key, identity);
  }

  // Signs an investor certificate for `public_key` under the issuing CA with the profile.
  Result<CertRow> issue(X509_NAME* subject_name, const ParsedCsr& csr, std::int64_t now,
                        std::string reserved_serial = {}) {
    CertBody body;
    body.serial_hex = std::move(reserved_serial);
    body.subject = subject_name;
    body.public_key = csr.public_key.get();
    body.issuer = issuing.get();
    body.signing_key = issuing_key.get();
    body.not_before = now - 300;  // a little slack for clocks behind ours
    body.not_after = now + static_cast<std::int64_t>(options.profile.validity_days) * 86400;
    body.extensions = {{NID_basic_constraints, "critical,CA:FALSE"},
                       {NID_key_usage, "critical,digitalSignature,nonRepudiation"},
                       {NID_ext_key_usage, "emailProtection,clientAuth"},
                       {NID_subject_key_identifier, "hash"},
                       {NID_authority_key_identifier, "keyid:always"}};
    auto cert = build_certificate(body);
    if (!cert) return std::unexpected(cert.error());
    auto pem = pem_of(cert->get());
    if (!pem) return fail("CA_ISSUE_FAILED", pem.error().message);
    CertRow row;
    row.serial = certificate_serial_hex(cert->get());
    row.not_before = body.not_before;
    row.not_after = body.not_after;
    row.spki_sha256 = csr.spki_sha256;
    row.certificate_pem = std::move(*pem);
    return row;
  }

  // The idempotency frame: one SQL transaction holding the request row and the state change.
  // `on_replay`, when given, runs inside the transaction on a retried request's stored answer (the
  // soft apply gives a new download code there) and is committed with it.
  template <class T>
  Result<T> run(std::string_view operation, std::string_view request_id, const std::string& hash,
                const std::function<Result<T>()>& body, const std::function<json(const T&)>& encode,
                const std::function<T(const json&)>& decode, const std::function<Result<T>(T stored)>& on_replay = {}) {
    if (!is_valid_request_id(request_id)) {
      return fail("CA_REQUEST_INVALID", "request_id must be 1-64 letters, digits, '.', '_', ':' or '-'");
    }
    std::lock_guard lock(mutex);
    if (auto begun = exec("BEGIN IMMEDIATE"); !begun) return std::unexpected(begun.error());
    auto rollback_with = [&](Error error) -> Result<T> {
      (void)exec("ROLLBACK");
      log::info("ca_operation_refused",
                {{"operation", std::string(operation)}, {"request_id", std::string(request_id)}, {"code", error.code}});
      return std::unexpected(std::move(error));
    };
    auto lookup = prepare("SELECT operation, request_hash, result_json FROM ca_requests WHERE request_id = ?");
    if (!lookup) return rollback_with(lookup.error());
    sqlite3_bind_text(lookup->handle, 1, request_id.data(), static_cast<int>(request_id.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(lookup->handle);
    if (rc == SQLITE_ROW) {
      const std::string stored_operation = column_text(lookup->handle, 0);
      const std::string stored_hash = column_text(lookup->handle, 1);
      const std::string stored_result = column_text(lookup->handle, 2);
      if (stored_operation != operation || stored_hash != hash) {
        return rollback_with(Error{"CA_REQUEST_ID_REUSED", "request id " + std::string(request_id) +
                                                               " was already used for a different request"});
      }
      std::optional<T> stored;
      try {
        stored = decode(json::parse(stored_result));
      } catch (const json::exception&) {
        (void)exec("ROLLBACK");
        return fail("CA_STORAGE_FAILED", "the stored answer of request " + std::string(request_id) + " is unreadable");
      }
      if (!on_replay) {
        (void)exec("ROLLBACK");
        return std::move(*stored);
      }
      auto replayed = on_replay(std::move(*stored));
      if (!replayed) return rollback_with(replayed.error());
      if (auto committed = exec("COMMIT"); !committed) return rollback_with(committed.error());
      return replayed;
    }
    if (rc != SQLITE_DONE) {
      return rollback_with(Error{"CA_STORAGE_FAILED", std::string("CA index read failed: ") + sqlite3_errmsg(db)});
    }
    auto result = body();
    if (!result) return rollback_with(result.error());
    auto record = prepare(
        "INSERT INTO ca_requests (request_id, operation, request_hash, result_json, created_at) "
        "VALUES (?, ?, ?, ?, ?)");
    if (!record) return rollback_with(record.error());
    const std::string result_text = encode(*result).dump();
    sqlite3_bind_text(record->handle, 1, request_id.data(), static_cast<int>(request_id.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(record->handle, 2, operation.data(), static_cast<int>(operation.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(record->handle, 3, hash.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(record->handle, 4, result_text.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(record->handle, 5, now());
    if (auto written = step_done(*record); !written) return rollback_with(written.error());
    if (auto committed = exec("COMMIT"); !committed) return rollback_with(committed.error());
    log::info("ca_operation", {{"operation", std::string(operation)}, {"request_id", std::string(request_id)}});
    return result;
  }

  Result<IssuedCertificate> run_issue(
      std::string_view operation, std::string_view request_id, const std::string& hash,
      const std::function<Result<IssuedCertificate>()>& body,
      const std::function<Result<IssuedCertificate>(IssuedCertificate stored)>& on_replay = {}) {
    return run<IssuedCertificate>(
        operation, request_id, hash, body, [](const IssuedCertificate& value) { return to_json(value); },
        [](const json& value) { return issued_from_json(value); }, on_replay);
  }

  // ---- soft downloads (REQ-31, REQ-50) ----

  struct Grant {
    std::string reference;
    std::string serial;
    std::string subject_der;
    std::string code_hash;
    std::int64_t expires_at = 0;
    std::int64_t failed_attempts = 0;
    std::int64_t downloaded_at = 0;  // 0: not yet
    std::string csr_sha256;          // of the downloaded request's DER
  };

  // Bound to the reference, so a code hash copied to another row matches nothing.
  [[nodiscard]] std::string code_hash_of(std::string_view reference, std::string_view code) const {
    return id_number_hmac_hex(download_code_key, std::string(reference) + ":" + std::string(code));
  }

  [[nodiscard]] bool locked(const Grant& grant) const {
    return grant.downloaded_at == 0 && grant.failed_attempts >= options.profile.soft_download_max_attempts;
  }

  Result<std::optional<Grant>> find_grant(const char* where, std::string_view key) {
    const std::string sql = std::string(
                                "SELECT reference, serial, subject_der, code_hash, expires_at, failed_attempts, "
                                "downloaded_at, csr_sha256 FROM ca_soft_downloads WHERE ") +
                            where + " = ?";
    auto statement = prepare(sql.c_str());
    if (!statement) return std::unexpected(statement.error());
    sqlite3_bind_text(statement->handle, 1, key.data(), static_cast<int>(key.size()), SQLITE_TRANSIENT);
    const int rc = sqlite3_step(statement->handle);
    if (rc == SQLITE_DONE) return std::optional<Grant>();
    if (rc != SQLITE_ROW) return fail("CA_STORAGE_FAILED", std::string("CA index read failed: ") + sqlite3_errmsg(db));
    sqlite3_stmt* s = statement->handle;
    Grant grant;
    grant.reference = column_text(s, 0);
    const auto* der = static_cast<const char*>(sqlite3_column_blob(s, 2));
    grant.subject_der.assign(der == nullptr ? "" : der, static_cast<std::size_t>(sqlite3_column_bytes(s, 2)));
    grant.serial = column_text(s, 1);
    grant.code_hash = column_text(s, 3);
    grant.expires_at = sqlite3_column_int64(s, 4);
    grant.failed_attempts = sqlite3_column_int64(s, 5);
    grant.downloaded_at = sqlite3_column_int64(s, 6);
    grant.csr_sha256 = column_text(s, 7);
    return std::optional<Grant>(std::move(grant));
  }

  // A new code for the grant `reference`; the previous code's hash is overwritten, so it stops working.
  Result<std::string> set_new_code(const std::string& reference) {
    auto code = random_text(kCodeAlphabet, kCodeLength);
    if (!code) return std::unexpected(code.error());
    auto statement = prepare("UPDATE ca_soft_downloads SET code_hash = ? WHERE reference = ?");
    if (!statement) return std::unexpected(statement.error());
    const std::string hash = code_hash_of(reference, *code);
    sqlite3_bind_text(statement->handle, 1, hash.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(statement->handle, 2, reference.c_str(), -1, SQLITE_TRANSIENT);
    if (auto done = step_done(*statement); !done) return std::unexpected(done.error());
    return code;
  }

  // A reservation for `serial`: a unique reference, a code (only its hash is stored) and a deadline.
  Result<SoftDownloadGrant> insert_grant(const std::string& serial, std::string_view subject_der,
                                         std::int64_t expires_at) {
    std::string reference;
    for (int attempt = 0; attempt < 8 && reference.empty(); ++attempt) {
      auto digits = random_text("0123456789", kReferenceDigits);
      if (!digits) return std::unexpected(digits.error());
      const std::string candidate = std::string(kReferencePrefix) + *digits;
      auto existing = find_grant("reference", candidate);
      if (!existing) return std::unexpected(existing.error());
      if (!*existing) reference = candidate;
    }
    if (reference.empty()) return fail("CA_ISSUE_FAILED", "cannot find an unused download reference");
    auto code = random_text(kCodeAlphabet, kCodeLength);
    if (!code) return std::unexpected(code.error());
    auto statement = prepare(
        "INSERT INTO ca_soft_downloads (reference, serial, subject_der, code_hash, expires_at, failed_attempts, "
        "downloaded_at, csr_sha256) VALUES (?, ?, ?, ?, ?, 0, 0, '')");
    if (!statement) return std::unexpected(statement.error());
    sqlite3_stmt* s = statement->handle;
    const std::string hash = code_hash_of(reference, *code);
    sqlite3_bind_text(s, 1, reference.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 2, serial.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(s, 3, subject_der.data(), static_cast<int>(subject_der.size()), SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 4, hash.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 5, expires_at);
    if (auto done = step_done(*statement); !done) return std::unexpected(done.error());
    return SoftDownloadGrant{reference, std::move(*code), expires_at};
  }

  // A reservation that can no longer be downloaded (expired or locked) is revoked with
  // DOWNLOAD_LAPSED, so it does not keep the investor from applying again (CA_DUPLICATE_LIVE).
  Result<void> lapse(const std::string& serial, std::int64_t now) {
    auto statement = prepare(
        "UPDATE ca_certificates SET state = 'revoked', revocation_reason = ?, changed_at = ? "
        "WHERE serial = ? AND state = 'pending_download'");
    if (!statement) return std::unexpected(statement.error());
    sqlite3_bind_text(statement->handle, 1, kLapsedReason.data(), static_cast<int>(kLapsedReason.size()),
                      SQLITE_TRANSIENT);
    sqlite3_bind_int64(statement->handle, 2, now);
    sqlite3_bind_text(statement->handle, 3, serial.c_str(), -1, SQLITE_TRANSIENT);
    if (auto done = step_done(*statement); !done) return done;
    if (sqlite3_changes(db) == 1) log::info("softcert_lapsed", {{"serial", serial}});
    return {};
  }

  // Every lapsed reservation of one subject, noticed before its certificates are counted or listed.
  Result<void> lapse_subject(const std::string& subject_key, const std::string& kind, std::int64_t now) {
    auto statement = prepare(
        "SELECT c.serial FROM ca_certificates c JOIN ca_soft_downloads d ON d.serial = c.serial "
        "WHERE c.subject_key = ? AND c.kind = ? AND c.state = 'pending_download' AND d.downloaded_at = 0 "
        "AND (d.expires_at <= ? OR d.failed_attempts >= ?)");
    if (!statement) return std::unexpected(statement.error());
    sqlite3_bind_text(statement->handle, 1, subject_key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(statement->handle, 2, kind.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(statement->handle, 3, now);
    sqlite3_bind_int64(statement->handle, 4, options.profile.soft_download_max_attempts);
    std::vector<std::string> serials;
    int rc = 0;
    while ((rc = sqlite3_step(statement->handle)) == SQLITE_ROW) serials.push_back(column_text(statement->handle, 0));
    if (rc != SQLITE_DONE) return fail("CA_STORAGE_FAILED", std::string("CA index read failed: ") + sqlite3_errmsg(db));
    for (const auto& serial : serials) {
      if (auto lapsed = lapse(serial, now); !lapsed) return lapsed;
    }
    return {};
  }

  // The soft certificate issued at download replaces the reservation's empty certificate fields.
  Result<void> store_downloaded(const CertRow& row) {
    auto statement = prepare(
        "UPDATE ca_certificates SET state = ?, not_before = ?, not_after = ?, spki_sha256 = ?, certificate_pem = ?, "
        "changed_at = ? WHERE serial = ? AND state = 'pending_download'");
    if (!statement) return std::unexpected(statement.error());
    sqlite3_stmt* s = statement->handle;
    sqlite3_bind_text(s, 1, std::string(to_string(row.state)).c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 2, row.not_before);
    sqlite3_bind_int64(s, 3, row.not_after);
    sqlite3_bind_text(s, 4, row.spki_sha256.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(s, 5, row.certificate_pem.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(s, 6, row.changed_at);
    sqlite3_bind_text(s, 7, row.serial.c_str(), -1, SQLITE_TRANSIENT);
    if (auto done = step_done(*statement); !done) return done;
    if (sqlite3_changes(db) != 1) return fail("CA_STORAGE_FAILED", "CA index: the reservation changed under us");
    return {};
  }

  [[nodiscard]] std::string chain_pem() const {
    return certificate_pem(issuing.get()).value_or("") + certificate_pem(root.get()).value_or("");
  }

  Result<CertificateStatus> run_status(std::string_view operation, std::string_view request_id, const std::string& hash,
                                       const std::function<Result<CertificateStatus>()>& body) {
    return run<CertificateStatus>(
        operation, request_id, hash, body, [](const CertificateStatus& value) { return to_json(value); },
        [](const json& value) { return status_from_json(value); });
  }
};

namespace {

Result<void> create_ca(const CaFiles& files, std::int64_t now) {
  std::error_code error;
  std::filesystem::create_directories(files.dir, error);
  if (error) return fail("CA_STORAGE_FAILED", "cannot create " + files.dir.string() + ": " + error.message());
  ::chmod(files.dir.c_str(), 0700);
  auto root_key = generate_p256_key();
  if (!root_key) return std::unexpected(root_key.error());
  auto issuing_key = generate_p256_key();
  if (!issuing_key) return std::unexpected(issuing_key.error());
  auto root = make_ca_certificate(kRootName, root_key->get(), nullptr, nullptr, 1, 20, now);
  if (!root) return std::unexpected(root.error());
  auto issuing = make_ca_certificate(kIssuingName, issuing_key->get(), root->get(), root_key->get(), 0, 10, now);
  if (!issuing) return std::unexpected(issuing.error());
  auto subject_key = random_hex(32);
  if (!subject_key) return std::unexpected(subject_key.error());
  auto root_key_pem = private_key_pem(root_key->get());
  auto issuing_key_pem = private_key_pem(issuing_key->get());
  auto root_pem = certificate_pem(root->get());
  auto issuing_pem = certificate_pem(issuing->get());
  if (!root_key_pem || !issuing_key_pem || !root_pem || !issuing_pem) {
    return fail("CA_ISSUE_FAILED", "cannot encode the new CA keys or certificates");
  }
  // Keys first and the issuing certificate last: its presence marks a complete CA.
  for (const auto& [file, contents, mode] : {std::tuple{files.subject_key, *subject_key, mode_t{0600}},
                                             std::tuple{files.root_key, *root_key_pem, mode_t{0600}},
                                             std::tuple{files.issuing_key, *issuing_key_pem, mode_t{0600}},
                                             std::tuple{files.root_cert, *root_pem, mode_t{0644}},
                                             std::tuple{files.issuing_cert, *issuing_pem, mode_t{0644}}}) {
    if (auto written = write_file_atomically(file, contents, mode); !written) return written;
  }
  return {};
}

Result<std::string> read_text(const std::filesystem::path& file) {
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) return fail("CA_BROKEN", "cannot read " + file.string());
  std::string text;
  char buffer[4096];
  int read = 0;
  while ((read = BIO_read(bio.get(), buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(read));
  return text;
}

}  // namespace

LocalCa::LocalCa(std::unique_ptr<Impl> impl, CaFiles files) : impl_(std::move(impl)), files_(std::move(files)) {}
LocalCa::~LocalCa() = default;

Result<std::unique_ptr<LocalCa>> LocalCa::open(LocalCaOptions options) {
  if (options.profile.validity_days < 1 || options.profile.renewal_window_days < 0 ||
      options.profile.soft_download_valid_hours < 1 || options.profile.soft_download_max_attempts < 1) {
    return fail("CA_PROFILE_INVALID",
                "validity_days, soft_download_valid_hours and soft_download_max_attempts must be at least 1 and "
                "renewal_window_days not negative");
  }
  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  CaFiles files = ca_files(impl->options.data_dir);
  const std::vector<std::filesystem::path> all{files.root_cert, files.root_key, files.issuing_cert, files.issuing_key,
                                               files.subject_key};
  const auto present = std::count_if(all.begin(), all.end(), file_exists);
  if (present == 0) {
    if (auto created = create_ca(files, impl->now()); !created) return std::unexpected(created.error());
    log::info("ca_created", {{"dir", files.dir.string()}});
  } else if (present != static_cast<long>(all.size())) {
    return fail("CA_BROKEN", files.dir.string() +
                                 " is incomplete; restore the missing CA files from backup (a new CA would "
                                 "orphan every certificate issued so far)");
  }
  auto root = load_certificate(files.root_cert);
  auto issuing = load_certificate(files.issuing_cert);
  auto issuing_key = load_private_key(files.issuing_key);
  auto subject_key = read_text(files.subject_key);
  if (!root || !issuing || !issuing_key || !subject_key) {
    return fail("CA_BROKEN", "cannot load the CA files in " + files.dir.string());
  }
  if (auto chained = verify_chain(issuing->get(), root->get(), nullptr); !chained) {
    return std::unexpected(chained.error());
  }
  if (X509_check_private_key(issuing->get(), issuing_key->get()) != 1) {
    ERR_clear_error();
    return fail("CA_BROKEN", "the issuing CA key does not match its certificate in " + files.dir.string());
  }
  impl->root = std::move(*root);
  impl->issuing = std::move(*issuing);
  impl->issuing_key = std::move(*issuing_key);
  impl->subject_hmac_key = std::move(*subject_key);
  // Made when missing, also in a DATA/ca from before soft downloads existed (see CaFiles).
  if (!file_exists(files.download_code_key)) {
    auto code_key = random_hex(32);
    if (!code_key) return std::unexpected(code_key.error());
    if (auto written = write_file_atomically(files.download_code_key, *code_key, 0600); !written) {
      return std::unexpected(written.error());
    }
  }
  auto code_key = read_text(files.download_code_key);
  if (!code_key || code_key->empty()) return fail("CA_BROKEN", "cannot read " + files.download_code_key.string());
  impl->download_code_key = std::move(*code_key);

  const auto index = impl->options.data_dir / "index.sqlite";
  if (sqlite3_open_v2(index.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    return fail("CA_STORAGE_FAILED", "cannot open " + index.string());
  }
  ::chmod(index.c_str(), 0600);
  sqlite3_busy_timeout(impl->db, 5000);  // shares the file with the gateway's Store
  const char* schema =
      "PRAGMA journal_mode=WAL;"
      "PRAGMA synchronous=FULL;"
      "CREATE TABLE IF NOT EXISTS ca_certificates ("
      "  serial TEXT PRIMARY KEY NOT NULL,"
      "  subject_key TEXT NOT NULL,"
      "  kind TEXT NOT NULL,"
      "  medium TEXT NOT NULL CHECK (medium IN ('hard','soft')),"
      "  state TEXT NOT NULL CHECK (state IN ('pending_download','active','frozen','revoked')),"
      "  not_before INTEGER NOT NULL,"
      "  not_after INTEGER NOT NULL,"
      "  superseded_by TEXT NOT NULL,"
      "  freeze_reason TEXT NOT NULL,"
      "  revocation_reason TEXT NOT NULL,"
      "  changed_at INTEGER NOT NULL,"
      "  spki_sha256 TEXT NOT NULL,"
      "  certificate_pem TEXT NOT NULL);"
      "CREATE INDEX IF NOT EXISTS ca_certificates_by_subject ON ca_certificates (subject_key);"
      "CREATE TABLE IF NOT EXISTS ca_requests ("
      "  request_id TEXT PRIMARY KEY NOT NULL,"
      "  operation TEXT NOT NULL,"
      "  request_hash TEXT NOT NULL,"
      "  result_json TEXT NOT NULL,"
      "  created_at INTEGER NOT NULL);"
      // A soft certificate's reservation: its row in ca_certificates is pending_download with an
      // empty certificate_pem and spki_sha256 until the download fills them. subject_der is the
      // subject name the certificate will carry (the kiosk's verified subject).
      "CREATE TABLE IF NOT EXISTS ca_soft_downloads ("
      "  reference TEXT PRIMARY KEY NOT NULL,"
      "  serial TEXT NOT NULL UNIQUE REFERENCES ca_certificates (serial),"
      "  subject_der BLOB NOT NULL,"
      "  code_hash TEXT NOT NULL,"
      "  expires_at INTEGER NOT NULL,"
      "  failed_attempts INTEGER NOT NULL,"
      "  downloaded_at INTEGER NOT NULL,"
      "  csr_sha256 TEXT NOT NULL);";
  if (auto made = impl->exec(schema); !made) return std::unexpected(made.error());
  return std::unique_ptr<LocalCa>(new LocalCa(std::move(impl), std::move(files)));
}

Result<IssuedCertificate> LocalCa::apply(const ApplyRequest& request) {
  const CaSubject& subject = request.subject;
  if (!is_clean_utf8_name(subject.common_name) || !is_printable_id(subject.identity.id_number)) {
    return fail("CA_SUBJECT_INVALID",
                "the subject needs a name (1-64 bytes, no control characters) and an ID number "
                "(letters, digits, '-')");
  }
  const bool soft = request.medium == Medium::soft;
  // The kiosk never touches the investor's soft key: the request comes with the download code.
  if (soft && !request.csr.empty()) {
    return fail("CA_REQUEST_INVALID",
                "a soft apply carries no certificate request; the investor's software sends it at download");
  }
  std::optional<ParsedCsr> csr;
  if (!soft) {
    auto parsed = parse_csr(request.csr);
    if (!parsed) return std::unexpected(parsed.error());
    csr = std::move(*parsed);
  }
  Impl& impl = *impl_;
  const std::string subject_key = impl.subject_key_of(subject);
  const std::string kind(kiosk::to_string(subject.kind));
  const std::string hash = request_hash(
      {"apply", subject_key, kind, subject.common_name, to_string(request.medium), csr ? csr->der : std::string()});

  auto body = [&]() -> Result<IssuedCertificate> {
    const std::int64_t now = impl.now();
    if (auto lapsed = impl.lapse_subject(subject_key, kind, now); !lapsed) return std::unexpected(lapsed.error());
    if (!impl.options.profile.allow_second_live_certificate) {
      auto live = impl.prepare(
          "SELECT serial FROM ca_certificates WHERE subject_key = ? AND kind = ? "
          "AND state IN ('pending_download','active','frozen') AND not_after > ? LIMIT 1");
      if (!live) return std::unexpected(live.error());
      sqlite3_bind_text(live->handle, 1, subject_key.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(live->handle, 2, kind.c_str(), -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(live->handle, 3, now);
      if (sqlite3_step(live->handle) == SQLITE_ROW) {
        return fail("CA_DUPLICATE_LIVE", "the subject already holds live certificate " + column_text(live->handle, 0) +
                                             "; renew, reissue or revoke it instead");
      }
    }
    NamePtr name = name_with_common_name(subject.common_name);
    if (!name || X509_NAME_add_entry_by_txt(
                     name.get(), "serialNumber", MBSTRING_ASC,
                     reinterpret_cast<const unsigned char*>(normalised_id(subject.identity.id_number).c_str()), -1, -1,
                     0) != 1) {
      return fail("CA_ISSUE_FAILED", "cannot build the subject name");
    }
    if (!soft) {
      auto row = impl.issue(name.get(), *csr, now);
      if (!row) return std::unexpected(row.error());
      row->subject_key = subject_key;
      row->kind = kind;
      row->medium = request.medium;
      row->state = CertState::active;
      row->changed_at = now;
      if (auto inserted = impl.insert(*row); !inserted) return std::unexpected(inserted.error());
      return IssuedCertificate{status_of(*row, now), row->certificate_pem, {}, std::nullopt};
    }
    // Soft: a reservation (REQ-31, REQ-50). The certificate is made when the investor's software
    // downloads it; until then the row has a serial, a deadline as not_after, and no certificate.
    auto serial = random_serial_hex();
    if (!serial) return std::unexpected(serial.error());
    unsigned char* der = nullptr;
    const int der_length = i2d_X509_NAME(name.get(), &der);
    if (der_length <= 0) return fail("CA_ISSUE_FAILED", "cannot encode the subject name");
    const std::string subject_der(reinterpret_cast<const char*>(der), static_cast<std::size_t>(der_length));
    OPENSSL_free(der);
    CertRow row;
    row.serial = *serial;
    row.subject_key = subject_key;
    row.kind = kind;
    row.medium = Medium::soft;
    row.state = CertState::pending_download;
    row.not_before = now;
    row.not_after = now + std::int64_t{impl.options.profile.soft_download_valid_hours} * 3600;
    row.changed_at = now;
    if (auto inserted = impl.insert(row); !inserted) return std::unexpected(inserted.error());
    auto grant = impl.insert_grant(row.serial, subject_der, row.not_after);
    if (!grant) return std::unexpected(grant.error());
    log::info("softcert_reserved", {{"serial", row.serial}, {"reference", grant->reference}});
    return IssuedCertificate{status_of(row, now), {}, {}, std::move(*grant)};
  };

  // A retried soft apply: the stored answer holds no code (only its hash is kept anywhere), so the
  // same reservation gets a new code and the old one stops working. A reservation that can no
  // longer be downloaded is refused: the kiosk starts a new apply with a new request id.
  auto replay = [&](IssuedCertificate stored) -> Result<IssuedCertificate> {
    const std::int64_t now = impl.now();
    auto grant = impl.find_grant("serial", stored.status.serial);
    if (!grant) return std::unexpected(grant.error());
    if (!*grant) return fail("CA_STORAGE_FAILED", "the reservation of a stored soft apply is missing");
    auto row = impl.require(stored.status.serial);
    if (!row) return std::unexpected(row.error());
    if ((*grant)->downloaded_at != 0) {
      return fail("SOFTCERT_ALREADY_DOWNLOADED", "the soft certificate of this request was already downloaded");
    }
    if (impl.locked(**grant)) {
      if (auto lapsed = impl.lapse(row->serial, now); !lapsed) return std::unexpected(lapsed.error());
      return fail("SOFTCERT_LOCKED", "too many wrong codes; apply again with a new request id");
    }
    if (now >= (*grant)->expires_at || row->state != CertState::pending_download) {
      if (auto lapsed = impl.lapse(row->serial, now); !lapsed) return std::unexpected(lapsed.error());
      return fail("SOFTCERT_EXPIRED", "the download period has passed; apply again with a new request id");
    }
    auto code = impl.set_new_code((*grant)->reference);
    if (!code) return std::unexpected(code.error());
    stored.status = status_of(*row, now);
    stored.download = SoftDownloadGrant{(*grant)->reference, std::move(*code), (*grant)->expires_at};
    return stored;
  };
  if (soft) return impl.run_issue("apply", request.request_id, hash, body, replay);
  return impl.run_issue("apply", request.request_id, hash, body);
}

Result<IssuedCertificate> LocalCa::renew(const RenewRequest& request) {
  auto csr = parse_csr(request.csr);
  if (!csr) return std::unexpected(csr.error());
  Impl& impl = *impl_;
  const std::string old_serial = normalised_id(request.old_serial);
  const std::string hash = request_hash({"renew", old_serial, csr->der});
  return impl.run_issue("renew", request.request_id, hash, [&]() -> Result<IssuedCertificate> {
    const std::int64_t now = impl.now();
    auto old = impl.require(old_serial);
    if (!old) return std::unexpected(old.error());
    if (auto admitted = Impl::admit(*old, Operation::renew, now); !admitted) return std::unexpected(admitted.error());
    const std::int64_t window_opens = old->not_after - std::int64_t{impl.options.profile.renewal_window_days} * 86400;
    if (now < window_opens) {
      return fail("CA_OUTSIDE_RENEWAL_WINDOW", "certificate " + old->serial + " can be renewed from " +
                                                   std::to_string(impl.options.profile.renewal_window_days) +
                                                   " days before it expires");
    }
    if (csr->spki_sha256 == old->spki_sha256) {
      return fail("CA_KEY_REUSED", "renewal needs a new key pair; the request carries the old certificate's key");
    }
    auto old_cert = certificate_from_pem(old->certificate_pem);
    if (!old_cert) return std::unexpected(old_cert.error());
    auto row = impl.issue(X509_get_subject_name(old_cert->get()), *csr, now);
    if (!row) return std::unexpected(row.error());
    row->subject_key = old->subject_key;
    row->kind = old->kind;
    row->medium = old->medium;
    row->state = CertState::active;
    row->changed_at = now;
    if (auto inserted = impl.insert(*row); !inserted) return std::unexpected(inserted.error());
    CertRow retired = *old;
    retired.state = CertState::revoked;
    retired.revocation_reason = std::string(certificate::kSupersededReason);
    retired.superseded_by = row->serial;
    retired.changed_at = now;
    if (auto updated = impl.update_state(retired); !updated) return std::unexpected(updated.error());
    return IssuedCertificate{status_of(*row, now), row->certificate_pem, retired.serial, std::nullopt};
  });
}

// Freeze, unfreeze and revoke: admit the operation from the row's state (M3), apply its own
// field changes, store the row. Runs inside run_status's SQL transaction.
template <class CaImpl, class Mutate>
Result<CertificateStatus> change_state(CaImpl& impl, const std::string& serial, Operation operation, Mutate mutate) {
  const std::int64_t now = impl.now();
  auto row = impl.require(serial);
  if (!row) return std::unexpected(row.error());
  auto next = CaImpl::admit(*row, operation, now);
  if (!next) return std::unexpected(next.error());
  row->state = *next;
  mutate(*row);
  row->changed_at = now;
  if (auto updated = impl.update_state(*row); !updated) return std::unexpected(updated.error());
  return status_of(*row, now);
}

Result<CertificateStatus> LocalCa::freeze(const FreezeRequest& request) {
  Impl& impl = *impl_;
  if (auto reason = check_reason(request.reason, impl.options.profile.freeze_reasons, "freeze"); !reason) {
    return std::unexpected(reason.error());
  }
  const std::string serial = normalised_id(request.serial);
  return impl.run_status("freeze", request.request_id, request_hash({"freeze", serial, request.reason}), [&] {
    return change_state(impl, serial, Operation::freeze, [&](auto& row) { row.freeze_reason = request.reason; });
  });
}

Result<CertificateStatus> LocalCa::unfreeze(const UnfreezeRequest& request) {
  Impl& impl = *impl_;
  const std::string serial = normalised_id(request.serial);
  return impl.run_status("unfreeze", request.request_id, request_hash({"unfreeze", serial}), [&] {
    return change_state(impl, serial, Operation::unfreeze, [](auto& row) { row.freeze_reason.clear(); });
  });
}

Result<CertificateStatus> LocalCa::revoke(const RevokeRequest& request) {
  Impl& impl = *impl_;
  if (auto reason = check_reason(request.reason, impl.options.profile.revoke_reasons, "revoke"); !reason) {
    return std::unexpected(reason.error());
  }
  const std::string serial = normalised_id(request.serial);
  return impl.run_status("revoke", request.request_id, request_hash({"revoke", serial, request.reason}), [&] {
    return change_state(impl, serial, Operation::revoke, [&](auto& row) {
      row.freeze_reason.clear();
      row.revocation_reason = request.reason;
    });
  });
}

Result<IssuedCertificate> LocalCa::reissue(const ReissueRequest& request) {
  Impl& impl = *impl_;
  if (auto reason = check_reason(request.reason, impl.options.profile.reissue_reasons, "reissue"); !reason) {
    return std::unexpected(reason.error());
  }
  auto csr = parse_csr(request.csr);
  if (!csr) return std::unexpected(csr.error());
  const std::string old_serial = normalised_id(request.old_serial);
  const std::string hash = request_hash({"reissue", old_serial, request.reason, to_string(request.medium), csr->der});
  // Both steps run inside run()'s transaction: any error below rolls back the revocation too.
  return impl.run_issue("reissue", request.request_id, hash, [&]() -> Result<IssuedCertificate> {
    const std::int64_t now = impl.now();
    auto old = impl.require(old_serial);
    if (!old) return std::unexpected(old.error());
    if (auto admitted = Impl::admit(*old, Operation::reissue, now); !admitted) return std::unexpected(admitted.error());
    if (csr->spki_sha256 == old->spki_sha256) {
      return fail("CA_KEY_REUSED", "reissue needs a new key pair; the request carries the old certificate's key");
    }
    CertRow retired = *old;
    retired.state = CertState::revoked;
    retired.freeze_reason.clear();
    retired.revocation_reason = request.reason;
    retired.changed_at = now;
    if (auto updated = impl.update_state(retired); !updated) return std::unexpected(updated.error());
    if (auto hooked = impl.hook("reissue:after-revoke"); !hooked) return std::unexpected(hooked.error());

    auto old_cert = certificate_from_pem(old->certificate_pem);
    if (!old_cert) return std::unexpected(old_cert.error());
    auto row = impl.issue(X509_get_subject_name(old_cert->get()), *csr, now);
    if (!row) return std::unexpected(row.error());
    row->subject_key = old->subject_key;
    row->kind = old->kind;
    row->medium = request.medium;
    row->state = CertState::active;
    row->changed_at = now;
    if (auto inserted = impl.insert(*row); !inserted) return std::unexpected(inserted.error());
    retired.superseded_by = row->serial;
    if (auto linked = impl.update_state(retired); !linked) return std::unexpected(linked.error());
    if (auto hooked = impl.hook("reissue:after-issue"); !hooked) return std::unexpected(hooked.error());
    return IssuedCertificate{status_of(*row, now), row->certificate_pem, retired.serial, std::nullopt};
  });
}

Result<CertificateStatus> LocalCa::status(std::string_view serial) {
  std::lock_guard lock(impl_->mutex);
  auto row = impl_->require(serial);
  if (!row) return std::unexpected(row.error());
  return status_of(*row, impl_->now());
}

Result<DownloadedCertificate> LocalCa::download_soft(std::string_view reference, std::string_view code,
                                                     std::string_view csr_text) {
  auto csr = parse_csr(csr_text);
  if (!csr) return std::unexpected(csr.error());
  const std::string typed_code = normalised_id(code);  // the investor may type lower case
  const std::string csr_sha256 = sha256_hex_of(csr->der);
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mutex);
  if (auto begun = impl.exec("BEGIN IMMEDIATE"); !begun) return std::unexpected(begun.error());
  // Refusals that change something (an attempt counted, a reservation lapsed) are committed.
  auto refuse = [&](bool keep_changes, const char* error_code, std::string message) -> Result<DownloadedCertificate> {
    if (!keep_changes || !impl.exec("COMMIT")) (void)impl.exec("ROLLBACK");
    log::info("softcert_download_refused", {{"code", error_code}});
    return fail(error_code, std::move(message));
  };
  auto storage_error = [&](Error error) -> Result<DownloadedCertificate> {
    (void)impl.exec("ROLLBACK");
    return std::unexpected(std::move(error));
  };
  constexpr const char* kInvalid = "SOFTCERT_CODE_INVALID";
  const std::string invalid_message = "the reference number or the authorisation code is not right";
  const std::int64_t now = impl.now();

  auto grant = impl.find_grant("reference", reference);
  if (!grant) return storage_error(grant.error());
  const std::string offered = impl.code_hash_of(reference, typed_code);
  if (!*grant) {
    // Same work as a known reference, so timing does not tell references apart.
    const std::string decoy(offered.size(), '0');
    (void)CRYPTO_memcmp(offered.data(), decoy.data(), offered.size());
    return refuse(false, kInvalid, invalid_message);
  }
  const Impl::Grant& held = **grant;
  if (impl.locked(held)) {
    if (auto lapsed = impl.lapse(held.serial, now); !lapsed) return storage_error(lapsed.error());
    return refuse(true, "SOFTCERT_LOCKED",
                  "too many wrong codes were tried; ask at a branch or the operator for a new soft certificate");
  }
  const bool code_right = offered.size() == held.code_hash.size() &&
                          CRYPTO_memcmp(offered.data(), held.code_hash.data(), offered.size()) == 0;
  if (!code_right) {
    if (held.downloaded_at != 0) return refuse(false, kInvalid, invalid_message);
    auto counted =
        impl.prepare("UPDATE ca_soft_downloads SET failed_attempts = failed_attempts + 1 WHERE reference = ?");
    if (!counted) return storage_error(counted.error());
    sqlite3_bind_text(counted->handle, 1, held.reference.c_str(), -1, SQLITE_TRANSIENT);
    if (auto done = impl.step_done(*counted); !done) return storage_error(done.error());
    if (held.failed_attempts + 1 >= impl.options.profile.soft_download_max_attempts) {
      if (auto lapsed = impl.lapse(held.serial, now); !lapsed) return storage_error(lapsed.error());
    }
    return refuse(true, kInvalid, invalid_message);
  }
  auto row = impl.require(held.serial);
  if (!row) return storage_error(row.error());
  if (held.downloaded_at != 0) {
    // A lost answer must not strand the investor: the same request again gets the same certificate.
    if (held.csr_sha256 != csr_sha256) {
      return refuse(false, "SOFTCERT_ALREADY_DOWNLOADED",
                    "this soft certificate was already downloaded, for another key");
    }
    (void)impl.exec("ROLLBACK");
    return DownloadedCertificate{status_of(*row, now), row->certificate_pem, impl.chain_pem()};
  }
  if (now >= held.expires_at || row->state != CertState::pending_download) {
    if (auto lapsed = impl.lapse(held.serial, now); !lapsed) return storage_error(lapsed.error());
    return refuse(true, "SOFTCERT_EXPIRED",
                  "the download period has passed; ask at a branch or the operator for a new soft certificate");
  }
  const auto* der = reinterpret_cast<const unsigned char*>(held.subject_der.data());
  NamePtr name(d2i_X509_NAME(nullptr, &der, static_cast<long>(held.subject_der.size())));
  if (!name) return storage_error(Error{"CA_STORAGE_FAILED", "the reserved subject name is unreadable"});
  auto issued = impl.issue(name.get(), *csr, now, held.serial);
  if (!issued) return storage_error(issued.error());
  CertRow active = *row;
  active.state = CertState::active;  // REQ-31: the download makes it active
  active.not_before = issued->not_before;
  active.not_after = issued->not_after;
  active.spki_sha256 = issued->spki_sha256;
  active.certificate_pem = issued->certificate_pem;
  active.changed_at = now;
  if (auto stored = impl.store_downloaded(active); !stored) return storage_error(stored.error());
  auto marked = impl.prepare("UPDATE ca_soft_downloads SET downloaded_at = ?, csr_sha256 = ? WHERE reference = ?");
  if (!marked) return storage_error(marked.error());
  sqlite3_bind_int64(marked->handle, 1, now);
  sqlite3_bind_text(marked->handle, 2, csr_sha256.c_str(), -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(marked->handle, 3, held.reference.c_str(), -1, SQLITE_TRANSIENT);
  if (auto done = impl.step_done(*marked); !done) return storage_error(done.error());
  if (auto committed = impl.exec("COMMIT"); !committed) return storage_error(committed.error());
  log::info("softcert_downloaded", {{"serial", active.serial}, {"reference", held.reference}});
  return DownloadedCertificate{status_of(active, now), active.certificate_pem, impl.chain_pem()};
}

Result<std::vector<CertificateStatus>> LocalCa::lookup(const CaSubject& subject) {
  if (!is_printable_id(subject.identity.id_number)) {
    return fail("CA_SUBJECT_INVALID", "the subject needs an ID number (letters, digits, '-')");
  }
  Impl& impl = *impl_;
  const std::string subject_key = impl.subject_key_of(subject);
  const std::string kind(kiosk::to_string(subject.kind));
  std::lock_guard lock(impl.mutex);
  const std::int64_t now = impl.now();
  if (auto begun = impl.exec("BEGIN IMMEDIATE"); !begun) return std::unexpected(begun.error());
  auto abandon = [&](Error error) -> Result<std::vector<CertificateStatus>> {
    (void)impl.exec("ROLLBACK");
    return std::unexpected(std::move(error));
  };
  if (auto lapsed = impl.lapse_subject(subject_key, kind, now); !lapsed) return abandon(lapsed.error());
  const std::string sql = std::string("SELECT ") + kRowColumns +
                          " FROM ca_certificates WHERE subject_key = ? AND kind = ? AND state <> 'revoked' "
                          "ORDER BY not_before DESC, serial";
  std::vector<CertificateStatus> found;
  {
    auto rows = impl.prepare(sql.c_str());
    if (!rows) return abandon(rows.error());
    sqlite3_bind_text(rows->handle, 1, subject_key.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(rows->handle, 2, kind.c_str(), -1, SQLITE_TRANSIENT);
    int rc = 0;
    while ((rc = sqlite3_step(rows->handle)) == SQLITE_ROW) found.push_back(status_of(read_row(rows->handle), now));
    if (rc != SQLITE_DONE) {
      return abandon(Error{"CA_STORAGE_FAILED", std::string("CA index read failed: ") + sqlite3_errmsg(impl.db)});
    }
  }
  if (auto committed = impl.exec("COMMIT"); !committed) return abandon(committed.error());
  return found;
}

Result<std::string> LocalCa::crl_pem(std::chrono::hours next_update) {
  Impl& impl = *impl_;
  std::lock_guard lock(impl.mutex);
  const std::int64_t now = impl.now();
  auto rows = impl.prepare(
      "SELECT serial, state, revocation_reason, changed_at FROM ca_certificates "
      "WHERE state IN ('revoked','frozen') AND certificate_pem <> '' ORDER BY serial");  // lapsed reservations: never
                                                                                         // issued
  if (!rows) return std::unexpected(rows.error());
  CrlPtr crl(X509_CRL_new());
  if (!crl || X509_CRL_set_version(crl.get(), 1) != 1 ||  // v2
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(impl.issuing.get())) != 1) {
    return fail("CA_CRL_FAILED", "cannot start a CRL: " + openssl_error());
  }
  ASN1_TIME* last = ASN1_TIME_set(nullptr, static_cast<time_t>(now));
  ASN1_TIME* next = ASN1_TIME_set(nullptr, static_cast<time_t>(now + next_update.count() * 3600));
  const bool dated = last != nullptr && next != nullptr && X509_CRL_set1_lastUpdate(crl.get(), last) == 1 &&
                     X509_CRL_set1_nextUpdate(crl.get(), next) == 1;
  ASN1_TIME_free(last);
  ASN1_TIME_free(next);
  if (!dated) return fail("CA_CRL_FAILED", "cannot date the CRL: " + openssl_error());

  int rc = 0;
  while ((rc = sqlite3_step(rows->handle)) == SQLITE_ROW) {
    const std::string serial_hex = column_text(rows->handle, 0);
    const bool held = column_text(rows->handle, 1) == "frozen";
    const int reason = held ? CRL_REASON_CERTIFICATE_HOLD : crl_reason_of(column_text(rows->handle, 2));
    X509_REVOKED* entry = X509_REVOKED_new();
    BIGNUM* serial = nullptr;
    ASN1_INTEGER* serial_asn1 = nullptr;
    ASN1_TIME* when = ASN1_TIME_set(nullptr, static_cast<time_t>(sqlite3_column_int64(rows->handle, 3)));
    ASN1_ENUMERATED* code = ASN1_ENUMERATED_new();
    bool ok = entry != nullptr && when != nullptr && code != nullptr && BN_hex2bn(&serial, serial_hex.c_str()) > 0;
    if (ok) serial_asn1 = BN_to_ASN1_INTEGER(serial, nullptr);
    ok = ok && serial_asn1 != nullptr && X509_REVOKED_set_serialNumber(entry, serial_asn1) == 1 &&
         X509_REVOKED_set_revocationDate(entry, when) == 1 && ASN1_ENUMERATED_set(code, reason) == 1 &&
         X509_REVOKED_add1_ext_i2d(entry, NID_crl_reason, code, 0, 0) == 1;
    if (ok && held) {
      // RFC 5280 5.3.2: the hold instruction "reject" (the kiosk cannot call anyone to confirm).
      ASN1_OBJECT* instruction = OBJ_nid2obj(NID_hold_instruction_reject);
      ok = X509_REVOKED_add1_ext_i2d(entry, NID_hold_instruction_code, instruction, 0, 0) == 1;
    }
    if (ok) ok = X509_CRL_add0_revoked(crl.get(), entry) == 1;
    if (!ok) X509_REVOKED_free(entry);
    BN_free(serial);
    ASN1_INTEGER_free(serial_asn1);
    ASN1_TIME_free(when);
    ASN1_ENUMERATED_free(code);
    if (!ok) return fail("CA_CRL_FAILED", "cannot add a CRL entry: " + openssl_error());
  }
  if (rc != SQLITE_DONE)
    return fail("CA_STORAGE_FAILED", std::string("CA index read failed: ") + sqlite3_errmsg(impl.db));
  X509_CRL_sort(crl.get());
  if (X509_CRL_sign(crl.get(), impl.issuing_key.get(), EVP_sha256()) <= 0) {
    return fail("CA_CRL_FAILED", "cannot sign the CRL: " + openssl_error());
  }
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl.get()) != 1) {
    return fail("CA_CRL_FAILED", "cannot encode the CRL: " + openssl_error());
  }
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(size));
}

std::string LocalCa::root_certificate_pem() const { return certificate_pem(impl_->root.get()).value_or(""); }
std::string LocalCa::issuing_certificate_pem() const { return certificate_pem(impl_->issuing.get()).value_or(""); }

}  // namespace kiosk::gateway::ca
