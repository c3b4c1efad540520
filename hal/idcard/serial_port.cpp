#include "hal/idcard/serial_port.hpp"

#include <fcntl.h>
#include <poll.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace kiosk::hal::idcard {
namespace {

speed_t speed_constant(unsigned baud) {
  switch (baud) {
    case 9600: return B9600;
    case 19200: return B19200;
    case 38400: return B38400;
    case 57600: return B57600;
    case 115200: return B115200;
    default: return B0;
  }
}

// A USB serial adapter that is unplugged answers EIO (read/write), ENXIO or ENODEV (open, ioctl);
// a pty whose master closed answers EIO. All of them mean "the device went away".
bool device_gone(int error_number) { return error_number == EIO || error_number == ENXIO || error_number == ENODEV; }

int milliseconds_until(Deadline deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  if (left.count() <= 0) return 0;
  // Round up so a wait never ends a fraction of a millisecond before its deadline.
  return static_cast<int>(left.count()) + 1;
}

std::string errno_text(int error_number) { return std::strerror(error_number); }

}  // namespace

bool supported_baud(unsigned baud) { return speed_constant(baud) != B0; }

Result<SerialPort> SerialPort::open(const std::string& path, unsigned baud) {
  if (!supported_baud(baud)) {
    return fail("SERIAL_BAUD_UNSUPPORTED", "baud rate " + std::to_string(baud) +
                                               " is not one the reader supports (9600, 19200, 38400, 57600, 115200)");
  }
  const int fd = ::open(path.c_str(), O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) {
    const int error_number = errno;
    if (error_number == ENOENT || device_gone(error_number)) {
      return fail("SERIAL_NOT_FOUND", "serial device " + path + " is not present (unplugged?)");
    }
    return fail("SERIAL_OPEN_FAILED", "cannot open serial device " + path + ": " + errno_text(error_number));
  }
  termios settings{};
  if (::tcgetattr(fd, &settings) != 0) {
    const int error_number = errno;
    ::close(fd);
    return fail("SERIAL_OPEN_FAILED", path + " is not a serial device: " + errno_text(error_number));
  }
  ::cfmakeraw(&settings);
  settings.c_cflag &= ~static_cast<tcflag_t>(CSTOPB | PARENB | CRTSCTS | CSIZE);
  settings.c_cflag |= CS8 | CLOCAL | CREAD;
  settings.c_iflag &= ~static_cast<tcflag_t>(IXON | IXOFF | IXANY);
  settings.c_cc[VMIN] = 0;
  settings.c_cc[VTIME] = 0;
  ::cfsetispeed(&settings, speed_constant(baud));
  ::cfsetospeed(&settings, speed_constant(baud));
  if (::tcsetattr(fd, TCSANOW, &settings) != 0) {
    const int error_number = errno;
    ::close(fd);
    return fail("SERIAL_OPEN_FAILED", "cannot configure " + path + ": " + errno_text(error_number));
  }
  ::tcflush(fd, TCIOFLUSH);
  return SerialPort(fd, path, baud);
}

SerialPort::SerialPort(SerialPort&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), path_(std::move(other.path_)), baud_(other.baud_) {}

SerialPort& SerialPort::operator=(SerialPort&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    baud_ = other.baud_;
  }
  return *this;
}

SerialPort::~SerialPort() {
  if (fd_ >= 0) ::close(fd_);
}

Result<void> SerialPort::write_all(std::span<const std::uint8_t> bytes, Deadline deadline) {
  std::size_t written = 0;
  while (written < bytes.size()) {
    const ssize_t n = ::write(fd_, bytes.data() + written, bytes.size() - written);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      if (device_gone(errno)) return fail("SERIAL_GONE", "serial device " + path_ + " went away while writing");
      return fail("SERIAL_IO", "write to " + path_ + " failed: " + errno_text(errno));
    }
    pollfd waiter{.fd = fd_, .events = POLLOUT, .revents = 0};
    const int ready = ::poll(&waiter, 1, milliseconds_until(deadline));
    if (ready == 0) return fail("SERIAL_TIMEOUT", "serial device " + path_ + " did not accept data in time");
    if (ready < 0 && errno != EINTR) return fail("SERIAL_IO", "poll on " + path_ + " failed: " + errno_text(errno));
    if (ready > 0 && (waiter.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
      return fail("SERIAL_GONE", "serial device " + path_ + " hung up");
    }
  }
  return {};
}

Result<std::size_t> SerialPort::read_some(std::span<std::uint8_t> buffer, Deadline deadline) {
  bool poll_said_readable = false;
  for (;;) {
    const ssize_t n = ::read(fd_, buffer.data(), buffer.size());
    if (n > 0) return static_cast<std::size_t>(n);
    // Readable yet nothing to read is end-of-file: the line is gone.
    if (n == 0 && poll_said_readable) return fail("SERIAL_GONE", "serial device " + path_ + " hung up");
    // A tty in raw mode with VMIN=0 returns 0 when nothing is there; a hung-up line returns 0 or
    // EIO, which poll() then reports as POLLHUP.
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) {
      if (device_gone(errno)) return fail("SERIAL_GONE", "serial device " + path_ + " went away while reading");
      return fail("SERIAL_IO", "read from " + path_ + " failed: " + errno_text(errno));
    }
    pollfd waiter{.fd = fd_, .events = POLLIN, .revents = 0};
    const int wait_ms = milliseconds_until(deadline);
    if (wait_ms == 0) return fail("SERIAL_TIMEOUT", "no reply from " + path_ + " in time");
    const int ready = ::poll(&waiter, 1, wait_ms);
    if (ready == 0) return fail("SERIAL_TIMEOUT", "no reply from " + path_ + " in time");
    if (ready < 0) {
      if (errno == EINTR) continue;
      return fail("SERIAL_IO", "poll on " + path_ + " failed: " + errno_text(errno));
    }
    if ((waiter.revents & POLLIN) == 0 && (waiter.revents & (POLLHUP | POLLERR | POLLNVAL)) != 0) {
      return fail("SERIAL_GONE", "serial device " + path_ + " hung up");
    }
    poll_said_readable = (waiter.revents & POLLIN) != 0;
  }
}

void SerialPort::discard_input() { ::tcflush(fd_, TCIFLUSH); }

}  // namespace kiosk::hal::idcard
