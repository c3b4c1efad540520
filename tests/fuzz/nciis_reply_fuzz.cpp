// libFuzzer target: the kiosk's parser of the gateway's NCIIS answer (sync/client/nciis_client).
// Every input is either NCIIS_REPLY_INVALID or an answer that keeps the parser's promises: a photo
// only with MATCH and with its recomputed hash, an error code exactly when the result is ERROR.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "kiosk/core/journal/atomic_file.hpp"
#include "sync/client/nciis_client.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const auto answer = kiosk::sync::parse_nciis_reply(input);
  if (!answer) {
    if (answer.error().code != "NCIIS_REPLY_INVALID") __builtin_trap();
    return 0;
  }
  using kiosk::sync::NciisResult;
  if (answer->request_id.size() != 32 || answer->checked_at.size() != 20) __builtin_trap();
  if (!answer->photo.empty()) {
    if (answer->result != NciisResult::match || answer->photo.size() > kiosk::sync::kMaxNciisPhotoBytes) {
      __builtin_trap();
    }
    const auto digest = kiosk::journal::sha256_hex(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(answer->photo.data()), answer->photo.size()));
    if (digest != answer->photo_sha256) __builtin_trap();
  } else if (!answer->photo_sha256.empty()) {
    __builtin_trap();
  }
  if ((answer->result == NciisResult::error) == answer->error_code.empty()) __builtin_trap();
  return 0;
}
