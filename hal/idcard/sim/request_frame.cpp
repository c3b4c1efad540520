#include "hal/idcard/sim/request_frame.hpp"

#include <algorithm>

#include "hal/idcard/sam_frame.hpp"

namespace kiosk::hal::idcard::sim {
namespace {

constexpr std::size_t kHeaderBytes = kPreamble.size() + 2;  // preamble + length field
constexpr unsigned kBitsPerByte = 10;                       // 8N1: start, 8 data, stop
constexpr std::uint64_t kNanosPerSecond = 1'000'000'000;
// 128-bit intermediates keep ns * baud exact however long the simulator runs.
__extension__ using Wide = unsigned __int128;

}  // namespace

std::uint8_t xor_checksum(std::span<const std::uint8_t> bytes) {
  std::uint8_t sum = 0;
  for (const std::uint8_t b : bytes) sum = static_cast<std::uint8_t>(sum ^ b);
  return sum;
}

void RequestDecoder::feed(std::span<const std::uint8_t> bytes) {
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

std::optional<DecodedRequest> RequestDecoder::next() {
  if (!discard_until_preamble(buffer_, skipped_) || buffer_.size() < kHeaderBytes) return std::nullopt;

  const std::size_t length = (std::size_t{buffer_[5]} << 8) | buffer_[6];
  if (length < kMinRequestLengthField || length > kMaxRequestLengthField) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + 1);
    ++skipped_;
    return DecodedRequest{std::nullopt, kSw3HostLengthError, kHeaderBytes};
  }
  const std::size_t frame_bytes = kHeaderBytes + length;
  if (buffer_.size() < frame_bytes) return std::nullopt;

  const auto frame = std::span(buffer_).first(frame_bytes);
  if (xor_checksum(frame.subspan(kPreamble.size(), 2 + length - 1)) != frame.back()) {
    buffer_.erase(buffer_.begin(), buffer_.begin() + 1);
    ++skipped_;
    return DecodedRequest{std::nullopt, kSw3HostChecksumError, frame_bytes};
  }
  SamRequest request;
  request.command = static_cast<std::uint16_t>((frame[7] << 8) | frame[8]);
  request.data.assign(frame.begin() + 9, frame.end() - 1);
  request.wire_bytes = frame_bytes;
  buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(frame_bytes));
  return DecodedRequest{std::move(request), 0, frame_bytes};
}

std::vector<std::uint8_t> encode_response(std::uint8_t sw3, std::span<const std::uint8_t> data) {
  const std::size_t length = 3 + data.size() + 1;  // SW1 SW2 SW3, data, checksum
  std::vector<std::uint8_t> frame;
  frame.reserve(kHeaderBytes + length);
  for (const auto byte : kPreamble) frame.push_back(byte);
  frame.push_back(static_cast<std::uint8_t>(length >> 8));
  frame.push_back(static_cast<std::uint8_t>(length & 0xFF));
  frame.push_back(0x00);
  frame.push_back(0x00);
  frame.push_back(sw3);
  frame.insert(frame.end(), data.begin(), data.end());
  frame.push_back(xor_checksum(std::span(frame).subspan(kPreamble.size())));
  return frame;
}

std::chrono::nanoseconds wire_time(std::size_t bytes, unsigned baud) {
  if (baud == 0) return std::chrono::nanoseconds::zero();
  // Rounded up, so that bytes_due(wire_time(n)) == n.
  const Wide numerator = static_cast<Wide>(bytes) * kBitsPerByte * kNanosPerSecond;
  return std::chrono::nanoseconds(static_cast<std::int64_t>((numerator + baud - 1) / baud));
}

std::size_t bytes_due(std::chrono::nanoseconds elapsed, unsigned baud) {
  if (elapsed.count() <= 0) return 0;
  const Wide scaled = static_cast<Wide>(elapsed.count()) * baud;
  return static_cast<std::size_t>(scaled / (static_cast<Wide>(kBitsPerByte) * kNanosPerSecond));
}

}  // namespace kiosk::hal::idcard::sim
