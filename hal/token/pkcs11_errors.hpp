// One table maps each PKCS#11 return value (CKR_*) to its name, a completion and a stable error code,
// so every driver call reports a failure the same way: "C_Login: CKR_PIN_INCORRECT (0xa0)".
#pragma once

#include <string_view>

#include "hal/token/token_driver.hpp"

namespace kiosk::hal::token {

// "CKR_PIN_INCORRECT"; "CKR_VENDOR_DEFINED+0x..." or "CKR_UNKNOWN" for values not in the table.
std::string_view ckr_name(unsigned long rv);
Completion completion_for_ckr(unsigned long rv);
// The stable error code: TOKEN_PIN_INCORRECT, TOKEN_PIN_LOCKED, TOKEN_NOT_PRESENT, ... or TOKEN_CALL_FAILED.
std::string_view error_code_for_ckr(unsigned long rv);
// The error for a failed `function` call: its code from the table, the CKR name and value in the message.
TokenError ckr_error(std::string_view function, unsigned long rv);

}  // namespace kiosk::hal::token
