// Recipient key wrapping. The algorithm follows the recipient key: RSA (OAEP, SHA-256 and
// MGF1-SHA-256; at least 2048 bits) or EC P-256 (ephemeral-static ECDH, HKDF-SHA-256, AES-256-GCM).
// See FORMAT.md, "Wrapped keys".
#include "sync/package/recipients.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <array>
#include <cstring>
#include <memory>

#include "kiosk/core/openssl_handles.hpp"

namespace kiosk::sync::package {

namespace {

using PkeyContext = std::unique_ptr<EVP_PKEY_CTX, openssl::Free<EVP_PKEY_CTX_free>>;
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, openssl::Free<EVP_CIPHER_CTX_free>>;
using KdfContext = std::unique_ptr<EVP_KDF_CTX, openssl::Free<EVP_KDF_CTX_free>>;
using Kdf = std::unique_ptr<EVP_KDF, openssl::Free<EVP_KDF_free>>;

constexpr std::size_t kPointBytes = 65;  // uncompressed P-256 point: 0x04 || X || Y
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kEcdhWrappedBytes = kPointBytes + kNonceBytes + kKeyBytes + kTagBytes;
constexpr char kWrapInfo[] = "csdc-evidence-wrap v1";

// Secrets on the stack are wiped when they go out of scope.
template <std::size_t N>
struct Secret {
  std::array<std::uint8_t, N> bytes{};
  ~Secret() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
};

Error crypto_error(const char* what) {
  return Error{"PACKAGE_CRYPTO_FAILED", std::string("OpenSSL failed to ") + what};
}

enum class KeyKind { rsa, ec_p256, unsupported };

KeyKind kind_of(EVP_PKEY* key, std::string& why) {
  if (key == nullptr) {
    why = "no recipient key was given";
    return KeyKind::unsupported;
  }
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) < 2048) {
      why = "RSA recipient keys must have at least 2048 bits";
      return KeyKind::unsupported;
    }
    return KeyKind::rsa;
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    std::array<char, 64> group{};
    std::size_t length = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group.data(), group.size(), &length) == 1 &&
        std::strcmp(group.data(), "prime256v1") == 0) {
      return KeyKind::ec_p256;
    }
    why = "EC recipient keys must be on P-256";
    return KeyKind::unsupported;
  }
  why = "recipient keys must be RSA (>= 2048 bits) or EC P-256";
  return KeyKind::unsupported;
}

Result<void> hkdf_sha256(std::span<const std::uint8_t> secret, std::span<const std::uint8_t> salt,
                         std::span<std::uint8_t> out) {
  const Kdf kdf(EVP_KDF_fetch(nullptr, "HKDF", nullptr));
  if (!kdf) return std::unexpected(crypto_error("fetch HKDF"));
  const KdfContext context(EVP_KDF_CTX_new(kdf.get()));
  if (!context) return std::unexpected(crypto_error("create the HKDF context"));
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<std::uint8_t*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, const_cast<std::uint8_t*>(salt.data()), salt.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, const_cast<char*>(kWrapInfo), sizeof kWrapInfo - 1),
      OSSL_PARAM_construct_end(),
  };
  if (EVP_KDF_derive(context.get(), out.data(), out.size(), params) != 1) {
    return std::unexpected(crypto_error("derive the wrapping key"));
  }
  return {};
}

Result<void> ecdh(EVP_PKEY* own_private, EVP_PKEY* peer_public, Secret<32>& shared) {
  const PkeyContext context(EVP_PKEY_CTX_new_from_pkey(nullptr, own_private, nullptr));
  std::size_t length = shared.bytes.size();
  if (!context || EVP_PKEY_derive_init(context.get()) != 1 ||
      EVP_PKEY_derive_set_peer(context.get(), peer_public) != 1 ||
      EVP_PKEY_derive(context.get(), shared.bytes.data(), &length) != 1 || length != shared.bytes.size()) {
    return std::unexpected(crypto_error("agree an ECDH secret"));
  }
  return {};
}

Result<std::vector<std::uint8_t>> wrap_rsa(const DataKey& key, EVP_PKEY* recipient) {
  const PkeyContext context(EVP_PKEY_CTX_new_from_pkey(nullptr, recipient, nullptr));
  if (!context || EVP_PKEY_encrypt_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(context.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(context.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(context.get(), EVP_sha256()) != 1) {
    return std::unexpected(crypto_error("set up RSA-OAEP"));
  }
  std::size_t length = 0;
  if (EVP_PKEY_encrypt(context.get(), nullptr, &length, key.bytes.data(), key.bytes.size()) != 1) {
    return std::unexpected(crypto_error("size the RSA-OAEP output"));
  }
  std::vector<std::uint8_t> data(length);
  if (EVP_PKEY_encrypt(context.get(), data.data(), &length, key.bytes.data(), key.bytes.size()) != 1) {
    return std::unexpected(crypto_error("encrypt the data key with RSA-OAEP"));
  }
  data.resize(length);
  return data;
}

Result<DataKey> unwrap_rsa(std::span<const std::uint8_t> data, EVP_PKEY* recipient) {
  const PkeyContext context(EVP_PKEY_CTX_new_from_pkey(nullptr, recipient, nullptr));
  if (!context || EVP_PKEY_decrypt_init(context.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(context.get(), RSA_PKCS1_OAEP_PADDING) != 1 ||
      EVP_PKEY_CTX_set_rsa_oaep_md(context.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_CTX_set_rsa_mgf1_md(context.get(), EVP_sha256()) != 1) {
    return std::unexpected(crypto_error("set up RSA-OAEP"));
  }
  std::size_t length = 0;
  if (EVP_PKEY_decrypt(context.get(), nullptr, &length, data.data(), data.size()) != 1) {
    return fail("PACKAGE_KEY_UNWRAP_FAILED", "the RSA-OAEP wrapped key is malformed");
  }
  std::vector<std::uint8_t> plain(length);
  const bool ok =
      EVP_PKEY_decrypt(context.get(), plain.data(), &length, data.data(), data.size()) == 1 && length == kKeyBytes;
  DataKey key{};
  if (ok) std::memcpy(key.bytes.data(), plain.data(), kKeyBytes);
  OPENSSL_cleanse(plain.data(), plain.size());
  if (!ok) {
    return fail("PACKAGE_KEY_UNWRAP_FAILED",
                "the RSA-OAEP wrapped key does not decrypt with this recipient key (altered, or "
                "wrapped for another key)");
  }
  return key;
}

Result<std::vector<std::uint8_t>> wrap_ecdh(const DataKey& key, EVP_PKEY* recipient) {
  const openssl::Key ephemeral(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  if (!ephemeral) return std::unexpected(crypto_error("generate an ephemeral P-256 key"));
  std::vector<std::uint8_t> data(kEcdhWrappedBytes);
  std::size_t point_length = 0;
  if (EVP_PKEY_get_octet_string_param(ephemeral.get(), OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, data.data(), kPointBytes,
                                      &point_length) != 1 ||
      point_length != kPointBytes || data[0] != 0x04) {
    return std::unexpected(crypto_error("encode the ephemeral public point"));
  }
  Secret<32> shared;
  if (auto agreed = ecdh(ephemeral.get(), recipient, shared); !agreed) {
    return std::unexpected(agreed.error());
  }
  Secret<32> wrapping_key;
  if (auto derived = hkdf_sha256(shared.bytes, std::span(data.data(), kPointBytes), wrapping_key.bytes); !derived) {
    return std::unexpected(derived.error());
  }
  std::uint8_t* nonce = data.data() + kPointBytes;
  std::uint8_t* ciphertext = nonce + kNonceBytes;
  std::uint8_t* tag = ciphertext + kKeyBytes;
  if (RAND_bytes(nonce, static_cast<int>(kNonceBytes)) != 1) {
    return std::unexpected(crypto_error("draw a wrapping nonce"));
  }
  const CipherContext context(EVP_CIPHER_CTX_new());
  int written = 0;
  int tail = 0;
  if (!context ||
      EVP_EncryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, wrapping_key.bytes.data(), nonce) != 1 ||
      EVP_EncryptUpdate(context.get(), ciphertext, &written, key.bytes.data(), static_cast<int>(kKeyBytes)) != 1 ||
      EVP_EncryptFinal_ex(context.get(), ciphertext + written, &tail) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, tag) != 1) {
    return std::unexpected(crypto_error("encrypt the data key with AES-256-GCM"));
  }
  return data;
}

Result<DataKey> unwrap_ecdh(std::span<const std::uint8_t> data, EVP_PKEY* recipient) {
  if (data.size() != kEcdhWrappedBytes || data[0] != 0x04) {
    return fail("PACKAGE_KEY_UNWRAP_FAILED", "the ECDH wrapped key is not " + std::to_string(kEcdhWrappedBytes) +
                                                 " bytes starting with an uncompressed point");
  }
  // The ephemeral point as a key; fromdata checks that it lies on the curve.
  char group[] = "prime256v1";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, const_cast<std::uint8_t*>(data.data()), kPointBytes),
      OSSL_PARAM_construct_end(),
  };
  const PkeyContext from_data(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* raw_point = nullptr;
  if (!from_data || EVP_PKEY_fromdata_init(from_data.get()) != 1 ||
      EVP_PKEY_fromdata(from_data.get(), &raw_point, EVP_PKEY_PUBLIC_KEY, const_cast<OSSL_PARAM*>(params)) != 1) {
    return fail("PACKAGE_KEY_UNWRAP_FAILED", "the ephemeral point of the wrapped key is invalid");
  }
  const openssl::Key ephemeral(raw_point);
  const PkeyContext check(EVP_PKEY_CTX_new_from_pkey(nullptr, ephemeral.get(), nullptr));
  if (!check || EVP_PKEY_public_check(check.get()) != 1) {
    return fail("PACKAGE_KEY_UNWRAP_FAILED", "the ephemeral point of the wrapped key is not on P-256");
  }

  Secret<32> shared;
  if (auto agreed = ecdh(recipient, ephemeral.get(), shared); !agreed) {
    return std::unexpected(agreed.error());
  }
  Secret<32> wrapping_key;
  if (auto derived = hkdf_sha256(shared.bytes, data.first(kPointBytes), wrapping_key.bytes); !derived) {
    return std::unexpected(derived.error());
  }
  const std::uint8_t* nonce = data.data() + kPointBytes;
  const std::uint8_t* ciphertext = nonce + kNonceBytes;
  const std::uint8_t* tag = ciphertext + kKeyBytes;
  DataKey key{};
  const CipherContext context(EVP_CIPHER_CTX_new());
  int written = 0;
  int tail = 0;
  if (!context ||
      EVP_DecryptInit_ex(context.get(), EVP_aes_256_gcm(), nullptr, wrapping_key.bytes.data(), nonce) != 1 ||
      EVP_DecryptUpdate(context.get(), key.bytes.data(), &written, ciphertext, static_cast<int>(kKeyBytes)) != 1 ||
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, const_cast<std::uint8_t*>(tag)) != 1) {
    return std::unexpected(crypto_error("set up AES-256-GCM unwrapping"));
  }
  if (EVP_DecryptFinal_ex(context.get(), key.bytes.data() + written, &tail) != 1) {
    OPENSSL_cleanse(key.bytes.data(), key.bytes.size());
    return fail("PACKAGE_KEY_UNWRAP_FAILED",
                "the ECDH wrapped key failed authentication (altered, or wrapped for another key)");
  }
  return key;
}

}  // namespace

std::string recipient_id_of(EVP_PKEY* public_key) {
  if (public_key == nullptr) return {};
  unsigned char* der = nullptr;
  const int length = i2d_PUBKEY(public_key, &der);
  if (length <= 0) return {};
  std::array<std::uint8_t, 32> digest{};
  unsigned int digest_length = 0;
  const bool ok =
      EVP_Digest(der, static_cast<std::size_t>(length), digest.data(), &digest_length, EVP_sha256(), nullptr) == 1;
  OPENSSL_free(der);
  if (!ok) return {};
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (unsigned int i = 0; i < digest_length; ++i) {
    text.push_back(kDigits[digest[i] >> 4]);
    text.push_back(kDigits[digest[i] & 0x0f]);
  }
  return text;
}

Result<WrappedKey> wrap_data_key(const DataKey& key, EVP_PKEY* recipient_public_key) {
  std::string why;
  const KeyKind kind = kind_of(recipient_public_key, why);
  if (kind == KeyKind::unsupported) return fail("PACKAGE_KEY_UNSUPPORTED", why);
  WrappedKey wrapped;
  wrapped.recipient_id = recipient_id_of(recipient_public_key);
  if (wrapped.recipient_id.empty()) {
    return std::unexpected(crypto_error("encode the recipient public key"));
  }
  auto data = kind == KeyKind::rsa ? wrap_rsa(key, recipient_public_key) : wrap_ecdh(key, recipient_public_key);
  if (!data) return std::unexpected(data.error());
  wrapped.algorithm =
      kind == KeyKind::rsa ? WrapAlgorithm::rsa_oaep_sha256 : WrapAlgorithm::ecdh_p256_hkdf_sha256_aes256gcm;
  wrapped.data = std::move(*data);
  return wrapped;
}

Result<DataKey> unwrap_data_key(const WrappedKey& wrapped, EVP_PKEY* recipient_private_key) {
  std::string why;
  const KeyKind kind = kind_of(recipient_private_key, why);
  if (kind == KeyKind::unsupported) return fail("PACKAGE_KEY_UNSUPPORTED", why);
  if (recipient_id_of(recipient_private_key) != wrapped.recipient_id) {
    return fail("PACKAGE_WRONG_RECIPIENT",
                "the data key was wrapped for recipient " + wrapped.recipient_id + ", not for the key given");
  }
  const bool algorithm_matches =
      (kind == KeyKind::rsa && wrapped.algorithm == WrapAlgorithm::rsa_oaep_sha256) ||
      (kind == KeyKind::ec_p256 && wrapped.algorithm == WrapAlgorithm::ecdh_p256_hkdf_sha256_aes256gcm);
  if (!algorithm_matches) {
    return fail("PACKAGE_KEY_UNWRAP_FAILED", "the wrap algorithm does not match the recipient key type");
  }
  return kind == KeyKind::rsa ? unwrap_rsa(wrapped.data, recipient_private_key)
                              : unwrap_ecdh(wrapped.data, recipient_private_key);
}

}  // namespace kiosk::sync::package
