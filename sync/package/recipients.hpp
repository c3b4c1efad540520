// Wrapping the per-package data key for each head-office recipient (RSA-OAEP-SHA256 or
// ephemeral-static ECDH on P-256). The byte layout is specified in FORMAT.md, "Wrapped keys".
#pragma once

#include "kiosk/core/error.hpp"
#include "sync/package/stream_cipher.hpp"

#include <openssl/evp.h>

#include <cstdint>
#include <string>
#include <vector>

namespace kiosk::sync::package {

enum class WrapAlgorithm { rsa_oaep_sha256, ecdh_p256_hkdf_sha256_aes256gcm };

struct WrappedKey {
  std::string recipient_id;  // recipient_id_of() of the key it was wrapped for
  WrapAlgorithm algorithm;
  std::vector<std::uint8_t> data;
};

// The algorithm follows the key type: RSA (>= 2048 bits) or EC P-256; anything else is refused.
Result<WrappedKey> wrap_data_key(const DataKey& key, EVP_PKEY* recipient_public_key);
Result<DataKey> unwrap_data_key(const WrappedKey& wrapped, EVP_PKEY* recipient_private_key);

// Lowercase hex SHA-256 of the public key's SubjectPublicKeyInfo DER; empty if it cannot be
// encoded.
std::string recipient_id_of(EVP_PKEY* public_key);

}  // namespace kiosk::sync::package
