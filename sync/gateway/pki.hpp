// Development PKI of the gateway (created with OpenSSL on first run) and the certificate helpers
// it is built from. The production PKI is CSDC's / the broker's CA; this one exists so that one
// machine can run kiosk, gateway and tests with real mutual TLS.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/error.hpp"
#include "kiosk/core/openssl_handles.hpp"

namespace kiosk::gateway {

using KeyPtr = openssl::Key;
using CertPtr = openssl::Certificate;

inline constexpr std::string_view kDevCaName = "CSDC Kiosk Dev CA";

// Writes to a temporary name in the same directory, fsyncs, renames over `file` and fsyncs the
// directory, so a crash leaves either the old or the new file, never a torn one.
Result<void> write_file_atomically(const std::filesystem::path& file, std::string_view contents, mode_t mode);

std::string hex_encode(const unsigned char* data, std::size_t size);
// `size` cryptographically random bytes, hex encoded.
Result<std::string> random_hex(std::size_t size);

Result<KeyPtr> generate_p256_key();

// receipt_signer: the head-office key that signs evidence receipts (extended key usage
// 1.3.6.1.4.1.99999.1.1, sync/package/receipt.hpp), never a TLS certificate.
enum class CertProfile { certificate_authority, tls_server, tls_client, receipt_signer };

struct CertSpec {
  std::string common_name;
  CertProfile profile = CertProfile::tls_client;
  std::vector<std::string> subject_alt_names;    // "DNS:localhost", "IP:127.0.0.1"
  std::chrono::seconds not_before_offset{-300};  // relative to now; a little slack for clock skew
  std::chrono::seconds not_after_offset{std::chrono::hours(24 * 365)};
};

// Issues a certificate for `subject_key`. With a null issuer the certificate is self-signed.
Result<CertPtr> issue_certificate(const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer_cert, EVP_PKEY* issuer_key);

Result<std::string> private_key_pem(EVP_PKEY* key);
Result<std::string> certificate_pem(X509* cert);
Result<CertPtr> load_certificate(const std::filesystem::path& file);
Result<KeyPtr> load_private_key(const std::filesystem::path& file);

std::string certificate_common_name(X509* cert);
std::string certificate_serial_hex(X509* cert);
std::string certificate_sha256_hex(X509* cert);
std::int64_t certificate_not_after_unix(X509* cert);
// Checks that `cert` chains to `ca` and is within its validity period (CERT_NOT_TRUSTED otherwise).
Result<void> verify_certificate(X509* cert, X509* ca);

struct DevPkiPaths {
  std::filesystem::path dir;
  std::filesystem::path ca_cert;
  std::filesystem::path ca_key;
  std::filesystem::path server_cert;
  std::filesystem::path server_key;
};

DevPkiPaths dev_pki_paths(const std::filesystem::path& data_dir);
// Creates DATA/pki with the dev CA and the server certificate when it does not exist yet; checks an
// existing one (PKI_NOT_DEV when it is not the development CA, PKI_BROKEN when files are missing).
// `created` tells the caller whether it was made now.
Result<DevPkiPaths> ensure_dev_pki(const std::filesystem::path& data_dir, bool& created);

struct EnrolledDevice {
  std::string device_id;
  std::string serial_hex;
  std::string fingerprint_sha256;
  std::int64_t not_after_unix = 0;
};

// Device ids appear in certificates and file names: letters, digits, '.', '_', '-'; 1..64 characters.
bool is_valid_device_id(std::string_view device_id);

// Development enrolment: key + client certificate (CN = device id) signed by the dev CA, written
// as OUT/device.key (0600), OUT/device.crt and OUT/ca.crt.
Result<EnrolledDevice> enrol_dev_device(const DevPkiPaths& pki, std::string_view device_id,
                                        const std::filesystem::path& out_dir);

// The key and certificate that sign evidence receipts: DATA/pki/receipt.key (0600) and
// DATA/pki/receipt.crt. Loaded when both exist (production puts the signer its CA issued there);
// otherwise, on a development data directory, issued now by the dev CA (CN "CSDC Kiosk Dev Receipt
// Signer", 825 days). RECEIPT_SIGNER_UNAVAILABLE when only one of the files exists, when they do not
// match, or when there is neither a signer nor a dev CA to issue one.
struct ReceiptSigner {
  KeyPtr key;
  CertPtr certificate;
};
Result<ReceiptSigner> ensure_receipt_signer(const std::filesystem::path& data_dir);

}  // namespace kiosk::gateway
