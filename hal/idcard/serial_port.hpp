// A raw 8N1 serial line opened by path (/dev/ttyUSB0, /dev/ttyACM0, or a simulator's pty), with
// deadlines on every read and write. It tells "the device went away" (USB unplugged: hangup, EIO,
// ENXIO, ENODEV) apart from "nothing arrived in time", because the driver recovers differently.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "kiosk/core/error.hpp"

namespace kiosk::hal::idcard {

using Deadline = std::chrono::steady_clock::time_point;

class SerialPort {
 public:
  // Opens `path` O_RDWR|O_NOCTTY|O_NONBLOCK, raw mode, 8N1, CLOCAL|CREAD, no flow control, at
  // `baud`. Errors: SERIAL_BAUD_UNSUPPORTED, SERIAL_NOT_FOUND (no such path: unplugged),
  // SERIAL_OPEN_FAILED (permission, busy, not a tty).
  static Result<SerialPort> open(const std::string& path, unsigned baud);

  SerialPort(SerialPort&& other) noexcept;
  SerialPort& operator=(SerialPort&& other) noexcept;
  SerialPort(const SerialPort&) = delete;
  SerialPort& operator=(const SerialPort&) = delete;
  ~SerialPort();

  // Writes every byte before the deadline. SERIAL_TIMEOUT, SERIAL_GONE, SERIAL_IO.
  Result<void> write_all(std::span<const std::uint8_t> bytes, Deadline deadline);
  // Reads what is available (at least one byte) before the deadline. SERIAL_TIMEOUT, SERIAL_GONE,
  // SERIAL_IO.
  Result<std::size_t> read_some(std::span<std::uint8_t> buffer, Deadline deadline);
  // Drops bytes received but not read (stale replies after a timeout).
  void discard_input();

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] unsigned baud() const { return baud_; }

 private:
  SerialPort(int fd, std::string path, unsigned baud) : fd_(fd), path_(std::move(path)), baud_(baud) {}
  int fd_ = -1;
  std::string path_;
  unsigned baud_ = 0;
};

// True for the rates the SAM supports (reference/hal.md §1.1): 9600, 19200, 38400, 57600, 115200.
bool supported_baud(unsigned baud);

}  // namespace kiosk::hal::idcard
