// libFuzzer target: the kiosk's parsers of the gateway's CA answers (sync/client/ca_client). Every
// input is either CA_REPLY_INVALID or an answer that keeps the parsers' promises: serials are
// 1-40 hex digits, states and media from the closed sets, an issued PEM that converts to DER.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sync/client/ca_client.hpp"

namespace {

bool hex_serial(std::string_view text) {
  return !text.empty() && text.size() <= 40 &&
         std::all_of(text.begin(), text.end(), [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); });
}

void check(const kiosk::sync::CertificateState& state) {
  if (!hex_serial(state.serial)) __builtin_trap();
  if (state.medium != "hard" && state.medium != "soft") __builtin_trap();
  if (state.not_after.size() != 20 || state.not_before.size() != 20) __builtin_trap();
}

template <class T>
bool refused_properly(const kiosk::Result<T>& result) {
  if (result) return false;
  if (result.error().code != "CA_REPLY_INVALID") __builtin_trap();
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  using namespace kiosk::sync;
  if (const auto state = parse_status_reply(input); !refused_properly(state)) check(*state);
  if (const auto issued = parse_issued_reply(input); !refused_properly(issued)) {
    check(issued->certificate);
    if (!certificate_pem_to_der(issued->certificate_pem)) __builtin_trap();
    if (!issued->retired_serial.empty() && !hex_serial(issued->retired_serial)) __builtin_trap();
  }
  if (const auto grant = parse_soft_apply_reply(input); !refused_properly(grant)) {
    check(grant->certificate);
    if (grant->reference.empty() || grant->code.empty() || grant->expires_at.size() != 20) __builtin_trap();
  }
  if (const auto list = parse_lookup_reply(input); !refused_properly(list)) {
    if (list->size() > kMaxLookupCertificates) __builtin_trap();
    for (const auto& state : *list) check(state);
  }
  return 0;
}
