#include "hal/idcard/sam_frame.hpp"

#include <algorithm>

namespace kiosk::hal::idcard {
namespace {

std::uint8_t xor_of(std::span<const std::uint8_t> bytes) {
  std::uint8_t sum = 0;
  for (const std::uint8_t b : bytes) sum = static_cast<std::uint8_t>(sum ^ b);
  return sum;
}

constexpr std::size_t kHeaderBytes = kPreamble.size() + 2;  // preamble + length field
constexpr std::size_t kMinResponseLength = 4;               // SW1 SW2 SW3 + checksum

}  // namespace

std::vector<std::uint8_t> encode_request(SamCommand command, std::span<const std::uint8_t> data) {
  const auto code = static_cast<std::uint16_t>(command);
  const std::size_t length = 2 + data.size() + 1;  // cmd, para, data, checksum
  std::vector<std::uint8_t> frame(kPreamble.begin(), kPreamble.end());
  frame.push_back(static_cast<std::uint8_t>(length >> 8));
  frame.push_back(static_cast<std::uint8_t>(length & 0xFF));
  frame.push_back(static_cast<std::uint8_t>(code >> 8));
  frame.push_back(static_cast<std::uint8_t>(code & 0xFF));
  frame.insert(frame.end(), data.begin(), data.end());
  frame.push_back(xor_of(std::span(frame).subspan(kPreamble.size())));
  return frame;
}

std::optional<SamResult> sam_result_from_byte(std::uint8_t sw3) {
  switch (sw3) {
    case 0x90:
    case 0x9F:
    case 0x91:
    case 0x10:
    case 0x11:
    case 0x21:
    case 0x23:
    case 0x24:
    case 0x31:
    case 0x32:
    case 0x33:
    case 0x40:
    case 0x41:
    case 0x47:
    case 0x60:
    case 0x66:
    case 0x80:
    case 0x81: return static_cast<SamResult>(sw3);
    default: return std::nullopt;
  }
}

ResultClass classify(SamResult result) {
  switch (result) {
    case SamResult::success:
    case SamResult::card_found:
    case SamResult::no_content: return ResultClass::ok;
    case SamResult::no_card: return ResultClass::no_media;
    case SamResult::host_checksum_error:
    case SamResult::host_length_error:
    case SamResult::card_authenticating_sam_failed:
    case SamResult::random_failed: return ResultClass::retry;
    case SamResult::unknown_card_type:
    case SamResult::read_failed:
    case SamResult::select_failed: return ResultClass::user_action;
    case SamResult::sam_authenticating_card_failed:
    case SamResult::information_verification_error: return ResultClass::suspect_card;
    case SamResult::bad_command:
    case SamResult::not_permitted: return ResultClass::programming_error;
    case SamResult::unrecognised_error:
    case SamResult::sam_self_test_failed:
    case SamResult::sam_not_authorised: return ResultClass::device_fault;
  }
  return ResultClass::device_fault;
}

std::string_view to_string(SamResult result) {
  switch (result) {
    case SamResult::success: return "SAM_SUCCESS";
    case SamResult::card_found: return "SAM_CARD_FOUND";
    case SamResult::no_content: return "SAM_NO_CONTENT";
    case SamResult::host_checksum_error: return "SAM_HOST_CHECKSUM_ERROR";
    case SamResult::host_length_error: return "SAM_HOST_LENGTH_ERROR";
    case SamResult::bad_command: return "SAM_BAD_COMMAND";
    case SamResult::not_permitted: return "SAM_NOT_PERMITTED";
    case SamResult::unrecognised_error: return "SAM_UNRECOGNISED_ERROR";
    case SamResult::card_authenticating_sam_failed: return "SAM_CARD_AUTH_OF_SAM_FAILED";
    case SamResult::sam_authenticating_card_failed: return "SAM_AUTH_OF_CARD_FAILED";
    case SamResult::information_verification_error: return "SAM_INFORMATION_VERIFICATION_ERROR";
    case SamResult::unknown_card_type: return "SAM_UNKNOWN_CARD_TYPE";
    case SamResult::read_failed: return "SAM_READ_FAILED";
    case SamResult::random_failed: return "SAM_RANDOM_FAILED";
    case SamResult::sam_self_test_failed: return "SAM_SELF_TEST_FAILED";
    case SamResult::sam_not_authorised: return "SAM_NOT_AUTHORISED";
    case SamResult::no_card: return "SAM_NO_CARD";
    case SamResult::select_failed: return "SAM_SELECT_FAILED";
  }
  return "SAM_UNKNOWN";
}

void ResponseDecoder::feed(std::span<const std::uint8_t> bytes) {
  buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
}

bool discard_until_preamble(std::vector<std::uint8_t>& buffer, std::size_t& skipped) {
  const auto start = std::search(buffer.begin(), buffer.end(), kPreamble.begin(), kPreamble.end());
  if (start == buffer.end()) {
    const std::size_t keep = std::min(buffer.size(), kPreamble.size() - 1);
    skipped += buffer.size() - keep;
    buffer.erase(buffer.begin(), buffer.end() - static_cast<std::ptrdiff_t>(keep));
    return false;
  }
  skipped += static_cast<std::size_t>(start - buffer.begin());
  buffer.erase(buffer.begin(), start);
  return true;
}

std::optional<Result<SamResponse>> ResponseDecoder::next() {
  while (true) {
    if (!discard_until_preamble(buffer_, skipped_) || buffer_.size() < kHeaderBytes) return std::nullopt;

    const std::size_t length = (std::size_t{buffer_[5]} << 8) | buffer_[6];
    if (length < kMinResponseLength || length > kMaxLengthField) {
      // Drop this preamble and look for the next one: the length field cannot be trusted.
      buffer_.erase(buffer_.begin(), buffer_.begin() + 1);
      ++skipped_;
      return Result<SamResponse>(fail("SAM_FRAME_LENGTH", "a reply frame claimed " + std::to_string(length) +
                                                              " bytes, outside 4.." + std::to_string(kMaxLengthField)));
    }
    if (buffer_.size() < kHeaderBytes + length) return std::nullopt;

    const auto body = std::span(buffer_).subspan(kPreamble.size(), 2 + length - 1);  // length field .. last data byte
    const std::uint8_t expected = xor_of(body);
    const std::uint8_t received = buffer_[kHeaderBytes + length - 1];
    if (expected != received) {
      buffer_.erase(buffer_.begin(), buffer_.begin() + 1);
      ++skipped_;
      return Result<SamResponse>(fail("SAM_FRAME_CHECKSUM", "a reply frame failed its checksum; it is discarded"));
    }
    SamResponse response;
    response.sw1 = buffer_[7];
    response.sw2 = buffer_[8];
    response.sw3 = buffer_[9];
    response.data.assign(buffer_.begin() + 10,
                         buffer_.begin() + static_cast<std::ptrdiff_t>(kHeaderBytes + length - 1));
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(kHeaderBytes + length));
    return Result<SamResponse>(std::move(response));
  }
}

}  // namespace kiosk::hal::idcard
