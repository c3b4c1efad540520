// PKCS#10 requests made in memory for the CA tests (the kiosk's requests come from a token).
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

namespace kiosk::testing {

// A PEM request for `key`, signed by `signer` (a different key gives a bad signature), with
// subject CN `common_name` when given.
inline std::string test_csr_pem(EVP_PKEY* key, EVP_PKEY* signer = nullptr, const char* common_name = nullptr) {
  X509_REQ* request = X509_REQ_new();
  if (common_name != nullptr) {
    X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(request), "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  }
  X509_REQ_set_pubkey(request, key);
  X509_REQ_sign(request, signer != nullptr ? signer : key, EVP_sha256());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509_REQ(bio, request);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(size));
  BIO_free(bio);
  X509_REQ_free(request);
  return pem;
}

// A request for a fresh EC P-256 key.
inline std::string new_ec_csr_pem() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), &EVP_PKEY_free);
  return test_csr_pem(key.get());
}

}  // namespace kiosk::testing
