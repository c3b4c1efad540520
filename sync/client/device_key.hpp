// The kiosk's device private key, from a PEM file or from a PKCS#11 token (RFC 7512 "pkcs11:" URI,
// through the OpenSSL "pkcs11" engine of libengine-pkcs11-openssl). The key signs evidence manifests
// (EVP_DigestSign) and authenticates the kiosk in mutual TLS.
//
// Codes: DEVICE_KEY_UNREADABLE (no such file, not a private key, the module or engine cannot be
// loaded), DEVICE_KEY_TOKEN_UNAVAILABLE (no token / no such key on it), DEVICE_KEY_PIN_REFUSED.
// The PIN is read from pin_file, handed to the engine and wiped; it is never logged nor put in a message.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "kiosk/core/error.hpp"
#include "kiosk/core/openssl_handles.hpp"

namespace kiosk::sync {

struct DeviceKeySpec {
  std::string key;                      // a PEM file path, or a "pkcs11:" URI
  std::filesystem::path pkcs11_module;  // the PKCS#11 module (.so) for a pkcs11 URI
  std::filesystem::path pin_file;       // holds the token PIN (trailing newline ignored); empty: no login
};

// True when `key` names a token key rather than a file.
bool is_pkcs11_uri(std::string_view key);

Result<openssl::Key> load_device_key(const DeviceKeySpec& spec);

// A client certificate with its device key, loaded once, for TLS stacks that cannot load a token key
// from a name: libcurl installs it through CURLOPT_SSL_CTX_FUNCTION (install_into is that hook's body).
class ClientTlsCredentials {
 public:
  // CLIENT_CERT_UNREADABLE when the certificate cannot be read or does not belong to the key; the key's
  // own codes (DEVICE_KEY_*) otherwise.
  static Result<std::shared_ptr<const ClientTlsCredentials>> load(const std::filesystem::path& cert_file,
                                                                  const DeviceKeySpec& key);
  // `ssl_ctx` is an SSL_CTX*; false when OpenSSL refused the certificate or the key.
  bool install_into(void* ssl_ctx) const;

  ClientTlsCredentials(openssl::Certificate certificate, openssl::Key key)
      : certificate_(std::move(certificate)), key_(std::move(key)) {}

 private:
  openssl::Certificate certificate_;
  openssl::Key key_;
};

}  // namespace kiosk::sync
