#include "hal/idcard/sim/sim_engine.hpp"

#include <cstdio>

#include "hal/idcard/sam_frame.hpp"

namespace kiosk::hal::idcard::sim {
namespace {

constexpr std::size_t kLengthOffset = kPreamble.size();    // Len1 Len2
constexpr std::size_t kBodyOffset = kPreamble.size() + 2;  // SW1 ..
constexpr std::size_t kMinReplyLength = 4;                 // SW1 SW2 SW3 checksum
constexpr std::uint16_t kImpossibleLength = 0xFFFF;
constexpr std::uint8_t kSw3Success = 0x90;
constexpr std::uint8_t kSw3CardFound = 0x9F;
constexpr std::uint8_t kSw3NoContent = 0x91;
constexpr std::uint8_t kSw3BadCommand = 0x21;
constexpr std::uint8_t kSw3ReadFailed = 0x41;
constexpr std::uint8_t kSw3NoCard = 0x80;
constexpr std::uint8_t kSw3SelectFailed = 0x81;
// Set the maximum bytes per RF frame (reference/hal.md §1.3): some hosts send it at start-up.
constexpr std::uint16_t kSetMaxRfBytes = 0x61FF;

constexpr std::uint16_t code(SamCommand command) { return static_cast<std::uint16_t>(command); }

bool is_read(std::uint16_t command) {
  return command == code(SamCommand::read_text_photo) || command == code(SamCommand::read_text_photo_fingerprint) ||
         command == code(SamCommand::read_additional_address);
}

bool matches(FaultTarget target, std::optional<std::uint16_t> command) {
  switch (target) {
    case FaultTarget::any: return true;
    case FaultTarget::find: return command == code(SamCommand::find_card);
    case FaultTarget::select: return command == code(SamCommand::select_card);
    case FaultTarget::read: return command.has_value() && is_read(*command);
  }
  return false;
}

std::string hex_byte(std::uint8_t value) {
  char text[8];
  std::snprintf(text, sizeof text, "0x%02X", value);
  return text;
}

void set_length(std::vector<std::uint8_t>& frame, std::size_t length) {
  frame[kLengthOffset] = static_cast<std::uint8_t>(length >> 8);
  frame[kLengthOffset + 1] = static_cast<std::uint8_t>(length & 0xFF);
}

}  // namespace

std::string fault_name(const Fault& fault) {
  std::string text;
  switch (fault.kind) {
    case FaultKind::bitflip: text = "bitflip"; break;
    case FaultKind::truncate: text = "truncate"; break;
    case FaultKind::silence: text = "silence"; break;
    case FaultKind::garbage: text = "garbage"; break;
    case FaultKind::remove_during_read: text = "remove-during-read"; break;
    case FaultKind::wrong_length:
      text = "wrong-length";
      if (fault.wrong_length == WrongLength::impossible) text += " impossible";
      if (fault.wrong_length == WrongLength::plausible) text += " plausible";
      break;
    case FaultKind::status:
      text = "status " + hex_byte(fault.sw3);
      switch (fault.target) {
        case FaultTarget::any: text += " on any"; break;
        case FaultTarget::find: text += " on find"; break;
        case FaultTarget::select: text += " on select"; break;
        case FaultTarget::read: text += " on read"; break;
      }
      break;
  }
  return text;
}

std::string describe(const Fault& fault) { return fault_name(fault) + " times " + std::to_string(fault.times); }

SimEngine::SimEngine(EngineConfig config) : config_(config), random_(config.seed) {}

void SimEngine::add_fault(const Fault& fault) {
  if (fault.times == 0) return;
  Fault queued = fault;
  if (queued.kind == FaultKind::remove_during_read) queued.target = FaultTarget::read;
  faults_.push_back(queued);
}

std::vector<Exchange> SimEngine::receive(std::span<const std::uint8_t> bytes) {
  decoder_.feed(bytes);
  std::vector<Exchange> exchanges;
  while (auto decoded = decoder_.next()) exchanges.push_back(respond(*decoded));
  return exchanges;
}

SimEngine::Answer SimEngine::answer(const SamRequest& request) const {
  const bool has_card = card_.has_value();
  const auto takes_no_data = [&](Answer good) -> Answer {
    if (!request.data.empty()) return {kSw3HostLengthError, {}};
    return good;
  };
  switch (request.command) {
    case code(SamCommand::reset):
    case code(SamCommand::sam_status): return takes_no_data({kSw3Success, {}});
    case code(SamCommand::sam_id): {
      const auto id = encode_sam_id(config_.sam_id);
      return takes_no_data({kSw3Success, {id.begin(), id.end()}});
    }
    case code(SamCommand::find_card):
      return takes_no_data(has_card ? Answer{kSw3CardFound, {0, 0, 0, 0}} : Answer{kSw3NoCard, {}});
    case code(SamCommand::select_card):
      return takes_no_data(has_card ? Answer{kSw3Success, std::vector<std::uint8_t>(8, 0)}
                                    : Answer{kSw3SelectFailed, {}});
    case code(SamCommand::read_text_photo):
      if (!has_card) return takes_no_data({kSw3ReadFailed, {}});
      return takes_no_data({kSw3Success, encode_read_reply(card_->text_block, card_->photo_wlt, std::nullopt)});
    case code(SamCommand::read_text_photo_fingerprint):
      if (!has_card) return takes_no_data({kSw3ReadFailed, {}});
      return takes_no_data({kSw3Success, encode_read_reply(card_->text_block, card_->photo_wlt,
                                                           std::span<const std::uint8_t>(card_->fingerprint))});
    case code(SamCommand::read_additional_address):
      if (!has_card) return takes_no_data({kSw3ReadFailed, {}});
      if (!card_->additional_address_data) return takes_no_data({kSw3NoContent, {}});
      return takes_no_data(Answer{kSw3Success, *card_->additional_address_data});
    case kSetMaxRfBytes:
      if (request.data.size() != 1) return {kSw3HostLengthError, {}};
      return {kSw3Success, {}};
    default: return {kSw3BadCommand, {}};
  }
}

std::optional<Fault> SimEngine::take_fault(std::optional<std::uint16_t> command) {
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (!matches(it->target, command)) continue;
    Fault used = *it;
    if (--it->times == 0) faults_.erase(it);
    return used;
  }
  return std::nullopt;
}

std::vector<std::uint8_t> SimEngine::with_wrong_length(std::vector<std::uint8_t> frame, bool impossible) const {
  const std::size_t true_length = frame.size() - kBodyOffset;
  if (impossible) {
    set_length(frame, kImpossibleLength);
  } else if (true_length > kMinReplyLength) {
    // Shorter than the truth: the host takes a data byte for the checksum. Shorten further in the
    // rare case where that byte happens to equal the XOR the host computes, so the lie is always seen.
    for (std::size_t claimed = true_length - 1; claimed >= kMinReplyLength; --claimed) {
      set_length(frame, claimed);
      const auto covered = std::span(frame).subspan(kLengthOffset, 2 + claimed - 1);
      if (xor_checksum(covered) != frame[kBodyOffset + claimed - 1]) break;
    }
  } else {
    // A reply without data cannot claim fewer than 4 bytes and still look plausible: claim one more,
    // and the host waits for a byte that never comes.
    set_length(frame, true_length + 1);
  }
  // The checksum matches the claimed length field, so the only lie is the length itself.
  frame.back() = xor_checksum(std::span(frame).subspan(kLengthOffset, frame.size() - kLengthOffset - 1));
  return frame;
}

Exchange SimEngine::respond(const DecodedRequest& decoded) {
  ++requests_;
  Exchange exchange;
  exchange.request_bytes = decoded.wire_bytes;
  Answer reply;
  if (decoded.request) {
    exchange.command = decoded.request->command;
    reply = answer(*decoded.request);
  } else {
    reply.sw3 = decoded.refusal_sw3;
  }

  const std::chrono::nanoseconds first_wait = wire_time(decoded.wire_bytes, config_.baud) + config_.sam_delay;
  const std::optional<Fault> fault = take_fault(exchange.command);
  if (fault) exchange.fault = fault_name(*fault);

  if (fault && fault->kind == FaultKind::status) reply = Answer{fault->sw3, {}};
  if (fault && fault->kind == FaultKind::remove_during_read) {
    reply = Answer{kSw3ReadFailed, {}};
    card_.reset();
  }
  if (fault && fault->kind == FaultKind::silence) return exchange;

  std::vector<std::uint8_t> frame = encode_response(reply.sw3, reply.data);
  exchange.sw3 = reply.sw3;
  if (fault) {
    switch (fault->kind) {
      case FaultKind::bitflip: {
        // A byte after the length field, so the frame is still found and then fails its checksum.
        const std::size_t span = frame.size() - kBodyOffset;
        const std::size_t index = kBodyOffset + static_cast<std::size_t>(random_() % span);
        frame[index] = static_cast<std::uint8_t>(frame[index] ^ (1U << (random_() % 8)));
        break;
      }
      case FaultKind::truncate: frame.resize(std::max<std::size_t>(1, frame.size() / 2)); break;
      case FaultKind::wrong_length: {
        bool impossible = fault->wrong_length == WrongLength::impossible;
        if (fault->wrong_length == WrongLength::alternate) {
          impossible = next_wrong_length_impossible_;
          next_wrong_length_impossible_ = !next_wrong_length_impossible_;
        }
        frame = with_wrong_length(std::move(frame), impossible);
        break;
      }
      case FaultKind::garbage: {
        std::vector<std::uint8_t> noise(8 + static_cast<std::size_t>(random_() % 25));
        for (auto& byte : noise) {
          do {
            byte = static_cast<std::uint8_t>(random_());
          } while (byte == kPreamble[0]);
        }
        exchange.reply_bytes += noise.size();
        exchange.transmissions.push_back(Transmission{first_wait, std::move(noise)});
        break;
      }
      case FaultKind::status:
      case FaultKind::remove_during_read:
      case FaultKind::silence: break;
    }
  }
  exchange.reply_bytes += frame.size();
  exchange.transmissions.push_back(
      Transmission{exchange.transmissions.empty() ? first_wait : std::chrono::nanoseconds{0}, std::move(frame)});
  return exchange;
}

}  // namespace kiosk::hal::idcard::sim
