#include "sync/gateway/pki.hpp"

#include <fcntl.h>
#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "kiosk/core/openssl_handles.hpp"

namespace kiosk::gateway {
namespace {

using BioPtr = openssl::Bio;

// The most recent OpenSSL error as text, for messages (it names what OpenSSL disliked).
std::string openssl_error() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail from OpenSSL";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

Result<void> fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return fail("STORAGE_WRITE_FAILED", "cannot open directory " + dir.string() + ": " + std::strerror(errno));
  const int result = ::fsync(fd);
  const int saved = errno;
  ::close(fd);
  if (result != 0) return fail("STORAGE_WRITE_FAILED", "cannot fsync " + dir.string() + ": " + std::strerror(saved));
  return {};
}

Result<std::string> bio_to_string(BIO* bio) {
  const std::size_t pending = BIO_ctrl_pending(bio);
  std::string text(pending, '\0');
  std::size_t read = 0;
  if (pending > 0 && BIO_read_ex(bio, text.data(), pending, &read) != 1) {
    return fail("PKI_ENCODE_FAILED", "cannot encode PEM: " + openssl_error());
  }
  text.resize(read);
  return text;
}

Result<void> add_extension(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509_EXTENSION* extension = X509V3_EXT_nconf_nid(nullptr, ctx, nid, value);
  if (extension == nullptr)
    return fail("PKI_CREATE_FAILED", std::string("bad extension ") + value + ": " + openssl_error());
  const int added = X509_add_ext(cert, extension, -1);
  X509_EXTENSION_free(extension);
  if (added != 1) return fail("PKI_CREATE_FAILED", "cannot add certificate extension: " + openssl_error());
  return {};
}

bool file_exists(const std::filesystem::path& file) {
  std::error_code ignored;
  return std::filesystem::exists(file, ignored);
}

Result<void> make_private_dir(const std::filesystem::path& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) return fail("STORAGE_WRITE_FAILED", "cannot create directory " + dir.string() + ": " + error.message());
  return {};
}

}  // namespace

Result<void> write_file_atomically(const std::filesystem::path& file, std::string_view contents, mode_t mode) {
  const std::filesystem::path dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  auto suffix = random_hex(6);
  if (!suffix) return std::unexpected(suffix.error());
  const std::filesystem::path temp = dir / ("." + file.filename().string() + ".tmp-" + *suffix);
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return fail("STORAGE_WRITE_FAILED", "cannot create " + temp.string() + ": " + std::strerror(errno));
  }
  std::size_t written = 0;
  while (written < contents.size()) {
    const ssize_t result = ::write(fd, contents.data() + written, contents.size() - written);
    if (result < 0) {
      if (errno == EINTR) continue;
      const int saved = errno;
      ::close(fd);
      ::unlink(temp.c_str());
      return fail("STORAGE_WRITE_FAILED", "cannot write " + temp.string() + ": " + std::strerror(saved));
    }
    written += static_cast<std::size_t>(result);
  }
  // fchmod because open() applies the umask; keys must end up exactly 0600.
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    const int saved = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return fail("STORAGE_WRITE_FAILED", "cannot sync " + temp.string() + ": " + std::strerror(saved));
  }
  ::close(fd);
  if (::rename(temp.c_str(), file.c_str()) != 0) {
    const int saved = errno;
    ::unlink(temp.c_str());
    return fail("STORAGE_WRITE_FAILED",
                "cannot rename " + temp.string() + " to " + file.string() + ": " + std::strerror(saved));
  }
  return fsync_directory(dir);
}

std::string hex_encode(const unsigned char* data, std::size_t size) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out += digits[data[i] >> 4];
    out += digits[data[i] & 0x0f];
  }
  return out;
}

Result<std::string> random_hex(std::size_t size) {
  std::vector<unsigned char> bytes(size);
  if (RAND_bytes(bytes.data(), static_cast<int>(size)) != 1) {
    return fail("RANDOM_UNAVAILABLE", "the system random generator failed: " + openssl_error());
  }
  return hex_encode(bytes.data(), bytes.size());
}

Result<KeyPtr> generate_p256_key() {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return fail("PKI_CREATE_FAILED", "cannot generate a P-256 key: " + openssl_error());
  return key;
}

Result<CertPtr> issue_certificate(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer_cert,
                                  EVP_PKEY* issuer_key) {
  CertPtr cert(X509_new());
  if (!cert) return fail("PKI_CREATE_FAILED", "out of memory creating a certificate");
  X509_set_version(cert.get(), 2);  // X.509 v3

  // 16 random bytes with the top bit clear: a positive serial that is unique in practice.
  unsigned char serial_bytes[16];
  if (RAND_bytes(serial_bytes, sizeof serial_bytes) != 1) {
    return fail("RANDOM_UNAVAILABLE", "the system random generator failed: " + openssl_error());
  }
  serial_bytes[0] &= 0x7f;
  BIGNUM* serial = BN_bin2bn(serial_bytes, sizeof serial_bytes, nullptr);
  ASN1_INTEGER* serial_asn1 =
      serial != nullptr ? BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(cert.get())) : nullptr;
  BN_free(serial);
  if (serial_asn1 == nullptr) return fail("PKI_CREATE_FAILED", "cannot set serial: " + openssl_error());

  if (X509_time_adj_ex(X509_getm_notBefore(cert.get()), 0, static_cast<long>(spec.not_before_offset.count()),
                       nullptr) == nullptr ||
      X509_time_adj_ex(X509_getm_notAfter(cert.get()), 0, static_cast<long>(spec.not_after_offset.count()), nullptr) ==
          nullptr) {
    return fail("PKI_CREATE_FAILED", "cannot set validity: " + openssl_error());
  }

  X509_NAME* name = X509_get_subject_name(cert.get());
  if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(spec.common_name.c_str()), -1, -1, 0) != 1) {
    return fail("PKI_CREATE_FAILED", "cannot set subject name: " + openssl_error());
  }
  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  EVP_PKEY* signing_key = issuer_cert != nullptr ? issuer_key : subject_key;
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return fail("PKI_CREATE_FAILED", "cannot set issuer or public key: " + openssl_error());
  }

  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert.get(), nullptr, nullptr, 0);
  auto add = [&](int nid, const char* value) { return add_extension(cert.get(), &ctx, nid, value); };
  Result<void> step;
  switch (spec.profile) {
    case CertProfile::certificate_authority:
      step = add(NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
      if (step) step = add(NID_key_usage, "critical,keyCertSign,cRLSign");
      break;
    case CertProfile::tls_server:
      step = add(NID_basic_constraints, "critical,CA:FALSE");
      if (step) step = add(NID_key_usage, "critical,digitalSignature");
      if (step) step = add(NID_ext_key_usage, "serverAuth");
      break;
    case CertProfile::tls_client:
      step = add(NID_basic_constraints, "critical,CA:FALSE");
      if (step) step = add(NID_key_usage, "critical,digitalSignature");
      if (step) step = add(NID_ext_key_usage, "clientAuth");
      break;
    case CertProfile::receipt_signer:
      step = add(NID_basic_constraints, "critical,CA:FALSE");
      if (step) step = add(NID_key_usage, "critical,digitalSignature");
      // "kiosk evidence receipt" (sync/package/receipt.hpp kReceiptSignerEkuOid).
      if (step) step = add(NID_ext_key_usage, "1.3.6.1.4.1.99999.1.1");
      break;
  }
  if (step) step = add(NID_subject_key_identifier, "hash");
  if (step && issuer_cert != nullptr) step = add(NID_authority_key_identifier, "keyid:always");
  if (step && !spec.subject_alt_names.empty()) {
    std::string alt_names;
    for (const auto& entry : spec.subject_alt_names) alt_names += (alt_names.empty() ? "" : ",") + entry;
    step = add(NID_subject_alt_name, alt_names.c_str());
  }
  if (!step) return std::unexpected(step.error());

  if (X509_sign(cert.get(), signing_key, EVP_sha256()) <= 0) {
    return fail("PKI_CREATE_FAILED", "cannot sign certificate: " + openssl_error());
  }
  return cert;
}

Result<std::string> private_key_pem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return fail("PKI_ENCODE_FAILED", "cannot encode private key: " + openssl_error());
  }
  return bio_to_string(bio.get());
}

Result<std::string> certificate_pem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return fail("PKI_ENCODE_FAILED", "cannot encode certificate: " + openssl_error());
  }
  return bio_to_string(bio.get());
}

Result<CertPtr> load_certificate(const std::filesystem::path& file) {
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) return fail("CERT_UNREADABLE", "cannot open certificate " + file.string() + ": " + openssl_error());
  CertPtr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) return fail("CERT_UNREADABLE", file.string() + " is not a PEM certificate: " + openssl_error());
  return cert;
}

Result<KeyPtr> load_private_key(const std::filesystem::path& file) {
  BioPtr bio(BIO_new_file(file.c_str(), "r"));
  if (!bio) return fail("KEY_UNREADABLE", "cannot open private key " + file.string() + ": " + openssl_error());
  KeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return fail("KEY_UNREADABLE", file.string() + " is not a PEM private key: " + openssl_error());
  return key;
}

std::string certificate_common_name(X509* cert) {
  X509_NAME* name = X509_get_subject_name(cert);
  const int index = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (index < 0) return {};
  ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, index));
  unsigned char* utf8 = nullptr;
  const int length = ASN1_STRING_to_UTF8(&utf8, data);
  if (length < 0) return {};
  std::string common_name(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(length));
  OPENSSL_free(utf8);
  return common_name;
}

std::string certificate_serial_hex(X509* cert) {
  BIGNUM* serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
  if (serial == nullptr) return {};
  char* hex = BN_bn2hex(serial);
  BN_free(serial);
  if (hex == nullptr) return {};
  std::string text(hex);
  OPENSSL_free(hex);
  return text;
}

std::string certificate_sha256_hex(X509* cert) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (X509_digest(cert, EVP_sha256(), digest, &length) != 1) return {};
  return hex_encode(digest, length);
}

std::int64_t certificate_not_after_unix(X509* cert) {
  std::tm when{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(cert), &when) != 1) return 0;
  return static_cast<std::int64_t>(timegm(&when));
}

Result<void> verify_certificate(X509* cert, X509* ca) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  Result<void> outcome;
  if (store == nullptr || ctx == nullptr || X509_STORE_add_cert(store, ca) != 1 ||
      X509_STORE_CTX_init(ctx, store, cert, nullptr) != 1) {
    outcome = fail("CERT_NOT_TRUSTED", "cannot set up certificate verification: " + openssl_error());
  } else if (X509_verify_cert(ctx) != 1) {
    outcome = fail("CERT_NOT_TRUSTED", std::string("certificate does not verify against the CA: ") +
                                           X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
  }
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return outcome;
}

DevPkiPaths dev_pki_paths(const std::filesystem::path& data_dir) {
  const auto dir = data_dir / "pki";
  return {dir, dir / "ca.crt", dir / "ca.key", dir / "server.crt", dir / "server.key"};
}

Result<DevPkiPaths> ensure_dev_pki(const std::filesystem::path& data_dir, bool& created) {
  created = false;
  const DevPkiPaths paths = dev_pki_paths(data_dir);
  const bool any = file_exists(paths.ca_cert) || file_exists(paths.ca_key) || file_exists(paths.server_cert) ||
                   file_exists(paths.server_key);
  if (any) {
    for (const auto& file : {paths.ca_cert, paths.ca_key, paths.server_cert, paths.server_key}) {
      if (!file_exists(file)) {
        return fail("PKI_BROKEN", file.string() +
                                      " is missing while other PKI files exist; restore it from backup "
                                      "or move " +
                                      paths.dir.string() + " away to create a new dev PKI");
      }
    }
    auto ca = load_certificate(paths.ca_cert);
    if (!ca) return std::unexpected(ca.error());
    if (certificate_common_name(ca->get()) != kDevCaName) {
      return fail("PKI_NOT_DEV", paths.ca_cert.string() + " is not the development CA \"" + std::string(kDevCaName) +
                                     "\"; development commands only work on a development data directory");
    }
    return paths;
  }

  if (auto made = make_private_dir(paths.dir); !made) return std::unexpected(made.error());
  ::chmod(paths.dir.c_str(), 0700);
  auto ca_key = generate_p256_key();
  if (!ca_key) return std::unexpected(ca_key.error());
  CertSpec ca_spec{std::string(kDevCaName),
                   CertProfile::certificate_authority,
                   {},
                   std::chrono::seconds(-300),
                   std::chrono::hours(24 * 3650)};
  auto ca_cert = issue_certificate(ca_spec, ca_key->get(), nullptr, nullptr);
  if (!ca_cert) return std::unexpected(ca_cert.error());

  auto server_key = generate_p256_key();
  if (!server_key) return std::unexpected(server_key.error());
  CertSpec server_spec{"localhost",
                       CertProfile::tls_server,
                       {"DNS:localhost", "IP:127.0.0.1"},
                       std::chrono::seconds(-300),
                       std::chrono::hours(24 * 825)};
  auto server_cert = issue_certificate(server_spec, server_key->get(), ca_cert->get(), ca_key->get());
  if (!server_cert) return std::unexpected(server_cert.error());

  // Keys first and the CA certificate last: the CA certificate is what marks the PKI as complete.
  struct Output {
    const std::filesystem::path& file;
    Result<std::string> pem;
    mode_t mode;
  };
  Output outputs[] = {{paths.ca_key, private_key_pem(ca_key->get()), 0600},
                      {paths.server_key, private_key_pem(server_key->get()), 0600},
                      {paths.server_cert, certificate_pem(server_cert->get()), 0644},
                      {paths.ca_cert, certificate_pem(ca_cert->get()), 0644}};
  for (auto& output : outputs) {
    if (!output.pem) return std::unexpected(output.pem.error());
    if (auto written = write_file_atomically(output.file, *output.pem, output.mode); !written) {
      return std::unexpected(written.error());
    }
  }
  created = true;
  return paths;
}

bool is_valid_device_id(std::string_view device_id) {
  if (device_id.empty() || device_id.size() > 64) return false;
  for (const char c : device_id) {
    const bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return device_id.front() != '.';
}

Result<EnrolledDevice> enrol_dev_device(const DevPkiPaths& pki, std::string_view device_id,
                                        const std::filesystem::path& out_dir) {
  if (!is_valid_device_id(device_id)) {
    return fail("DEVICE_ID_INVALID", "device id \"" + std::string(device_id) +
                                         "\" must be 1-64 letters, digits, '.', '_' or '-' (for example SIM-0001)");
  }
  auto ca_cert = load_certificate(pki.ca_cert);
  if (!ca_cert) return std::unexpected(ca_cert.error());
  auto ca_key = load_private_key(pki.ca_key);
  if (!ca_key) return std::unexpected(ca_key.error());
  auto device_key = generate_p256_key();
  if (!device_key) return std::unexpected(device_key.error());
  CertSpec spec{
      std::string(device_id), CertProfile::tls_client, {}, std::chrono::seconds(-300), std::chrono::hours(24 * 365)};
  auto device_cert = issue_certificate(spec, device_key->get(), ca_cert->get(), ca_key->get());
  if (!device_cert) return std::unexpected(device_cert.error());

  if (auto made = make_private_dir(out_dir); !made) return std::unexpected(made.error());
  auto key_pem = private_key_pem(device_key->get());
  auto cert_pem = certificate_pem(device_cert->get());
  auto ca_pem = certificate_pem(ca_cert->get());
  if (!key_pem) return std::unexpected(key_pem.error());
  if (!cert_pem) return std::unexpected(cert_pem.error());
  if (!ca_pem) return std::unexpected(ca_pem.error());
  if (auto w = write_file_atomically(out_dir / "device.key", *key_pem, 0600); !w) return std::unexpected(w.error());
  if (auto w = write_file_atomically(out_dir / "device.crt", *cert_pem, 0644); !w) return std::unexpected(w.error());
  if (auto w = write_file_atomically(out_dir / "ca.crt", *ca_pem, 0644); !w) return std::unexpected(w.error());

  return EnrolledDevice{std::string(device_id), certificate_serial_hex(device_cert->get()),
                        certificate_sha256_hex(device_cert->get()), certificate_not_after_unix(device_cert->get())};
}

Result<ReceiptSigner> ensure_receipt_signer(const std::filesystem::path& data_dir) {
  const DevPkiPaths pki = dev_pki_paths(data_dir);
  const auto key_file = pki.dir / "receipt.key";
  const auto cert_file = pki.dir / "receipt.crt";
  const bool have_key = file_exists(key_file);
  const bool have_cert = file_exists(cert_file);
  if (have_key != have_cert) {
    return fail("RECEIPT_SIGNER_UNAVAILABLE", (have_key ? cert_file : key_file).string() +
                                                  " is missing while its pair exists; restore it or remove both");
  }
  if (have_key) {
    auto key = load_private_key(key_file);
    if (!key) return fail("RECEIPT_SIGNER_UNAVAILABLE", key.error().message);
    auto cert = load_certificate(cert_file);
    if (!cert) return fail("RECEIPT_SIGNER_UNAVAILABLE", cert.error().message);
    if (X509_check_private_key(cert->get(), key->get()) != 1) {
      ERR_clear_error();
      return fail("RECEIPT_SIGNER_UNAVAILABLE", key_file.string() + " does not match " + cert_file.string());
    }
    return ReceiptSigner{std::move(*key), std::move(*cert)};
  }
  if (!file_exists(pki.ca_cert) || !file_exists(pki.ca_key)) {
    return fail("RECEIPT_SIGNER_UNAVAILABLE",
                "no receipt signer in " + pki.dir.string() + " (receipt.key, receipt.crt) and no dev CA to issue one");
  }
  auto ca_cert = load_certificate(pki.ca_cert);
  if (!ca_cert) return std::unexpected(ca_cert.error());
  auto ca_key = load_private_key(pki.ca_key);
  if (!ca_key) return std::unexpected(ca_key.error());
  auto key = generate_p256_key();
  if (!key) return std::unexpected(key.error());
  CertSpec spec{"CSDC Kiosk Dev Receipt Signer",
                CertProfile::receipt_signer,
                {},
                std::chrono::seconds(-300),
                std::chrono::hours(24 * 825)};
  auto cert = issue_certificate(spec, key->get(), ca_cert->get(), ca_key->get());
  if (!cert) return std::unexpected(cert.error());
  auto key_pem = private_key_pem(key->get());
  auto cert_pem = certificate_pem(cert->get());
  if (!key_pem) return std::unexpected(key_pem.error());
  if (!cert_pem) return std::unexpected(cert_pem.error());
  // Key first: the certificate marks the pair complete.
  if (auto w = write_file_atomically(key_file, *key_pem, 0600); !w) return std::unexpected(w.error());
  if (auto w = write_file_atomically(cert_file, *cert_pem, 0644); !w) return std::unexpected(w.error());
  return ReceiptSigner{std::move(*key), std::move(*cert)};
}

}  // namespace kiosk::gateway
