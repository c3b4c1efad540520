#include "hal/idcard/reader.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <utility>

namespace kiosk::hal::idcard {
namespace {

using Clock = std::chrono::steady_clock;

ReaderError make_error(Completion completion, std::string code, std::string message,
                       std::optional<std::uint8_t> sw3 = std::nullopt) {
  return ReaderError{completion, Error{std::move(code), std::move(message)}, sw3};
}

std::string hex_byte(std::uint8_t value) {
  std::array<char, 5> text{};
  std::snprintf(text.data(), text.size(), "0x%02X", value);
  return text.data();
}

// The one table from SW3 to completion and error code (reference/hal.md §1.4, §4 item 13).
ReaderError error_for_status(std::uint8_t sw3, std::string_view what) {
  const std::string said = std::string(what) + ": the SAM answered " + hex_byte(sw3);
  const auto result = sam_result_from_byte(sw3);
  if (!result) {
    return make_error(Completion::hardware_error, "IDCARD_SAM_FAULT", said + " (not a documented code)", sw3);
  }
  const std::string named = said + " (" + std::string(to_string(*result)) + ")";
  switch (*result) {
    case SamResult::no_card:
      return make_error(Completion::no_media, "IDCARD_NO_CARD", named + ": no card on the reader", sw3);
    case SamResult::select_failed:
      return make_error(Completion::user_error, "IDCARD_SELECT_FAILED",
                        named + ": the card could not be selected; it must lie flat and still", sw3);
    case SamResult::read_failed:
      return make_error(Completion::user_error, "IDCARD_CARD_MOVED",
                        named + ": the card left the reader during the read", sw3);
    case SamResult::unknown_card_type:
      return make_error(Completion::user_error, "IDCARD_UNKNOWN_CARD",
                        named + ": not a card this reader knows (another card, or face down?)", sw3);
    case SamResult::card_authenticating_sam_failed:
    case SamResult::random_failed:
      return make_error(Completion::user_error, "IDCARD_CARD_UNSTABLE",
                        named + ": the card did not complete its exchange with the SAM; place it again", sw3);
    case SamResult::sam_authenticating_card_failed:
    case SamResult::information_verification_error:
      return make_error(Completion::fraud_attempt, "IDCARD_SUSPECT_CARD",
                        named + ": the card failed the SAM's authenticity check", sw3);
    case SamResult::host_checksum_error:
    case SamResult::host_length_error:
      return make_error(Completion::invalid_data, "IDCARD_LINK_ERRORS",
                        named + ": the SAM kept receiving damaged frames from the host", sw3);
    case SamResult::bad_command:
    case SamResult::not_permitted: return make_error(Completion::internal_error, "IDCARD_COMMAND_REJECTED", named, sw3);
    case SamResult::unrecognised_error:
    case SamResult::sam_self_test_failed:
    case SamResult::sam_not_authorised:
      return make_error(Completion::hardware_error, "IDCARD_SAM_FAULT", named + ": the reader needs service", sw3);
    case SamResult::success:
    case SamResult::card_found:
    case SamResult::no_content: break;
  }
  return make_error(Completion::internal_error, "IDCARD_UNEXPECTED_STATUS", named + " where it was not expected", sw3);
}

bool damaged_on_the_wire(const ReaderError& failure) { return failure.completion == Completion::invalid_data; }

}  // namespace

std::string_view to_string(Completion completion) {
  switch (completion) {
    case Completion::success: return "success";
    case Completion::no_media: return "noMedia";
    case Completion::user_error: return "userError";
    case Completion::fraud_attempt: return "fraudAttempt";
    case Completion::timeout: return "timeOut";
    case Completion::invalid_data: return "invalidData";
    case Completion::hardware_error: return "hardwareError";
    case Completion::device_not_ready: return "deviceNotReady";
    case Completion::internal_error: return "internalError";
  }
  return "internalError";
}

std::string_view to_string(DeviceState state) {
  switch (state) {
    case DeviceState::starting: return "starting";
    case DeviceState::online: return "online";
    case DeviceState::no_device: return "noDevice";
    case DeviceState::hardware_error: return "hardwareError";
  }
  return "hardwareError";
}

std::string_view to_string(MediaState state) {
  switch (state) {
    case MediaState::unknown: return "unknown";
    case MediaState::not_present: return "notPresent";
    case MediaState::present: return "present";
    case MediaState::read_failed: return "readFailed";
  }
  return "unknown";
}

IdCardReader::IdCardReader(ReaderConfig config) : config_(std::move(config)) {}

ReaderResult<void> IdCardReader::ensure_open() {
  if (port_) return {};
  auto opened = SerialPort::open(config_.device_path, config_.baud);
  if (!opened) {
    device_state_ = DeviceState::no_device;
    const Completion completion =
        opened.error().code == "SERIAL_BAUD_UNSUPPORTED" ? Completion::internal_error : Completion::device_not_ready;
    return std::unexpected(make_error(completion, "IDCARD_NO_DEVICE", opened.error().message));
  }
  if (was_open_) ++counters_.reconnects;
  was_open_ = true;
  port_.emplace(std::move(*opened));
  decoder_.reset();
  return {};
}

void IdCardReader::drop_port(DeviceState state) {
  port_.reset();
  decoder_.reset();
  device_state_ = state;
  media_state_ = MediaState::unknown;
}

ReaderResult<SamResponse> IdCardReader::exchange_once(SamCommand command, Deadline deadline) {
  if (auto opened = ensure_open(); !opened) return std::unexpected(opened.error());
  // A late reply to an earlier command must not be taken for this one's.
  port_->discard_input();
  decoder_.reset();
  const auto request = encode_request(command);
  if (auto written = port_->write_all(request, deadline); !written) {
    if (written.error().code == "SERIAL_GONE") {
      drop_port(DeviceState::no_device);
      return std::unexpected(make_error(Completion::device_not_ready, "IDCARD_DEVICE_GONE",
                                        "the reader went away: " + written.error().message));
    }
    device_state_ = DeviceState::hardware_error;
    return std::unexpected(make_error(Completion::timeout, "IDCARD_TIMEOUT", written.error().message));
  }
  counters_.bytes_sent += request.size();
  const std::size_t skipped_before = decoder_.skipped_bytes();
  std::array<std::uint8_t, 4096> buffer{};
  for (;;) {
    if (auto decoded = decoder_.next()) {
      counters_.garbage_bytes += decoder_.skipped_bytes() - skipped_before;
      if (!*decoded) {
        return std::unexpected(make_error(Completion::invalid_data, "IDCARD_REPLY_DAMAGED",
                                          "the reply was damaged on the line: " + decoded->error().message));
      }
      device_state_ = DeviceState::online;
      return std::move(**decoded);
    }
    auto received = port_->read_some(buffer, deadline);
    if (!received) {
      if (received.error().code == "SERIAL_GONE") {
        drop_port(DeviceState::no_device);
        return std::unexpected(make_error(Completion::device_not_ready, "IDCARD_DEVICE_GONE",
                                          "the reader went away: " + received.error().message));
      }
      if (received.error().code == "SERIAL_TIMEOUT") {
        device_state_ = DeviceState::hardware_error;
        const bool partial = decoder_.pending_bytes() > 0;
        return std::unexpected(make_error(Completion::timeout, partial ? "IDCARD_REPLY_TRUNCATED" : "IDCARD_TIMEOUT",
                                          partial ? "the reply stopped part-way (" +
                                                        std::to_string(decoder_.pending_bytes()) +
                                                        " bytes) and the rest did not come in time"
                                                  : "the reader did not answer in time"));
      }
      drop_port(DeviceState::hardware_error);
      return std::unexpected(make_error(Completion::hardware_error, "IDCARD_IO", received.error().message));
    }
    counters_.bytes_received += *received;
    decoder_.feed(std::span(buffer.data(), *received));
  }
}

ReaderResult<SamResponse> IdCardReader::exchange(SamCommand command, std::chrono::milliseconds timeout) {
  // One deadline for the command and its resends: a fault never makes the caller wait longer
  // than the command's timeout.
  const Deadline deadline = Clock::now() + timeout;
  ReaderResult<SamResponse> outcome;
  for (int attempt = 0; attempt < std::max(1, config_.frame_attempts); ++attempt) {
    if (attempt > 0) ++counters_.frames_retried;
    outcome = exchange_once(command, deadline);
    if (outcome) {
      // The SAM saw our frame damaged: send it again.
      const auto sw3 = outcome->sw3;
      if (sw3 == static_cast<std::uint8_t>(SamResult::host_checksum_error) ||
          sw3 == static_cast<std::uint8_t>(SamResult::host_length_error)) {
        continue;
      }
      return outcome;
    }
    if (!damaged_on_the_wire(outcome.error())) return outcome;
  }
  return outcome;
}

std::optional<ReaderError> IdCardReader::judge(const SamResponse& reply, SamResult expected, std::string_view what) {
  if (reply.sw3 == static_cast<std::uint8_t>(expected)) return std::nullopt;
  auto failure = error_for_status(reply.sw3, what);
  if (failure.completion == Completion::hardware_error) device_state_ = DeviceState::hardware_error;
  return failure;
}

ReaderResult<void> IdCardReader::reset() {
  auto reply = exchange(SamCommand::reset, config_.timeouts.reset);
  if (!reply) return std::unexpected(reply.error());
  if (auto failure = judge(*reply, SamResult::success, "reset")) return std::unexpected(*failure);
  media_state_ = MediaState::unknown;
  return {};
}

ReaderResult<SamId> IdCardReader::sam_id() {
  auto reply = exchange(SamCommand::sam_id, config_.timeouts.status);
  if (!reply) return std::unexpected(reply.error());
  if (auto failure = judge(*reply, SamResult::success, "SAM id")) return std::unexpected(*failure);
  auto id = parse_sam_id(reply->data);
  if (!id) return std::unexpected(make_error(Completion::invalid_data, "IDCARD_REPLY_INVALID", id.error().message));
  return *id;
}

ReaderResult<SamStatus> IdCardReader::sam_status() {
  auto reply = exchange(SamCommand::sam_status, config_.timeouts.status);
  if (!reply) return std::unexpected(reply.error());
  if (auto failure = judge(*reply, SamResult::success, "SAM status")) return std::unexpected(*failure);
  auto id = sam_id();
  if (!id) return std::unexpected(id.error());
  return SamStatus{.id = *id, .status_sw3 = reply->sw3};
}

ReaderResult<bool> IdCardReader::card_present() {
  auto reply = exchange(SamCommand::find_card, config_.timeouts.find);
  if (!reply) return std::unexpected(reply.error());
  if (reply->sw3 == static_cast<std::uint8_t>(SamResult::no_card)) {
    media_state_ = MediaState::not_present;
    return false;
  }
  if (auto failure = judge(*reply, SamResult::card_found, "find card")) return std::unexpected(*failure);
  if (media_state_ != MediaState::read_failed) media_state_ = MediaState::present;
  return true;
}

ReaderResult<CardRead> IdCardReader::read_card() {
  // Find and select must precede every read (reference/hal.md §1.3). Both are retried on answers
  // that a second try can fix: a card still settling, a flaky RF exchange.
  const auto retryable = [](const ReaderError& failure) {
    return failure.completion == Completion::no_media || failure.completion == Completion::user_error;
  };
  std::optional<ReaderError> last_failure;
  bool found = false;
  for (int attempt = 0; attempt < std::max(1, config_.find_attempts) && !found; ++attempt) {
    auto reply = exchange(SamCommand::find_card, config_.timeouts.find);
    if (!reply) return std::unexpected(reply.error());
    last_failure = judge(*reply, SamResult::card_found, "find card");
    if (!last_failure)
      found = true;
    else if (!retryable(*last_failure))
      break;
  }
  if (!found) {
    if (last_failure->completion == Completion::no_media) media_state_ = MediaState::not_present;
    return std::unexpected(*last_failure);
  }
  media_state_ = MediaState::present;

  bool selected = false;
  for (int attempt = 0; attempt < std::max(1, config_.select_attempts) && !selected; ++attempt) {
    auto reply = exchange(SamCommand::select_card, config_.timeouts.select);
    if (!reply) return std::unexpected(reply.error());
    last_failure = judge(*reply, SamResult::success, "select card");
    if (!last_failure)
      selected = true;
    else if (!retryable(*last_failure))
      break;
  }
  if (!selected) {
    media_state_ = MediaState::read_failed;
    return std::unexpected(*last_failure);
  }

  const bool with_fingerprint = config_.read_fingerprint;
  auto reply = exchange(with_fingerprint ? SamCommand::read_text_photo_fingerprint : SamCommand::read_text_photo,
                        with_fingerprint ? config_.timeouts.read_with_fingerprint : config_.timeouts.read);
  if (!reply) {
    media_state_ = MediaState::read_failed;
    return std::unexpected(reply.error());
  }
  if (auto failure = judge(*reply, SamResult::success, "read card")) {
    media_state_ = failure->completion == Completion::no_media ? MediaState::not_present : MediaState::read_failed;
    return std::unexpected(*failure);
  }
  auto card = parse_read_reply(reply->data, with_fingerprint);
  if (!card) {
    media_state_ = MediaState::read_failed;
    return std::unexpected(make_error(Completion::invalid_data, "IDCARD_REPLY_INVALID",
                                      "the card's data did not decode: " + card.error().to_string()));
  }

  if (config_.read_additional_address) {
    auto address = exchange(SamCommand::read_additional_address, config_.timeouts.additional_address);
    if (!address) return std::unexpected(address.error());
    if (address->sw3 != static_cast<std::uint8_t>(SamResult::no_content)) {
      if (auto failure = judge(*address, SamResult::success, "additional address")) return std::unexpected(*failure);
      auto text = parse_additional_address(address->data);
      if (!text) {
        return std::unexpected(make_error(Completion::invalid_data, "IDCARD_REPLY_INVALID",
                                          "the additional address did not decode: " + text.error().to_string()));
      }
      if (!text->empty()) card->additional_address = std::move(*text);
    }
  }
  media_state_ = MediaState::present;
  return std::move(*card);
}

}  // namespace kiosk::hal::idcard
