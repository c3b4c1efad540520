#include "hal/token/token_driver.hpp"

#include <openssl/crypto.h>

namespace kiosk::hal::token {

std::string_view to_string(Completion completion) {
  switch (completion) {
    case Completion::success: return "success";
    case Completion::no_media: return "noMedia";
    case Completion::pin_incorrect: return "pinIncorrect";
    case Completion::pin_locked: return "pinLocked";
    case Completion::pin_invalid: return "pinInvalid";
    case Completion::not_logged_in: return "notLoggedIn";
    case Completion::unsupported: return "unsupported";
    case Completion::refused: return "refused";
    case Completion::device_not_ready: return "deviceNotReady";
    case Completion::hardware_error: return "hardwareError";
    case Completion::invalid_data: return "invalidData";
    case Completion::internal_error: return "internalError";
  }
  return "internalError";
}

std::string_view to_string(KeyType type) { return type == KeyType::rsa_2048 ? "RSA-2048" : "EC-P256"; }

void wipe(std::string& secret) {
  OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

}  // namespace kiosk::hal::token
