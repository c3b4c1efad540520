// The OpenSSL side of the token driver: public keys from PKCS#11 attributes, ECDSA signature
// encoding, the PKCS#10 request around an external signer, and certificate description. Nothing here
// touches a token, so it is unit-tested without one.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "hal/token/token_driver.hpp"

namespace kiosk::hal::token {

// PKCS#11 CKM_ECDSA returns r||s, each half the length; X.509 wants the DER ECDSA-Sig-Value.
// TOKEN_SIGNATURE_INVALID for an empty or odd-length input.
Result<std::vector<std::uint8_t>> ecdsa_raw_to_der(std::span<const std::uint8_t> raw);

// DER of the OID prime256v1, the CKA_EC_PARAMS of a P-256 key.
std::span<const std::uint8_t> p256_ec_params();

Result<PublicKey> rsa_public_key(std::span<const std::uint8_t> modulus, std::span<const std::uint8_t> exponent);
// `ec_point` is CKA_EC_POINT: a DER OCTET STRING around the uncompressed point (PKCS#11 v2.40), or the
// bare point, which some modules return.
Result<PublicKey> ec_p256_public_key(std::span<const std::uint8_t> ec_point);

// Signs the request's to-be-signed bytes and returns the signature as X.509 carries it: a PKCS#1 v1.5
// block for RSA, a DER ECDSA-Sig-Value for EC (both over SHA-256).
using TbsSigner = std::function<TokenResult<std::vector<std::uint8_t>>(std::span<const std::uint8_t> tbs)>;

// Builds the request (version 1, subject, public key), signs it through `signer`, and verifies the
// signature with the public key before returning it (TOKEN_CSR_VERIFY_FAILED otherwise).
TokenResult<CertificateRequest> build_signed_request(KeyType type, EVP_PKEY* public_key, const SubjectName& subject,
                                                     const TbsSigner& signer);

// Serial, subject and expiry of a DER certificate (TOKEN_CERT_INVALID when it does not parse).
Result<TokenCertificate> describe_certificate(std::span<const std::uint8_t> der);

}  // namespace kiosk::hal::token
