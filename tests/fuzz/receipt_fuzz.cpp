// Feeds arbitrary bytes to the receipt parsers the kiosk runs on head office's answers: the receipt
// object (parse_receipt) and the signed wire form (verify_receipt against a fixed dev CA). Every
// outcome is a value or one of the documented codes; an accepted receipt object re-serialises to
// exactly the bytes given; nothing crashes, leaks or hangs.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "sync/gateway/pki.hpp"
#include "sync/package/receipt.hpp"

namespace {

// One CA for the whole run: the verifier's trust anchor (no input can be signed by it, so the
// signer checks are exercised up to the chain).
X509* trust_anchor() {
  static kiosk::gateway::CertPtr anchor = [] {
    auto key = kiosk::gateway::generate_p256_key();
    if (!key) __builtin_trap();
    kiosk::gateway::CertSpec spec{"CSDC Kiosk Dev CA",
                                  kiosk::gateway::CertProfile::certificate_authority,
                                  {},
                                  std::chrono::seconds(-300),
                                  std::chrono::hours(24 * 365)};
    auto cert = kiosk::gateway::issue_certificate(spec, key->get(), nullptr, nullptr);
    if (!cert) __builtin_trap();
    return std::move(*cert);
  }();
  return anchor.get();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace kiosk::sync::package;
  const std::string_view text(reinterpret_cast<const char*>(data), size);

  if (auto receipt = parse_receipt(text)) {
    auto again = serialize_receipt(*receipt);
    if (!again || *again != text) __builtin_trap();
  } else if (receipt.error().code != "RECEIPT_INVALID") {
    __builtin_trap();
  }

  if (auto verified = verify_receipt(text, trust_anchor())) {
    __builtin_trap();  // nothing outside this process can hold a signer of this fresh CA
  } else if (verified.error().code != "RECEIPT_INVALID" && verified.error().code != "RECEIPT_SIGNER_UNTRUSTED" &&
             verified.error().code != "RECEIPT_SIGNATURE_INVALID") {
    __builtin_trap();
  }
  return 0;
}
