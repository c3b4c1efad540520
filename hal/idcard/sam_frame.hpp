// The serial frame of ID-card readers built around the Ministry of Public Security SAM module
// (GA 467; reference/hal.md §1.2): preamble AA AA AA 96 69, a big-endian length of what follows,
// command+parameter (request) or SW1 SW2 SW3 (response), data, and an XOR checksum of every byte
// after the preamble. This file is the pure codec: no I/O, no timing, no trust in length fields.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "kiosk/core/error.hpp"

namespace kiosk::hal::idcard {

inline constexpr std::array<std::uint8_t, 5> kPreamble{0xAA, 0xAA, 0xAA, 0x96, 0x69};
// The longest reply the protocol has: text + photo + 1024-byte fingerprint, 2321 bytes in all,
// whose length field says 2314. Anything claiming more is noise, not a frame.
inline constexpr std::size_t kMaxLengthField = 2314;

// The commands this driver sends (reference/hal.md §1.3).
enum class SamCommand : std::uint16_t {
  reset = 0x10FF,
  sam_status = 0x11FF,
  sam_id = 0x12FF,
  find_card = 0x2001,
  select_card = 0x2002,
  read_text_photo = 0x3001,
  read_text_photo_fingerprint = 0x3010,
  read_additional_address = 0x3003,
};

// Discards the bytes in `buffer` before its first preamble, keeping a possible partial preamble at
// the end, and adds how many it discarded to `skipped`. True when `buffer` now starts with a
// preamble. Both directions' decoders (the driver's, the simulator's) resynchronise with it.
bool discard_until_preamble(std::vector<std::uint8_t>& buffer, std::size_t& skipped);

// A request frame: preamble, length, command, parameter, data, checksum.
std::vector<std::uint8_t> encode_request(SamCommand command, std::span<const std::uint8_t> data = {});

// SW3, the SAM's result code, as the closed set this driver understands (reference/hal.md §1.4).
enum class SamResult : std::uint8_t {
  success = 0x90,
  card_found = 0x9F,
  no_content = 0x91,
  host_checksum_error = 0x10,
  host_length_error = 0x11,
  bad_command = 0x21,
  not_permitted = 0x23,
  unrecognised_error = 0x24,
  card_authenticating_sam_failed = 0x31,
  sam_authenticating_card_failed = 0x32,
  information_verification_error = 0x33,
  unknown_card_type = 0x40,
  read_failed = 0x41,
  random_failed = 0x47,
  sam_self_test_failed = 0x60,
  sam_not_authorised = 0x66,
  no_card = 0x80,
  select_failed = 0x81,
};

// What the HAL does with a result: carry on, retry the command, ask the person to act, treat the
// card as suspect (evidence and alert), or take the device out of service.
enum class ResultClass { ok, no_media, retry, user_action, suspect_card, programming_error, device_fault };

// Nullopt for a code outside the documented set (treated as a device fault by the driver).
std::optional<SamResult> sam_result_from_byte(std::uint8_t sw3);
ResultClass classify(SamResult result);
std::string_view to_string(SamResult result);

struct SamResponse {
  std::uint8_t sw1 = 0;
  std::uint8_t sw2 = 0;
  std::uint8_t sw3 = 0;
  std::vector<std::uint8_t> data;
};

// Reassembles responses from a byte stream that may arrive in any pieces, carry garbage between
// frames, or be damaged. Bytes before a preamble are skipped and counted; a frame with a bad
// checksum or an impossible length is reported and the decoder resynchronises on the next
// preamble. Memory is bounded by the largest legal frame.
class ResponseDecoder {
 public:
  // Appends bytes from the serial line.
  void feed(std::span<const std::uint8_t> bytes);
  // The next complete response, an error for a damaged one (SAM_FRAME_CHECKSUM,
  // SAM_FRAME_LENGTH), or nullopt when more bytes are needed.
  std::optional<Result<SamResponse>> next();
  // Bytes discarded while looking for a preamble, since construction.
  [[nodiscard]] std::size_t skipped_bytes() const { return skipped_; }
  // Bytes held while waiting for the rest of a frame.
  [[nodiscard]] std::size_t pending_bytes() const { return buffer_.size(); }
  void reset() { buffer_.clear(); }

 private:
  std::vector<std::uint8_t> buffer_;
  std::size_t skipped_ = 0;
};

}  // namespace kiosk::hal::idcard
