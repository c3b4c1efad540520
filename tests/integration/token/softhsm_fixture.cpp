#include "softhsm_fixture.hpp"

#include <openssl/x509v3.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <fstream>

namespace kiosk::hal::token::testing {

SoftHsmDir::SoftHsmDir(const std::filesystem::path& base) {
  static std::atomic<int> counter{0};
  dir_ = base / ("softhsm-" + std::to_string(getpid()) + "-" + std::to_string(counter++));
  std::filesystem::remove_all(dir_);
  std::filesystem::create_directories(dir_ / "tokens");
  std::ofstream(dir_ / "softhsm2.conf") << "directories.tokendir = " << (dir_ / "tokens").string()
                                        << "\nobjectstore.backend = file\nlog.level = ERROR\n";
  setenv("SOFTHSM2_CONF", (dir_ / "softhsm2.conf").c_str(), 1);
}

SoftHsmDir::~SoftHsmDir() {
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

bool SoftHsmDir::init_token(const std::string& label) const {
  const std::string command = std::string(SOFTHSM2_UTIL) + " --init-token --free --label " + label + " --so-pin " +
                              kSoPin + " --pin " + kUserPin + " > /dev/null";
  return std::system(command.c_str()) == 0;
}

std::optional<SlotId> slot_with_label(TokenDriver& driver, const std::string& label) {
  auto slots = driver.slots_with_token();
  if (!slots) return std::nullopt;
  for (const SlotId slot : *slots) {
    auto info = driver.token_info(slot);
    if (info && info->label == label) return slot;
  }
  return std::nullopt;
}

ThrowawayCa::ThrowawayCa() : key_(EVP_EC_gen("P-256")), certificate_(X509_new()) {
  X509_set_version(certificate_, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate_), 1);
  X509_NAME* name = X509_get_subject_name(certificate_);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("Throwaway test CA"), -1,
                             -1, 0);
  X509_set_issuer_name(certificate_, name);
  X509_gmtime_adj(X509_getm_notBefore(certificate_), 0);
  X509_gmtime_adj(X509_getm_notAfter(certificate_), 3600L * 24 * 30);
  X509_set_pubkey(certificate_, key_);
  X509_sign(certificate_, key_, EVP_sha256());
}

ThrowawayCa::~ThrowawayCa() {
  X509_free(certificate_);
  EVP_PKEY_free(key_);
}

std::vector<std::uint8_t> ThrowawayCa::issue(const std::vector<std::uint8_t>& request_der, long serial) const {
  const unsigned char* in = request_der.data();
  X509_REQ* request = d2i_X509_REQ(nullptr, &in, static_cast<long>(request_der.size()));
  if (request == nullptr) return {};
  X509* certificate = X509_new();
  X509_set_version(certificate, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(certificate), serial);
  X509_set_subject_name(certificate, X509_REQ_get_subject_name(request));
  X509_set_issuer_name(certificate, X509_get_subject_name(certificate_));
  X509_gmtime_adj(X509_getm_notBefore(certificate), 0);
  X509_gmtime_adj(X509_getm_notAfter(certificate), 3600L * 24 * 365);
  EVP_PKEY* public_key = X509_REQ_get0_pubkey(request);
  X509_set_pubkey(certificate, public_key);
  X509_sign(certificate, key_, EVP_sha256());
  std::vector<std::uint8_t> der(static_cast<std::size_t>(i2d_X509(certificate, nullptr)));
  unsigned char* out = der.data();
  i2d_X509(certificate, &out);
  X509_free(certificate);
  X509_REQ_free(request);
  return der;
}

}  // namespace kiosk::hal::token::testing
