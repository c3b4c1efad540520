// Detached signatures of rule packs: ECDSA P-256 over SHA-256 of the exact file bytes, written as
// one line of base64 text in `<pack>.sig`. Head office signs; kiosks verify against the PEM public
// key they were provisioned with (REQ-02).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "kiosk/core/error.hpp"

namespace kiosk::policy {

// A PEM P-256 key is a few hundred bytes; anything past this is not a key file.
inline constexpr std::size_t kMaxKeyFileBytes = 16 * 1024;

// Signs `data` with a PEM private key (P-256). Returns the base64 signature without a newline.
// RULEPACK_BAD_KEY when the key cannot be read or is not a P-256 key, RULEPACK_SIGN_FAILED otherwise.
Result<std::string> sign_detached(std::string_view data, std::string_view private_key_pem);

// Verifies a base64 signature (surrounding whitespace ignored) over `data` with a PEM public key.
// RULEPACK_BAD_KEY for an unusable key, RULEPACK_BAD_SIGNATURE when the signature does not match.
Result<void> verify_detached(std::string_view data, std::string_view signature_base64, std::string_view public_key_pem);

}  // namespace kiosk::policy
