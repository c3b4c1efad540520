// Puts the engine's transmissions on the line at the speed of a real UART. The pty delivers bytes
// instantly, so the simulator keeps wire time itself: a transmission starts after its wait, and its
// bytes leave no faster than baud/10 per second, scheduled against absolute time from the
// transmission's start so that late wake-ups never add up to drift. Pure: the caller passes the
// time and the write function.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <span>
#include <vector>

#include "hal/idcard/sim/sim_engine.hpp"

namespace kiosk::hal::idcard::sim {

class WireScheduler {
 public:
  using Clock = std::chrono::steady_clock;
  // Accepts up to all of the bytes; returns how many it took (0 when the line is full for now).
  using Writer = std::function<std::size_t(std::span<const std::uint8_t>)>;
  // How often bytes are handed to the line while a transmission is under way.
  static constexpr std::chrono::microseconds kChunkInterval{1000};

  explicit WireScheduler(unsigned baud) : baud_(baud) {}

  // Queues an exchange's transmissions; `request_end` is when the request's last byte arrived.
  void add(const Exchange& exchange, Clock::time_point request_end);
  // Writes what is due at `now`. Returns when to call again, or nullopt when nothing is pending.
  std::optional<Clock::time_point> pump(Clock::time_point now, const Writer& write);
  // Forgets everything pending (the port went away).
  void clear();
  [[nodiscard]] bool idle() const { return queue_.empty(); }

 private:
  struct Pending {
    std::optional<Clock::time_point> anchor;  // the request's end; none: right after the previous one
    std::chrono::nanoseconds wait{0};
    std::vector<std::uint8_t> bytes;
  };
  unsigned baud_;
  std::deque<Pending> queue_;
  std::optional<Clock::time_point> head_start_;  // set once the head transmission has started
  std::size_t head_sent_ = 0;
  Clock::time_point line_free_{};  // when the previous transmission's last byte left the line
};

}  // namespace kiosk::hal::idcard::sim
