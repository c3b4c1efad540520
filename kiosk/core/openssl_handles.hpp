// Owning handles for OpenSSL objects: one deleter template for every type, instead of a deleter
// struct per type in every file that touches OpenSSL.
#pragma once

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <memory>

namespace kiosk::openssl {

template <auto FreeFunction>
struct Free {
  template <class T>
  void operator()(T* object) const {
    FreeFunction(object);
  }
};

// A stack of certificates owns its certificates too.
struct CertificateStackFree {
  void operator()(STACK_OF(X509) * stack) const { sk_X509_pop_free(stack, X509_free); }
};

using Bio = std::unique_ptr<BIO, Free<BIO_free>>;
using Key = std::unique_ptr<EVP_PKEY, Free<EVP_PKEY_free>>;
using MdContext = std::unique_ptr<EVP_MD_CTX, Free<EVP_MD_CTX_free>>;
using Certificate = std::unique_ptr<X509, Free<X509_free>>;
using CertificateRequest = std::unique_ptr<X509_REQ, Free<X509_REQ_free>>;
using Crl = std::unique_ptr<X509_CRL, Free<X509_CRL_free>>;
using Name = std::unique_ptr<X509_NAME, Free<X509_NAME_free>>;
using Store = std::unique_ptr<X509_STORE, Free<X509_STORE_free>>;
using StoreContext = std::unique_ptr<X509_STORE_CTX, Free<X509_STORE_CTX_free>>;
using Pkcs12 = std::unique_ptr<PKCS12, Free<PKCS12_free>>;
using CertificateStack = std::unique_ptr<STACK_OF(X509), CertificateStackFree>;

}  // namespace kiosk::openssl
