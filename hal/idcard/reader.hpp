// The ID-card reader driver, shaped after XFS4IoT's CardReader class (reference/hal.md §4): every
// command ends in exactly one completion from a closed set; the device's state (is the reader
// usable?) is kept apart from the media state (is a card there, was it read?); raw SW3 codes are
// kept for the evidence. A USB reader that disappears is reopened by path on the next command, so
// the kiosk never restarts to get its reader back.
//
// Not thread-safe: one owner (the kiosk's device thread, or kioskctl) issues commands one by one.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hal/idcard/id_document.hpp"
#include "hal/idcard/sam_frame.hpp"
#include "hal/idcard/serial_port.hpp"

namespace kiosk::hal::idcard {

// XFS4IoT completion codes, the subset this device can produce.
enum class Completion {
  success,
  no_media,          // no card on the reader
  user_error,        // the person must act: card moved, upside down, wrong card
  fraud_attempt,     // the SAM could not authenticate the card, or its data failed verification
  timeout,           // the reader did not answer in time
  invalid_data,      // a reply that failed its checksum, length or layout, even after retries
  hardware_error,    // the SAM refused to work (self-test, not authorised, unknown code)
  device_not_ready,  // the serial device is absent (unplugged) or cannot be opened
  internal_error,    // the SAM rejected a command the driver built: a driver bug
};
std::string_view to_string(Completion completion);

// The device's state (XFS4IoT status.common.device, the subset used here).
enum class DeviceState { starting, online, no_device, hardware_error };
std::string_view to_string(DeviceState state);
// The card's state (XFS4IoT cardReader media).
enum class MediaState { unknown, not_present, present, read_failed };
std::string_view to_string(MediaState state);

struct ReaderError {
  Completion completion = Completion::internal_error;
  Error error;                      // stable code (IDCARD_*) and a message for staff
  std::optional<std::uint8_t> sw3;  // the SAM's raw result, when it sent one
};
template <class T>
using ReaderResult = std::expected<T, ReaderError>;

struct ReaderTimeouts {
  std::chrono::milliseconds status{1000};
  std::chrono::milliseconds reset{2000};
  std::chrono::milliseconds find{1000};
  std::chrono::milliseconds select{1000};
  std::chrono::milliseconds read{3000};
  std::chrono::milliseconds read_with_fingerprint{4000};
  std::chrono::milliseconds additional_address{1000};
};

struct ReaderConfig {
  std::string device_path;
  unsigned baud = 115200;
  ReaderTimeouts timeouts;
  int find_attempts = 3;  // find and select are retried on retryable answers (reference/hal.md §1.3)
  int select_attempts = 3;
  int frame_attempts = 2;  // a command whose reply was damaged on the wire is sent again
  bool read_fingerprint = false;
  bool read_additional_address = false;  // only where the reader supports 0x30 0x03
};

struct SamStatus {
  SamId id;
  std::uint8_t status_sw3 = 0;  // 0x90 when healthy
};

// Counters for diagnostics and benchmarks: what went over the wire.
struct WireCounters {
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t frames_retried = 0;
  std::uint64_t garbage_bytes = 0;
  std::uint64_t reconnects = 0;
};

class IdCardReader {
 public:
  explicit IdCardReader(ReaderConfig config);

  // Reset SAM (0x10 0xFF).
  ReaderResult<void> reset();
  // SAM status (0x11 0xFF) then SAM id (0x12 0xFF).
  ReaderResult<SamStatus> sam_status();
  ReaderResult<SamId> sam_id();
  // Find card: true when a card is in the field, false for "no card" (normal while polling).
  ReaderResult<bool> card_present();
  // Find (retried), select (retried), read text+photo (or +fingerprint when configured), and the
  // additional address when configured. The document is decoded but not judged: the caller runs
  // check_document() against today's date.
  ReaderResult<CardRead> read_card();

  [[nodiscard]] DeviceState device_state() const { return device_state_; }
  [[nodiscard]] MediaState media_state() const { return media_state_; }
  [[nodiscard]] const WireCounters& counters() const { return counters_; }
  [[nodiscard]] const ReaderConfig& config() const { return config_; }

 private:
  // Sends one command and returns its reply, reopening the port if needed and resending once when
  // the reply is damaged. Does not interpret SW3.
  ReaderResult<SamResponse> exchange(SamCommand command, std::chrono::milliseconds timeout);
  ReaderResult<SamResponse> exchange_once(SamCommand command, Deadline deadline);
  ReaderResult<void> ensure_open();
  void drop_port(DeviceState state);
  // Maps a reply's SW3 to a failure, or nullopt when it is `expected`.
  std::optional<ReaderError> judge(const SamResponse& reply, SamResult expected, std::string_view what);

  ReaderConfig config_;
  std::optional<SerialPort> port_;
  ResponseDecoder decoder_;
  DeviceState device_state_ = DeviceState::starting;
  MediaState media_state_ = MediaState::unknown;
  WireCounters counters_;
  bool was_open_ = false;
};

}  // namespace kiosk::hal::idcard
