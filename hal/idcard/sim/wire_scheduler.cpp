#include "hal/idcard/sim/wire_scheduler.hpp"

#include <algorithm>

#include "hal/idcard/sim/request_frame.hpp"

namespace kiosk::hal::idcard::sim {

void WireScheduler::add(const Exchange& exchange, Clock::time_point request_end) {
  bool first = true;
  for (const auto& transmission : exchange.transmissions) {
    Pending pending;
    if (first) pending.anchor = request_end;
    pending.wait = transmission.wait;
    pending.bytes = transmission.bytes;
    queue_.push_back(std::move(pending));
    first = false;
  }
}

std::optional<WireScheduler::Clock::time_point> WireScheduler::pump(Clock::time_point now, const Writer& write) {
  while (!queue_.empty()) {
    Pending& head = queue_.front();
    if (!head_start_) {
      // A half-duplex SAM answers one request at a time: never before the line is free.
      const auto ready = std::chrono::time_point_cast<Clock::duration>(head.anchor.value_or(line_free_) + head.wait);
      head_start_ = std::max(ready, line_free_);
      head_sent_ = 0;
    }
    if (now < *head_start_) return *head_start_;

    const std::size_t due = std::min(head.bytes.size(), bytes_due(now - *head_start_, baud_));
    if (due > head_sent_) {
      head_sent_ += write(std::span(head.bytes).subspan(head_sent_, due - head_sent_));
    }
    if (head_sent_ < head.bytes.size()) {
      const auto last_byte_due =
          *head_start_ + std::chrono::duration_cast<Clock::duration>(wire_time(head.bytes.size(), baud_));
      return std::min(now + kChunkInterval, std::max(last_byte_due, now + std::chrono::microseconds{50}));
    }
    line_free_ = *head_start_ + std::chrono::duration_cast<Clock::duration>(wire_time(head.bytes.size(), baud_));
    head_start_.reset();
    queue_.pop_front();
  }
  return std::nullopt;
}

void WireScheduler::clear() {
  queue_.clear();
  head_start_.reset();
  head_sent_ = 0;
}

}  // namespace kiosk::hal::idcard::sim
