#include "kiosk/core/policy/pack_signature.hpp"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cctype>
#include <memory>
#include <optional>
#include <vector>

#include "kiosk/core/openssl_handles.hpp"

namespace kiosk::policy {

namespace {

using BioPtr = openssl::Bio;
using PkeyPtr = openssl::Key;
using MdCtxPtr = openssl::MdContext;

constexpr std::size_t kMaxSignatureText = 4096;  // a P-256 DER signature is at most 72 bytes

BioPtr memory_bio(std::string_view text) { return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size()))); }

// Only P-256 keys are accepted, so a pack cannot be signed with a weaker key by mistake.
bool is_p256(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) return false;
  char group[64] = {};
  std::size_t length = 0;
  if (EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group, &length) != 1) return false;
  return std::string_view(group, length) == "prime256v1";
}

std::string base64_encode(const std::vector<unsigned char>& bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int written =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(), static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(written));
  return out;
}

std::optional<std::vector<unsigned char>> base64_decode(std::string_view text) {
  std::string compact;
  for (const char c : text) {
    if (std::isspace(static_cast<unsigned char>(c)) == 0) compact.push_back(c);
  }
  if (compact.empty() || compact.size() % 4 != 0) return std::nullopt;
  std::vector<unsigned char> out(compact.size() / 4 * 3);
  const int written = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(compact.data()),
                                      static_cast<int>(compact.size()));
  if (written < 0) return std::nullopt;
  std::size_t size = static_cast<std::size_t>(written);
  // EVP_DecodeBlock counts padding as zero bytes; drop them again.
  if (compact.ends_with("==")) {
    size -= 2;
  } else if (compact.ends_with("=")) {
    size -= 1;
  }
  out.resize(size);
  return out;
}

}  // namespace

Result<std::string> sign_detached(std::string_view data, std::string_view private_key_pem) {
  const BioPtr bio = memory_bio(private_key_pem);
  const PkeyPtr key(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    return fail("RULEPACK_BAD_KEY", "the private key is not a readable, unencrypted PEM private key");
  }
  if (!is_p256(key.get())) {
    return fail("RULEPACK_BAD_KEY",
                "the private key is not an ECDSA P-256 (prime256v1) key; rule packs are "
                "signed with the head-office P-256 key only");
  }
  const MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t length = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &length, reinterpret_cast<const unsigned char*>(data.data()), data.size()) !=
          1) {
    return fail("RULEPACK_SIGN_FAILED", "OpenSSL could not prepare the ECDSA signature");
  }
  std::vector<unsigned char> signature(length);
  if (EVP_DigestSign(ctx.get(), signature.data(), &length, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    return fail("RULEPACK_SIGN_FAILED", "OpenSSL could not compute the ECDSA signature");
  }
  signature.resize(length);
  return base64_encode(signature);
}

Result<void> verify_detached(std::string_view data, std::string_view signature_base64,
                             std::string_view public_key_pem) {
  const BioPtr bio = memory_bio(public_key_pem);
  const PkeyPtr key(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!key) {
    return fail("RULEPACK_BAD_KEY",
                "the trusted public key is not a readable PEM public key "
                "(-----BEGIN PUBLIC KEY-----)");
  }
  if (!is_p256(key.get())) {
    return fail("RULEPACK_BAD_KEY", "the trusted public key is not an ECDSA P-256 (prime256v1) key");
  }
  if (signature_base64.size() > kMaxSignatureText) {
    return fail("RULEPACK_BAD_SIGNATURE", "the signature file is far too large to be an ECDSA P-256 signature");
  }
  const auto signature = base64_decode(signature_base64);
  if (!signature) {
    return fail("RULEPACK_BAD_SIGNATURE",
                "the signature file is not base64 text; re-sign the pack with "
                "'kioskctl rulepack sign'");
  }
  const MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1) {
    return fail("RULEPACK_BAD_SIGNATURE", "OpenSSL could not prepare the signature check");
  }
  if (EVP_DigestVerify(ctx.get(), signature->data(), signature->size(),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) != 1) {
    ERR_clear_error();  // leave no stale OpenSSL error behind for the next caller
    return fail("RULEPACK_BAD_SIGNATURE",
                "the signature does not match the pack and the trusted key: the pack was changed after "
                "signing or was signed with another key; get a correctly signed pack from head office");
  }
  return {};
}

}  // namespace kiosk::policy
