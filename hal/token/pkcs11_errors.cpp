#include "hal/token/pkcs11_errors.hpp"

#include <p11-kit/pkcs11.h>

#include <array>
#include <cstdio>
#include <string>

namespace kiosk::hal::token {
namespace {

struct CkrRow {
  unsigned long rv;
  std::string_view name;
  Completion completion;
  std::string_view code;
};

using C = Completion;

// The return values a token module gives in practice (PKCS#11 v2.40 §5.1); anything else is a call failure.
constexpr std::array kCkrTable{
    CkrRow{CKR_OK, "CKR_OK", C::success, "TOKEN_OK"},
    CkrRow{CKR_CANCEL, "CKR_CANCEL", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_HOST_MEMORY, "CKR_HOST_MEMORY", C::hardware_error, "TOKEN_DEVICE_ERROR"},
    CkrRow{CKR_SLOT_ID_INVALID, "CKR_SLOT_ID_INVALID", C::no_media, "TOKEN_NOT_PRESENT"},
    CkrRow{CKR_GENERAL_ERROR, "CKR_GENERAL_ERROR", C::hardware_error, "TOKEN_DEVICE_ERROR"},
    CkrRow{CKR_FUNCTION_FAILED, "CKR_FUNCTION_FAILED", C::hardware_error, "TOKEN_DEVICE_ERROR"},
    CkrRow{CKR_ARGUMENTS_BAD, "CKR_ARGUMENTS_BAD", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_ATTRIBUTE_READ_ONLY, "CKR_ATTRIBUTE_READ_ONLY", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_ATTRIBUTE_SENSITIVE, "CKR_ATTRIBUTE_SENSITIVE", C::refused, "TOKEN_ATTRIBUTE_SENSITIVE"},
    CkrRow{CKR_ATTRIBUTE_TYPE_INVALID, "CKR_ATTRIBUTE_TYPE_INVALID", C::unsupported, "TOKEN_ATTRIBUTE_UNSUPPORTED"},
    CkrRow{CKR_ATTRIBUTE_VALUE_INVALID, "CKR_ATTRIBUTE_VALUE_INVALID", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_DATA_INVALID, "CKR_DATA_INVALID", C::invalid_data, "TOKEN_DATA_INVALID"},
    CkrRow{CKR_DATA_LEN_RANGE, "CKR_DATA_LEN_RANGE", C::invalid_data, "TOKEN_DATA_INVALID"},
    CkrRow{CKR_DEVICE_ERROR, "CKR_DEVICE_ERROR", C::hardware_error, "TOKEN_DEVICE_ERROR"},
    CkrRow{CKR_DEVICE_MEMORY, "CKR_DEVICE_MEMORY", C::hardware_error, "TOKEN_DEVICE_FULL"},
    CkrRow{CKR_DEVICE_REMOVED, "CKR_DEVICE_REMOVED", C::no_media, "TOKEN_NOT_PRESENT"},
    CkrRow{CKR_FUNCTION_CANCELED, "CKR_FUNCTION_CANCELED", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_FUNCTION_NOT_SUPPORTED, "CKR_FUNCTION_NOT_SUPPORTED", C::unsupported, "TOKEN_UNSUPPORTED"},
    CkrRow{CKR_KEY_HANDLE_INVALID, "CKR_KEY_HANDLE_INVALID", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_KEY_SIZE_RANGE, "CKR_KEY_SIZE_RANGE", C::unsupported, "TOKEN_UNSUPPORTED"},
    CkrRow{CKR_KEY_TYPE_INCONSISTENT, "CKR_KEY_TYPE_INCONSISTENT", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_KEY_FUNCTION_NOT_PERMITTED, "CKR_KEY_FUNCTION_NOT_PERMITTED", C::refused, "TOKEN_KEY_NOT_PERMITTED"},
    CkrRow{CKR_KEY_NOT_WRAPPABLE, "CKR_KEY_NOT_WRAPPABLE", C::refused, "TOKEN_KEY_NOT_PERMITTED"},
    CkrRow{CKR_KEY_UNEXTRACTABLE, "CKR_KEY_UNEXTRACTABLE", C::refused, "TOKEN_KEY_NOT_PERMITTED"},
    CkrRow{CKR_MECHANISM_INVALID, "CKR_MECHANISM_INVALID", C::unsupported, "TOKEN_MECHANISM_UNSUPPORTED"},
    CkrRow{CKR_MECHANISM_PARAM_INVALID, "CKR_MECHANISM_PARAM_INVALID", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_OBJECT_HANDLE_INVALID, "CKR_OBJECT_HANDLE_INVALID", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_OPERATION_ACTIVE, "CKR_OPERATION_ACTIVE", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_OPERATION_NOT_INITIALIZED, "CKR_OPERATION_NOT_INITIALIZED", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_PIN_INCORRECT, "CKR_PIN_INCORRECT", C::pin_incorrect, "TOKEN_PIN_INCORRECT"},
    CkrRow{CKR_PIN_INVALID, "CKR_PIN_INVALID", C::pin_invalid, "TOKEN_PIN_INVALID"},
    CkrRow{CKR_PIN_LEN_RANGE, "CKR_PIN_LEN_RANGE", C::pin_invalid, "TOKEN_PIN_INVALID"},
    CkrRow{CKR_PIN_EXPIRED, "CKR_PIN_EXPIRED", C::pin_invalid, "TOKEN_PIN_EXPIRED"},
    CkrRow{CKR_PIN_LOCKED, "CKR_PIN_LOCKED", C::pin_locked, "TOKEN_PIN_LOCKED"},
    CkrRow{CKR_SESSION_CLOSED, "CKR_SESSION_CLOSED", C::no_media, "TOKEN_NOT_PRESENT"},
    CkrRow{CKR_SESSION_COUNT, "CKR_SESSION_COUNT", C::device_not_ready, "TOKEN_BUSY"},
    CkrRow{CKR_SESSION_HANDLE_INVALID, "CKR_SESSION_HANDLE_INVALID", C::no_media, "TOKEN_NOT_PRESENT"},
    CkrRow{CKR_SESSION_PARALLEL_NOT_SUPPORTED, "CKR_SESSION_PARALLEL_NOT_SUPPORTED", C::internal_error,
           "TOKEN_CALL_FAILED"},
    CkrRow{CKR_SESSION_READ_ONLY, "CKR_SESSION_READ_ONLY", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_SESSION_EXISTS, "CKR_SESSION_EXISTS", C::device_not_ready, "TOKEN_BUSY"},
    CkrRow{CKR_SESSION_READ_ONLY_EXISTS, "CKR_SESSION_READ_ONLY_EXISTS", C::device_not_ready, "TOKEN_BUSY"},
    CkrRow{CKR_SESSION_READ_WRITE_SO_EXISTS, "CKR_SESSION_READ_WRITE_SO_EXISTS", C::device_not_ready, "TOKEN_BUSY"},
    CkrRow{CKR_SIGNATURE_INVALID, "CKR_SIGNATURE_INVALID", C::invalid_data, "TOKEN_DATA_INVALID"},
    CkrRow{CKR_TEMPLATE_INCOMPLETE, "CKR_TEMPLATE_INCOMPLETE", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_TEMPLATE_INCONSISTENT, "CKR_TEMPLATE_INCONSISTENT", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_TOKEN_NOT_PRESENT, "CKR_TOKEN_NOT_PRESENT", C::no_media, "TOKEN_NOT_PRESENT"},
    CkrRow{CKR_TOKEN_NOT_RECOGNIZED, "CKR_TOKEN_NOT_RECOGNIZED", C::unsupported, "TOKEN_NOT_RECOGNIZED"},
    CkrRow{CKR_TOKEN_WRITE_PROTECTED, "CKR_TOKEN_WRITE_PROTECTED", C::refused, "TOKEN_WRITE_PROTECTED"},
    CkrRow{CKR_USER_ALREADY_LOGGED_IN, "CKR_USER_ALREADY_LOGGED_IN", C::internal_error, "TOKEN_ALREADY_LOGGED_IN"},
    CkrRow{CKR_USER_NOT_LOGGED_IN, "CKR_USER_NOT_LOGGED_IN", C::not_logged_in, "TOKEN_NOT_LOGGED_IN"},
    CkrRow{CKR_USER_PIN_NOT_INITIALIZED, "CKR_USER_PIN_NOT_INITIALIZED", C::pin_invalid, "TOKEN_PIN_NOT_SET"},
    CkrRow{CKR_USER_TYPE_INVALID, "CKR_USER_TYPE_INVALID", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "CKR_USER_ANOTHER_ALREADY_LOGGED_IN", C::device_not_ready, "TOKEN_BUSY"},
    CkrRow{CKR_USER_TOO_MANY_TYPES, "CKR_USER_TOO_MANY_TYPES", C::device_not_ready, "TOKEN_BUSY"},
    CkrRow{CKR_WRAPPED_KEY_INVALID, "CKR_WRAPPED_KEY_INVALID", C::invalid_data, "TOKEN_DATA_INVALID"},
    CkrRow{CKR_WRAPPING_KEY_HANDLE_INVALID, "CKR_WRAPPING_KEY_HANDLE_INVALID", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_RANDOM_NO_RNG, "CKR_RANDOM_NO_RNG", C::unsupported, "TOKEN_UNSUPPORTED"},
    CkrRow{CKR_DOMAIN_PARAMS_INVALID, "CKR_DOMAIN_PARAMS_INVALID", C::unsupported, "TOKEN_UNSUPPORTED"},
    CkrRow{CKR_BUFFER_TOO_SMALL, "CKR_BUFFER_TOO_SMALL", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_CRYPTOKI_NOT_INITIALIZED, "CKR_CRYPTOKI_NOT_INITIALIZED", C::device_not_ready, "TOKEN_MODULE_INIT"},
    CkrRow{CKR_CRYPTOKI_ALREADY_INITIALIZED, "CKR_CRYPTOKI_ALREADY_INITIALIZED", C::device_not_ready,
           "TOKEN_MODULE_INIT"},
    CkrRow{CKR_MUTEX_BAD, "CKR_MUTEX_BAD", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_MUTEX_NOT_LOCKED, "CKR_MUTEX_NOT_LOCKED", C::internal_error, "TOKEN_CALL_FAILED"},
    CkrRow{CKR_NEED_TO_CREATE_THREADS, "CKR_NEED_TO_CREATE_THREADS", C::device_not_ready, "TOKEN_MODULE_INIT"},
    CkrRow{CKR_CANT_LOCK, "CKR_CANT_LOCK", C::device_not_ready, "TOKEN_MODULE_INIT"},
};

const CkrRow* find_row(unsigned long rv) {
  for (const CkrRow& row : kCkrTable) {
    if (row.rv == rv) return &row;
  }
  return nullptr;
}

}  // namespace

std::string_view ckr_name(unsigned long rv) {
  if (const CkrRow* row = find_row(rv)) return row->name;
  return rv >= CKR_VENDOR_DEFINED ? "CKR_VENDOR_DEFINED" : "CKR_UNKNOWN";
}

Completion completion_for_ckr(unsigned long rv) {
  if (const CkrRow* row = find_row(rv)) return row->completion;
  return Completion::hardware_error;  // an unknown value comes from the module, not from our call
}

std::string_view error_code_for_ckr(unsigned long rv) {
  if (const CkrRow* row = find_row(rv)) return row->code;
  return "TOKEN_CALL_FAILED";
}

TokenError ckr_error(std::string_view function, unsigned long rv) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "0x%lx", rv);
  return TokenError{completion_for_ckr(rv),
                    Error{std::string(error_code_for_ckr(rv)),
                          std::string(function) + ": " + std::string(ckr_name(rv)) + " (" + hex + ")"},
                    rv};
}

}  // namespace kiosk::hal::token
