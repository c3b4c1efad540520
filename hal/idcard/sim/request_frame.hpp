// The SAM's side of the frame codec (reference/hal.md §1.2): decoding host → SAM requests out of a
// raw byte stream, and encoding SAM → host replies. sam_frame.hpp is the host's side; the two meet
// only on the wire, so a bug on one side is not mirrored by the other.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

namespace kiosk::hal::idcard::sim {

// The longest request length field accepted. Every documented request carries at most one data byte
// (length 4); a little room is left for vendor commands with a few parameters. Anything longer is
// answered with SW3 0x11 instead of waiting for bytes a corrupted length promises.
inline constexpr std::size_t kMaxRequestLengthField = 64;
// cmd, para, checksum
inline constexpr std::size_t kMinRequestLengthField = 3;

inline constexpr std::uint8_t kSw3HostChecksumError = 0x10;
inline constexpr std::uint8_t kSw3HostLengthError = 0x11;

struct SamRequest {
  std::uint16_t command = 0;  // cmd << 8 | para
  std::vector<std::uint8_t> data;
  std::size_t wire_bytes = 0;  // the whole frame, preamble and checksum included
};

// What the decoder found on the line: a well-formed request, or a frame the SAM must refuse with
// SW3 0x10 (checksum) or 0x11 (length).
struct DecodedRequest {
  std::optional<SamRequest> request;  // set when the frame is sound
  std::uint8_t refusal_sw3 = 0;       // 0x10 or 0x11 when `request` is empty
  std::size_t wire_bytes = 0;         // bytes of the frame as far as it was read
};

// Reassembles requests from pieces. Bytes before a preamble are skipped and counted, as a UART does
// with line noise. After a refused frame it resynchronises one byte after that frame's preamble, so
// a good request hidden behind a corrupted length is still found.
class RequestDecoder {
 public:
  void feed(std::span<const std::uint8_t> bytes);
  // The next request or refusal, or nullopt when more bytes are needed.
  std::optional<DecodedRequest> next();
  // Drops a partial frame (the line went idle mid-frame, or the port was re-created).
  void discard_pending() { buffer_.clear(); }
  [[nodiscard]] std::size_t pending_bytes() const { return buffer_.size(); }
  [[nodiscard]] std::size_t skipped_bytes() const { return skipped_; }

 private:
  std::vector<std::uint8_t> buffer_;
  std::size_t skipped_ = 0;
};

// A reply frame: preamble, length, SW1 = 0, SW2 = 0, SW3, data, XOR checksum of everything after
// the preamble.
std::vector<std::uint8_t> encode_response(std::uint8_t sw3, std::span<const std::uint8_t> data = {});

// XOR of the bytes (the frame checksum rule).
std::uint8_t xor_checksum(std::span<const std::uint8_t> bytes);

// The time `bytes` take on an 8N1 line (10 bits per byte) at `baud`.
std::chrono::nanoseconds wire_time(std::size_t bytes, unsigned baud);
// How many bytes may have left the line `elapsed` after a transmission started: a byte counts once
// its last bit would have been sent, so all n bytes are out exactly wire_time(n) after the start.
std::size_t bytes_due(std::chrono::nanoseconds elapsed, unsigned baud);

}  // namespace kiosk::hal::idcard::sim
