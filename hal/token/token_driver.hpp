// The token interface the kiosk drives: slots, token info, PIN, on-token key pairs, a PKCS#10
// request signed on the token, certificate import and read-back. Shaped like hal/idcard: every call
// ends in one completion from a closed set, with a stable error code. PKCS#11 is the first driver
// (pkcs11_driver.hpp); an SKF (GM/T 0016) driver can implement the same interface later, so nothing
// here names a PKCS#11 type.
//
// PINs are passed as `std::string&` on purpose: the driver wipes the caller's string after use, so
// a PIN lives in exactly one buffer for as short a time as possible. PINs are never logged and never
// appear in an error message.
//
// Not thread-safe: one owner (the kiosk's device thread, or kioskctl) issues calls one by one.
#pragma once

#include <openssl/evp.h>

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/core/error.hpp"

namespace kiosk::hal::token {

// Completion codes (XFS4IoT style), the subset a token can produce.
enum class Completion {
  success,
  no_media,          // no token in the slot, or it was pulled out
  pin_incorrect,     // wrong PIN; the token counts the try
  pin_locked,        // the PIN is blocked: the reissue path follows
  pin_invalid,       // a PIN the token refuses by form (length, characters)
  not_logged_in,     // the call needs a login first
  unsupported,       // the token lacks a mechanism or feature we need
  refused,           // the token did something our policy refuses (an exportable key, a bad certificate)
  device_not_ready,  // the module cannot be loaded or initialised, or the token is busy
  hardware_error,    // the token or its module reported a device failure
  invalid_data,      // data from or for the token failed its checks
  internal_error,    // the module rejected a call the driver built: a driver bug
};
std::string_view to_string(Completion completion);

struct TokenError {
  Completion completion = Completion::internal_error;
  Error error;                       // stable code (TOKEN_*) and a message for staff
  std::optional<unsigned long> ckr;  // the module's raw return value, when it sent one
};
template <class T>
using TokenResult = std::expected<T, TokenError>;

using SlotId = std::uint64_t;

// The user PIN's state, from the token's CKF_USER_PIN_* flags.
struct PinState {
  bool initialized = false;    // a user PIN has been set (CKF_USER_PIN_INITIALIZED)
  bool count_low = false;      // at least one wrong PIN since the last good one
  bool final_try = false;      // one more wrong PIN locks it
  bool locked = false;         // blocked: only the SO can unblock, the kiosk goes to reissue
  bool to_be_changed = false;  // the token asks for a new PIN
};

struct TokenInfo {
  SlotId slot = 0;
  // The fixed-width, space-padded fields of the token, trimmed.
  std::string label;
  std::string manufacturer;
  std::string model;
  std::string serial;
  unsigned long flags = 0;
  bool token_initialized = false;
  PinState user_pin;
  unsigned long min_pin_length = 0;
  unsigned long max_pin_length = 0;
};

enum class KeyType { rsa_2048, ec_p256 };
std::string_view to_string(KeyType type);

struct EvpPkeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using PublicKey = std::shared_ptr<EVP_PKEY>;

// A key pair that lives on the token; only its public half is here.
struct TokenKey {
  KeyType type = KeyType::ec_p256;
  std::vector<std::uint8_t> id;  // CKA_ID (16 random bytes), shared by the key pair and its certificate
  std::string label;
  PublicKey public_key;
};

// The subject of a certificate request. Empty fields are left out.
struct SubjectName {
  std::string country;              // C
  std::string province;             // ST
  std::string locality;             // L
  std::string organization;         // O
  std::string organizational_unit;  // OU
  std::string common_name;          // CN
  std::string serial_number;        // serialNumber (the subject's ID, as the CA profile wants it)
};

struct CertificateRequest {
  std::vector<std::uint8_t> der;
  std::string pem;
};

// A certificate found on the token.
struct TokenCertificate {
  std::vector<std::uint8_t> id;  // CKA_ID, the same as its key pair's
  std::string label;
  std::vector<std::uint8_t> der;  // CKA_VALUE, byte-identical to what was imported
  std::string serial_hex;         // upper-case hex, no separators
  std::string subject;            // RFC 2253 form
  std::string not_after;          // ISO 8601 UTC, e.g. 2027-11-24T12:00:00Z
};

// A logged-in (or not yet logged-in) read-write session on one token.
class TokenSession {
 public:
  virtual ~TokenSession() = default;

  virtual TokenResult<void> login_user(std::string& pin) = 0;
  virtual TokenResult<void> login_security_officer(std::string& so_pin) = 0;
  virtual TokenResult<void> logout() = 0;
  // The investor changes their own PIN (logged in as user, or not logged in on tokens that allow it).
  virtual TokenResult<void> change_pin(std::string& old_pin, std::string& new_pin) = 0;
  // First PIN of a fresh token: needs login_security_officer() first. Engineer and test paths only.
  virtual TokenResult<void> init_user_pin(std::string& new_pin) = 0;

  // Generates the key pair on the token and verifies the private key cannot leave it
  // (TOKEN_KEY_EXTRACTABLE otherwise, and the key pair is destroyed).
  virtual TokenResult<TokenKey> generate_key_pair(KeyType type, std::string_view label) = 0;
  // A PKCS#10 request for `key`, signed on the token and verified before it is returned.
  virtual TokenResult<CertificateRequest> sign_request(const TokenKey& key, const SubjectName& subject) = 0;
  virtual TokenResult<void> import_certificate(std::span<const std::uint8_t> key_id, std::span<const std::uint8_t> der,
                                               std::string_view label) = 0;
  virtual TokenResult<std::vector<TokenCertificate>> read_certificates() = 0;
};

class TokenDriver {
 public:
  virtual ~TokenDriver() = default;

  virtual TokenResult<std::vector<SlotId>> slots_with_token() = 0;
  virtual TokenResult<TokenInfo> token_info(SlotId slot) = 0;
  // Initialises (erases) the token in `slot` with a new SO PIN and label. Engineer and test paths only.
  virtual TokenResult<void> init_token(SlotId slot, std::string& so_pin, std::string_view label) = 0;
  virtual TokenResult<std::unique_ptr<TokenSession>> open_session(SlotId slot) = 0;
};

// Wipes a secret in place (not optimised away) and empties the string.
void wipe(std::string& secret);

}  // namespace kiosk::hal::token
