// A SoftHSM2 token in a private directory: writes softhsm2.conf, points SOFTHSM2_CONF at it for this
// process, and can initialise a token with softhsm2-util. Shared by the token tests and the benchmark.
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "hal/token/pkcs11_driver.hpp"

namespace kiosk::hal::token::testing {

inline constexpr const char* kUserPin = "123456";
inline constexpr const char* kSoPin = "12345678";

class SoftHsmDir {
 public:
  // Creates <base>/<unique>/tokens and the config; sets SOFTHSM2_CONF. Call before loading the module.
  explicit SoftHsmDir(const std::filesystem::path& base);
  ~SoftHsmDir();
  // softhsm2-util --init-token --free --label <label> with kUserPin/kSoPin; false if it failed.
  bool init_token(const std::string& label) const;
  [[nodiscard]] const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

// The slot whose token has this label, or nullopt.
std::optional<SlotId> slot_with_label(TokenDriver& driver, const std::string& label);

// A throwaway CA that signs a certificate for a request (DER in, DER out).
class ThrowawayCa {
 public:
  ThrowawayCa();
  ~ThrowawayCa();
  std::vector<std::uint8_t> issue(const std::vector<std::uint8_t>& request_der, long serial) const;

 private:
  EVP_PKEY* key_;
  X509* certificate_;
};

}  // namespace kiosk::hal::token::testing
