#include "hal/token/token_crypto.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <array>
#include <cstdio>
#include <ctime>
#include <memory>

namespace kiosk::hal::token {
namespace {

template <class T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* pointer) const { Free(pointer); }
};
using BignumPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;
using ParamBuildPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using X509ReqPtr = std::unique_ptr<X509_REQ, Deleter<X509_REQ, X509_REQ_free>>;
using X509NamePtr = std::unique_ptr<X509_NAME, Deleter<X509_NAME, X509_NAME_free>>;
using X509AlgorPtr = std::unique_ptr<X509_ALGOR, Deleter<X509_ALGOR, X509_ALGOR_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;

constexpr std::array<std::uint8_t, 10> kP256Oid{0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};

std::string openssl_reason() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) return "no detail from OpenSSL";
  char text[256];
  ERR_error_string_n(code, text, sizeof text);
  return text;
}

TokenError crypto_error(std::string code, std::string message) {
  return TokenError{Completion::invalid_data, Error{std::move(code), std::move(message)}, std::nullopt};
}

Result<PublicKey> key_from_params(const char* algorithm, OSSL_PARAM_BLD* build) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(build));
  PkeyCtxPtr context(EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !context || EVP_PKEY_fromdata_init(context.get()) != 1 ||
      EVP_PKEY_fromdata(context.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
    return fail("TOKEN_PUBLIC_KEY_INVALID",
                std::string("the token's public key is not a valid ") + algorithm + " key: " + openssl_reason());
  }
  return PublicKey(key, EvpPkeyFree{});
}

bool add_name_field(X509_NAME* name, const char* field, const std::string& value) {
  if (value.empty()) return true;
  return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(value.data()),
                                    static_cast<int>(value.size()), -1, 0) == 1;
}

}  // namespace

Result<std::vector<std::uint8_t>> ecdsa_raw_to_der(std::span<const std::uint8_t> raw) {
  if (raw.empty() || raw.size() % 2 != 0 || raw.size() > 264) {
    return fail("TOKEN_SIGNATURE_INVALID", "an ECDSA signature from the token must be r||s of equal halves, got " +
                                               std::to_string(raw.size()) + " bytes");
  }
  const int half = static_cast<int>(raw.size() / 2);
  BignumPtr r(BN_bin2bn(raw.data(), half, nullptr));
  BignumPtr s(BN_bin2bn(raw.data() + half, half, nullptr));
  EcdsaSigPtr signature(ECDSA_SIG_new());
  if (!r || !s || !signature || ECDSA_SIG_set0(signature.get(), r.get(), s.get()) != 1) {
    return fail("TOKEN_SIGNATURE_INVALID", "cannot hold the ECDSA signature: " + openssl_reason());
  }
  (void)r.release();  // owned by the signature now
  (void)s.release();
  const int length = i2d_ECDSA_SIG(signature.get(), nullptr);
  if (length <= 0) return fail("TOKEN_SIGNATURE_INVALID", "cannot encode the ECDSA signature: " + openssl_reason());
  std::vector<std::uint8_t> der(static_cast<std::size_t>(length));
  unsigned char* out = der.data();
  i2d_ECDSA_SIG(signature.get(), &out);
  return der;
}

std::span<const std::uint8_t> p256_ec_params() { return kP256Oid; }

Result<PublicKey> rsa_public_key(std::span<const std::uint8_t> modulus, std::span<const std::uint8_t> exponent) {
  BignumPtr n(BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr));
  BignumPtr e(BN_bin2bn(exponent.data(), static_cast<int>(exponent.size()), nullptr));
  ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (!n || !e || !build || OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(build.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return fail("TOKEN_PUBLIC_KEY_INVALID", "cannot hold the token's RSA public key: " + openssl_reason());
  }
  return key_from_params("RSA", build.get());
}

Result<PublicKey> ec_p256_public_key(std::span<const std::uint8_t> ec_point) {
  std::vector<std::uint8_t> point(ec_point.begin(), ec_point.end());
  const unsigned char* in = ec_point.data();
  OctetPtr octets(d2i_ASN1_OCTET_STRING(nullptr, &in, static_cast<long>(ec_point.size())));
  if (octets && in == ec_point.data() + ec_point.size()) {
    const unsigned char* data = ASN1_STRING_get0_data(octets.get());
    point.assign(data, data + ASN1_STRING_length(octets.get()));
  }
  ERR_clear_error();
  ParamBuildPtr build(OSSL_PARAM_BLD_new());
  if (!build || OSSL_PARAM_BLD_push_utf8_string(build.get(), OSSL_PKEY_PARAM_GROUP_NAME, SN_X9_62_prime256v1, 0) != 1 ||
      OSSL_PARAM_BLD_push_octet_string(build.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
    return fail("TOKEN_PUBLIC_KEY_INVALID", "cannot hold the token's EC public key: " + openssl_reason());
  }
  return key_from_params("EC", build.get());
}

TokenResult<CertificateRequest> build_signed_request(KeyType type, EVP_PKEY* public_key, const SubjectName& subject,
                                                     const TbsSigner& signer) {
  X509ReqPtr request(X509_REQ_new());
  X509NamePtr name(X509_NAME_new());
  if (!request || !name) return std::unexpected(crypto_error("TOKEN_CSR_BUILD_FAILED", "out of memory"));
  const bool name_ok =
      add_name_field(name.get(), "C", subject.country) && add_name_field(name.get(), "ST", subject.province) &&
      add_name_field(name.get(), "L", subject.locality) && add_name_field(name.get(), "O", subject.organization) &&
      add_name_field(name.get(), "OU", subject.organizational_unit) &&
      add_name_field(name.get(), "CN", subject.common_name) &&
      add_name_field(name.get(), "serialNumber", subject.serial_number);
  if (!name_ok || X509_NAME_entry_count(name.get()) == 0) {
    // The subject's values are personal data: the message names no value.
    return std::unexpected(crypto_error("TOKEN_CSR_BAD_SUBJECT",
                                        "the request subject is empty or a field is "
                                        "invalid (for example a country code that is not 2 "
                                        "letters)"));
  }
  if (X509_REQ_set_version(request.get(), 0) != 1 || X509_REQ_set_subject_name(request.get(), name.get()) != 1 ||
      X509_REQ_set_pubkey(request.get(), public_key) != 1) {
    return std::unexpected(crypto_error("TOKEN_CSR_BUILD_FAILED", "cannot build the request: " + openssl_reason()));
  }

  X509AlgorPtr algorithm(X509_ALGOR_new());
  const bool is_rsa = type == KeyType::rsa_2048;
  // RFC 4055 puts NULL parameters on sha256WithRSAEncryption; RFC 5758 leaves them out for ECDSA.
  if (!algorithm ||
      X509_ALGOR_set0(algorithm.get(), OBJ_nid2obj(is_rsa ? NID_sha256WithRSAEncryption : NID_ecdsa_with_SHA256),
                      is_rsa ? V_ASN1_NULL : V_ASN1_UNDEF, nullptr) != 1 ||
      X509_REQ_set1_signature_algo(request.get(), algorithm.get()) != 1) {
    return std::unexpected(
        crypto_error("TOKEN_CSR_BUILD_FAILED", "cannot set the signature algorithm: " + openssl_reason()));
  }

  unsigned char* tbs = nullptr;
  const int tbs_length = i2d_re_X509_REQ_tbs(request.get(), &tbs);
  if (tbs_length <= 0) {
    return std::unexpected(crypto_error("TOKEN_CSR_BUILD_FAILED", "cannot encode the request: " + openssl_reason()));
  }
  std::vector<std::uint8_t> tbs_bytes(tbs, tbs + tbs_length);
  OPENSSL_free(tbs);

  auto signature = signer(tbs_bytes);
  if (!signature) return std::unexpected(signature.error());

  ASN1_BIT_STRING* bits = ASN1_BIT_STRING_new();
  if (bits == nullptr || ASN1_BIT_STRING_set(bits, signature->data(), static_cast<int>(signature->size())) != 1) {
    ASN1_BIT_STRING_free(bits);
    return std::unexpected(crypto_error("TOKEN_CSR_BUILD_FAILED", "cannot hold the signature"));
  }
  // A signature is whole bytes: say "0 unused bits" explicitly, or OpenSSL would infer them from
  // trailing zero bits of the last byte and encode a different BIT STRING.
  bits->flags &= ~(ASN1_STRING_FLAG_BITS_LEFT | 0x07);
  bits->flags |= ASN1_STRING_FLAG_BITS_LEFT;
  X509_REQ_set0_signature(request.get(), bits);

  if (X509_REQ_verify(request.get(), public_key) != 1) {
    return std::unexpected(
        crypto_error("TOKEN_CSR_VERIFY_FAILED",
                     "the request signed on the token does not verify with its public key: " + openssl_reason()));
  }

  CertificateRequest result;
  const int der_length = i2d_X509_REQ(request.get(), nullptr);
  if (der_length <= 0) {
    return std::unexpected(crypto_error("TOKEN_CSR_BUILD_FAILED", "cannot encode the request: " + openssl_reason()));
  }
  result.der.resize(static_cast<std::size_t>(der_length));
  unsigned char* out = result.der.data();
  i2d_X509_REQ(request.get(), &out);
  BioPtr pem(BIO_new(BIO_s_mem()));
  if (!pem || PEM_write_bio_X509_REQ(pem.get(), request.get()) != 1) {
    return std::unexpected(crypto_error("TOKEN_CSR_BUILD_FAILED", "cannot write the request as PEM"));
  }
  char* pem_data = nullptr;
  const long pem_length = BIO_get_mem_data(pem.get(), &pem_data);
  result.pem.assign(pem_data, static_cast<std::size_t>(pem_length));
  return result;
}

Result<TokenCertificate> describe_certificate(std::span<const std::uint8_t> der) {
  const unsigned char* in = der.data();
  X509Ptr certificate(d2i_X509(nullptr, &in, static_cast<long>(der.size())));
  if (!certificate || in != der.data() + der.size()) {
    ERR_clear_error();
    return fail("TOKEN_CERT_INVALID", "the certificate is not a single DER X.509 certificate");
  }
  TokenCertificate described;
  described.der.assign(der.begin(), der.end());

  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(certificate.get()), nullptr));
  if (serial) {
    char* hex = BN_bn2hex(serial.get());
    described.serial_hex = hex != nullptr ? hex : "";
    OPENSSL_free(hex);
  }

  BioPtr subject(BIO_new(BIO_s_mem()));
  if (subject && X509_NAME_print_ex(subject.get(), X509_get_subject_name(certificate.get()), 0,
                                    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0) {
    char* data = nullptr;
    const long length = BIO_get_mem_data(subject.get(), &data);
    described.subject.assign(data, static_cast<std::size_t>(length));
  }

  std::tm not_after{};
  if (ASN1_TIME_to_tm(X509_get0_notAfter(certificate.get()), &not_after) != 1) {
    return fail("TOKEN_CERT_INVALID", "the certificate's notAfter time does not parse");
  }
  char iso[96];  // room for any int the compiler imagines, so no truncation warning
  std::snprintf(iso, sizeof iso, "%04d-%02d-%02dT%02d:%02d:%02dZ", not_after.tm_year + 1900, not_after.tm_mon + 1,
                not_after.tm_mday, not_after.tm_hour, not_after.tm_min, not_after.tm_sec);
  described.not_after = iso;
  return described;
}

}  // namespace kiosk::hal::token
